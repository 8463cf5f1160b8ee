"""Why the remote islands are slower than the latency model: their paths, and two candidate
mechanisms scored by cross-validation (docs/fidelity.md, "The remote islands").

    .venv/bin/python scripts/fidelity_islands.py [--data ../shared/data] [--model starlink-2026-03c]

1. Routes every representative place with the model over the sample window (as ``links
   validate`` does) and prints, for the countries with the largest error of the median, what
   the path is made of: the home PoP and its distance, the nearest gateway (listed or
   inferred), the gateway the traffic lands at, laser hops, space and fibre RTT.
2. Scores two general mechanisms, each one extra delay added to a slot after routing (no
   route changes, one free parameter chosen from a grid inside every fold):

   * ``beyond-reach``: a terminal farther from every gateway than one satellite can bridge
     (terminal reach at its 25-degree mask + gateway reach at the model's gateway mask) sends
     all its traffic over lasers; ``a`` ms per 1,000 km beyond that distance (the queueing
     of a region that has no downlink of its own);
   * ``laser-only``: a constant ``a`` ms for every slot whose path uses a laser.

   Both are compared with the model's own structure held fixed (so the comparison isolates
   the mechanism; the structure was chosen on all countries, so these are not the model's
   honest cross-validated figures): 10 folds, seed 0, the same loss as ``links calibrate``.
   The ten countries whose out-of-sample error the first rule moves most are listed.
   With ``--first-generation-laserless`` every network run of the script plans no lasers on
   Starlink's first-generation satellites (:func:`skyfence.links.first_generation`), and
   ``--calibrate`` then also runs the whole ``links calibrate`` grid that way and prints its
   cross-validated figures (docs/fidelity.md, "The first-generation satellites have no lasers").
3. With ``--selection``: runs the whole grid of ``links calibrate`` (81 network runs) and
   cross-validates, for each fold assignment of ``--seeds``, other rules for choosing the
   structure inside a fold: by an inner 5-fold cross-validation of the screen (instead of its
   training error), by refining the 4 best structures of the screen and keeping the best
   refined one, by the structure chosen most often over bootstrap resamples of the training
   countries; then ``links calibrate``'s rule followed by a per-PoP offset learned from the
   training countries; and, as the bound no choosing rule can beat honestly, the structure
   chosen on all countries held in every fold.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skyfence.app import calibration as cal
from skyfence.app.context import App
from skyfence.app.network import NetworkSpec
from skyfence.geodesy import great_circle_km
from skyfence.ground.inference import with_inferred_gateways
from skyfence.links.calibration import (
    _LEVEL_WEIGHTS,
    _NO_ROUTE_MS,
    LEVELS,
    CountryData,
    FitResult,
    Structure,
    _overhead,
    cross_validate,
    fit,
    fold_of,
    load_latency_model,
    predict,
    scores_by_level,
    screen_quantiles,
)

REPO = Path(__file__).resolve().parents[1]
EARTH_KM = 6371.0


@dataclass(frozen=True)
class _Variant(Structure):
    """The model's structure with one post-routing delay term (a key of ``CountryData``)."""

    term_ms: float = 0.0


def reach_km(altitude_km: float, mask_deg: float) -> float:
    """Ground distance from a site to the sub-satellite point of a satellite at
    ``altitude_km`` seen at ``mask_deg`` elevation (spherical Earth)."""
    e = np.radians(mask_deg)
    r = EARTH_KM / (EARTH_KM + altitude_km)
    return float(EARTH_KM * (np.arccos(r * np.cos(e)) - e))


def _first_generation_laserless() -> None:
    """Make every calibration setup plan its lasers without the first-generation satellites
    (the topology ``_model`` would build, from the same reference positions, minus them)."""
    from skyfence.links import SatelliteLayout, first_generation, plus_grid

    setup_fn = cal._setup

    def setup(*args, **kwargs):  # type: ignore[no-untyped-def]
        s = setup_fn(*args, **kwargs)
        c = s.constellation
        flag = first_generation(c.elements.international_designators, c.elements.inclination_deg)
        layout = SatelliteLayout.from_constellation(c)
        print(f"First generation (no lasers): {int(flag.sum())} satellites, "
              f"{int((flag & (layout.shell_id >= 0)).sum())} of them in a shell\n")  # fmt: skip
        s.topology = plus_grid(layout.without_lasers(flag), s.eph.positions_ecef_km[:, 0, :])
        return s

    cal._setup = setup


def _calibrate(data_dir: Path) -> None:
    net = NetworkSpec(
        constellation=str(data_dir / "starlink-2026-02-22.tle"),
        gateways=data_dir / "starlink-gateways.csv", pops=data_dir / "starlink-pops-2026.csv",
        pop_map=data_dir / "starlink-city-pops.csv",
    )  # fmt: skip
    run = cal.calibrate(App(), data_dir / "starlink-latency-2026-03.csv", network=net, out=None)
    m = run.model
    print("\n## links calibrate, first generation without lasers\n")
    print(f"structure {m.gateway_min_elevation_deg:g} deg, {m.infer_radius_km} km, "
          f"{m.latency.route_factor:g}, {m.latency.laser_hop_ms:g} ms; overhead "
          f"{m.latency.overhead_ms:.2f} ms, scheduling {m.latency.scheduling.median_ms:.2f} ms "
          f"sigma {m.latency.scheduling.sigma:.2f}\n")  # fmt: skip
    print("| | p20 MAE | p50 MAE | p80 MAE |\n|---|---:|---:|---:|")
    for k in ("scores", "in_sample"):
        sc = m.cross_validation[k]
        print(
            f"| {k} | " + " | ".join(f"{sc[p]['mae_ms']:.2f}" for p in ("p20", "p50", "p80")) + " |"
        )
    print("\n| country | CV error p50 |\n|---|---:|")
    for c in m.cross_validation["countries"]:
        if c["iso3"] in ("KIR", "MHL", "PCN", "SHN", "NRU", "WSM"):
            print(f"| {c['iso3']} | {c['error_p50_ms']:+.1f} |")


def _route(data: Path, model_name: str) -> dict:
    net = NetworkSpec(
        constellation=str(data / "starlink-2026-02-22.tle"),
        gateways=data / "starlink-gateways.csv", pops=data / "starlink-pops-2026.csv",
        pop_map=data / "starlink-city-pops.csv", latency_model=model_name,
    )  # fmt: skip
    setup = cal._setup(App(), data / "starlink-latency-2026-03.csv", net, cal.WINDOW, None)
    named = load_latency_model(model_name)
    gateways = with_inferred_gateways(setup.listed, cal._inferred(setup, named.infer_radius_km))
    model = cal._model(setup, gateways, named.latency, named.gateway_min_elevation_deg)
    home = cal._home(setup, model)
    shape = (len(setup.terminals), len(setup.eph.times))
    out = {k: np.full(shape, np.nan) for k in ("rtt", "space", "fibre", "hops", "gateway")}
    for i in range(shape[1]):
        r = model.step(setup.eph, i, setup.terminals, home_pop=home)
        out["rtt"][:, i], out["space"][:, i], out["fibre"][:, i] = (
            r.rtt_ms,
            r.rtt_space_ms,
            r.rtt_fibre_ms,
        )
        out["hops"][:, i], out["gateway"][:, i] = r.isl_hops, r.gateway
    lat = np.array([p.latitude_deg for p in setup.places])
    lon = np.array([p.longitude_deg for p in setup.places])
    g_lat, g_lon = np.asarray(gateways.latitude_deg), np.asarray(gateways.longitude_deg)
    out["nearest_gateway_km"] = great_circle_km(lat[:, None], lon[:, None], g_lat, g_lon).min(
        axis=1
    )
    pops = {str(c).lower(): i for i, c in enumerate(setup.pops.id)}
    out["pop_km"] = np.array([
        great_circle_km(la, lo, setup.pops.latitude_deg[pops[p.pop]], setup.pops.longitude_deg[pops[p.pop]])
        if p.pop in pops else np.nan for p, la, lo in zip(setup.places, lat, lon, strict=True)
    ])  # fmt: skip
    return {"setup": setup, "named": named, "gateways": gateways, **out}


def _paths(run: dict, worst: int, also: list[str]) -> None:
    setup, named = run["setup"], run["named"]
    order, vals, wts = cal._by_country(setup, run["rtt"])
    pred = named.latency.rtt_percentiles(vals, LEVELS, weights=wts)
    pub = cal._published(setup, order)
    err = pred[:, 1] - pub[:, 1]
    print(
        f"## The {worst} largest errors of the median, then {', '.join(also)} ({named.label}, in sample)\n"
    )
    print(
        "| country | place | home PoP | PoP km | nearest gateway km | lands at | laser hops "
        "| space RTT | fibre RTT | predicted p50 | published p50 | error |"
    )
    print("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    rows = list(np.argsort(-np.abs(err))[:worst])
    iso3 = [cal._iso3(setup, c) for c in order]
    rows += [iso3.index(c) for c in also if c in iso3 and iso3.index(c) not in rows]
    for k in rows:
        for i, p in enumerate(setup.places):
            if p.iso2 != order[k]:
                continue
            g = run["gateway"][i][run["gateway"][i] >= 0].astype(int)
            lands = str(run["gateways"].id[np.bincount(g).argmax()]) if len(g) else "-"
            print(
                f"| {cal._iso3(setup, p.iso2)} | {p.name} | {p.pop or '-'} | {run['pop_km'][i]:,.0f} "
                f"| {run['nearest_gateway_km'][i]:,.0f} | {lands} | {np.nanmedian(run['hops'][i]):.0f} "
                f"| {np.nanmedian(run['space'][i]):.1f} | {np.nanmedian(run['fibre'][i]):.1f} "
                f"| {pred[k, 1]:.1f} | {pub[k, 1]:.1f} | {err[k]:+.1f} |"
            )
    print()


def _score(run: dict, name: str, term: np.ndarray, grid: tuple[float, ...]) -> dict:
    """Cross-validate the model's structure with ``a * term`` added to every slot, ``a``
    chosen from ``grid`` inside each fold (0 = the model as it is)."""
    setup, named = run["setup"], run["named"]
    s = Structure(named.infer_radius_km, named.latency.route_factor, named.latency.laser_hop_ms,
                  named.gateway_min_elevation_deg or 25.0)  # fmt: skip
    base = run["rtt"] - named.latency.slot_delay_ms
    variants = {}
    for a in grid:
        order, vals, wts = cal._by_country(setup, base + a * term)
        variants[_Variant(*s.to_dict().values(), term_ms=a)] = vals
    data = CountryData(np.asarray(order), cal._published(setup, order), variants, wts)
    pred, fits = cross_validate(data, folds=10, seed=0)
    p50 = scores_by_level(pred, data.published)["p50"]
    chosen = [f.structure.term_ms for f in fits]  # type: ignore[attr-defined]
    print(
        f"| {name} | {', '.join(f'{a:g}' for a in grid)} | {p50['mae_ms']:.2f} | {p50['bias_ms']:+.2f} "
        f"| {p50['rank_correlation']:.3f} | {', '.join(f'{a:g}' for a in chosen)} |"
    )
    return {"order": order, "pred": pred, "published": data.published}


def _inner_cv_fit(d: CountryData, table: dict, k: int = 5) -> FitResult:
    """The structure and screen delay with the smallest inner ``k``-fold error, then refined."""
    pub, inner = d.published, fold_of(len(d.codes), k, 1)
    best: tuple[float, Structure] | None = None
    for s, q in table.items():
        for g in range(q.shape[0]):
            total = 0.0
            for j in range(k):
                c, _ = _overhead(q[g][inner != j], pub[inner != j])
                e = np.abs(pub[inner == j] - q[g][inner == j] - c) * _LEVEL_WEIGHTS
                ok = np.isfinite(q[g][inner == j]).all(axis=1)
                total += float(np.where(ok, np.nansum(e, axis=1), _NO_ROUTE_MS).sum())
            if best is None or total / len(pub) < best[0] - 1e-9:
                best = (total / len(pub), s)
    assert best is not None
    s = best[1]
    return fit(CountryData(d.codes, pub, {s: d.base_ms[s]}, d.weights), {s: table[s]})


def _top_fit(d: CountryData, table: dict, top: int = 4) -> FitResult:
    """Refine the ``top`` best structures of the screen; keep the smallest training error."""
    scored = sorted(
        (min(_overhead(q[g], d.published)[1] for g in range(q.shape[0])), i, s)
        for i, (s, q) in enumerate(table.items())
    )  # fmt: skip
    fits = [
        fit(CountryData(d.codes, d.published, {s: d.base_ms[s]}, d.weights), {s: table[s]})
        for _, _, s in scored[:top]
    ]  # fmt: skip
    return min(fits, key=lambda f: f.train_mae_ms)


def _bootstrap_vote_fit(d: CountryData, table: dict, draws: int = 40) -> FitResult:
    """The structure the screen chooses most often over ``draws`` bootstrap resamples of the
    training countries (a choice less moved by any one country), then refined."""
    rng, votes = np.random.default_rng(0), Counter()
    n = len(d.codes)
    for _ in range(draws):
        idx = rng.integers(0, n, n)
        scored = (
            (min(_overhead(q[g][idx], d.published[idx])[1] for g in range(q.shape[0])), i, s)
            for i, (s, q) in enumerate(table.items())
        )  # fmt: skip
        votes[min(scored)[2]] += 1
    s = votes.most_common(1)[0][0]
    return fit(CountryData(d.codes, d.published, {s: d.base_ms[s]}, d.weights), {s: table[s]})


def _held_fit(structure: Structure):  # type: ignore[no-untyped-def]
    def rule(d: CountryData, table: dict) -> FitResult:
        one = {structure: d.base_ms[structure]}
        return fit(CountryData(d.codes, d.published, one, d.weights), {structure: table[structure]})

    return rule


def _selection(data_dir: Path, seeds: list[int]) -> None:
    from skyfence.links import LatencyModel

    net = NetworkSpec(
        constellation=str(data_dir / "starlink-2026-02-22.tle"),
        gateways=data_dir / "starlink-gateways.csv", pops=data_dir / "starlink-pops-2026.csv",
        pop_map=data_dir / "starlink-city-pops.csv",
    )  # fmt: skip
    setup = cal._setup(App(), data_dir / "starlink-latency-2026-03.csv", net, cal.WINDOW, None)
    base, order, wts = {}, [], np.zeros((0, 0))
    for s in cal._grid_structures({}):
        lat = LatencyModel(route_factor=s.route_factor, overhead_ms=0.0,
                           laser_hop_ms=s.laser_hop_ms, backbone=True)  # fmt: skip
        gws = with_inferred_gateways(setup.listed, cal._inferred(setup, s.infer_radius_km))
        rtt, _ = cal._run(setup, cal._model(setup, gws, lat, s.gateway_min_elevation_deg))
        order, base[s], wts = cal._by_country(setup, rtt)
    data = CountryData(np.asarray(order), cal._published(setup, order), base, wts)
    table = screen_quantiles(data)
    # each country's share of subnets on each home PoP, for the per-PoP offset
    pops = sorted({p.pop for p in setup.places if p.pop})
    share = np.zeros((len(order), len(pops)))
    for p in setup.places:
        if p.pop:
            share[order.index(p.iso2), pops.index(p.pop)] += p.weight
    share /= np.maximum(share.sum(axis=1, keepdims=True), 1e-12)
    chosen_on_all = fit(data, table).structure
    print(
        f"\n## Rules for choosing the structure inside a fold (81 structures, 10 folds, "
        f"seeds {', '.join(map(str, seeds))})\n"
    )
    print(f"| rule | CV MAE p50, seed {' / '.join(map(str, seeds))} | mean |")
    print("|---|---|---:|")
    rules = (
        ("training error of the screen (links calibrate)", fit),
        ("inner 5-fold CV of the screen", _inner_cv_fit),
        ("refine the 4 best", _top_fit),
        ("the structure chosen most often over 40 bootstrap resamples", _bootstrap_vote_fit),
        ("links calibrate, then a per-PoP offset (shrunk mean of the training residuals, "
         "2 countries' weight at 0)", "pop"),
        ("held at the structure chosen on all countries (sees the held-out countries)",
         _held_fit(chosen_on_all)),
    )  # fmt: skip
    for name, rule in rules:
        maes = []
        for seed in seeds:
            fold = fold_of(len(order), 10, seed)
            pred = np.full((len(order), 3), np.nan)
            for k in range(10):
                te, tr = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
                sub, tab = data.subset(tr), {s: q[:, tr] for s, q in table.items()}
                f = fit(sub, tab) if rule == "pop" else rule(sub, tab)
                b = data.base_ms[f.structure]
                pred[te] = predict(b[te], data.weights[te], f.overhead_ms, f.scheduling)
                if rule == "pop":
                    p_tr = predict(b[tr], data.weights[tr], f.overhead_ms, f.scheduling)
                    res = data.published[tr, 1] - p_tr[:, 1]
                    offset = share[tr].T @ res / (share[tr].sum(axis=0) + 2.0)
                    pred[te] += (share[te] @ offset)[:, None]
            maes.append(scores_by_level(pred, data.published)["p50"]["mae_ms"])
        print(f"| {name} | {' / '.join(f'{m:.2f}' for m in maes)} | {np.mean(maes):.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--model", default="starlink-2026-03c")
    ap.add_argument("--worst", type=int, default=12)
    ap.add_argument("--selection", action="store_true", help="also score structure-choice rules")
    ap.add_argument("--seeds", default="0", help="fold assignments of --selection, e.g. 0,1,2,3,4")
    ap.add_argument(
        "--also", default="NRU,WSM,ASM,UMI,FSM,GUM",
        help="more countries (ISO alpha-3) to list: the islands of the same geometry",
    )  # fmt: skip
    ap.add_argument(
        "--first-generation-laserless",
        action="store_true",
        help="plan no lasers on Starlink's first-generation (v0.9/v1.0) satellites",
    )
    ap.add_argument(
        "--calibrate",
        action="store_true",
        help="with --first-generation-laserless: also run the links calibrate grid",
    )
    args = ap.parse_args()
    if args.first_generation_laserless:
        _first_generation_laserless()
    run = _route(args.data, args.model)
    _paths(run, args.worst, [c.strip().upper() for c in args.also.split(",") if c.strip()])
    named = run["named"]
    mask = named.gateway_min_elevation_deg or 25.0
    reach = reach_km(550.0, 25.0) + reach_km(550.0, mask)
    beyond = np.maximum(run["nearest_gateway_km"] - reach, 0.0)[:, None] / 1000.0
    laser = (run["hops"] > 0).astype(float)
    print(
        f"## Candidate mechanisms ({named.label}'s structure held fixed; bent-pipe reach "
        f"{reach:,.0f} km)\n"
    )
    print("| mechanism | grid of a (ms) | CV MAE p50 | bias | rank corr. | a chosen per fold |")
    print("|---|---|---:|---:|---:|---|")
    none = _score(run, "none (the model)", np.zeros_like(run["rtt"]), (0.0,))
    reach_rule = _score(
        run,
        "beyond-reach, a ms per 1,000 km",
        np.broadcast_to(beyond, run["rtt"].shape),
        (0.0, 2.0, 4.0, 6.0, 8.0),
    )
    _score(run, "laser-only, a ms per slot", laser, (0.0, 2.0, 4.0, 6.0))
    before = none["pred"][:, 1] - none["published"][:, 1]
    after = reach_rule["pred"][:, 1] - reach_rule["published"][:, 1]
    print("\n## Out-of-sample error of the median, beyond-reach rule against none (ms)\n")
    print("| country | none | beyond-reach | change |")
    print("|---|---:|---:|---:|")
    for k in np.argsort(-np.abs(after - before))[:10]:
        iso3 = cal._iso3(run["setup"], none["order"][k])
        print(f"| {iso3} | {before[k]:+.1f} | {after[k]:+.1f} | {after[k] - before[k]:+.1f} |")
    if args.selection:
        _selection(args.data, [int(x) for x in args.seeds.split(",") if x.strip()])
    if args.calibrate and args.first_generation_laserless:
        _calibrate(args.data)


if __name__ == "__main__":
    main()
