"""Fit the latency model to published per-country latency, and check it country by country.

:func:`calibrate` and :func:`validate` answer: does skyfence's RTT for a country's customers
match what the operator publishes? Both

1. read the published figures (:func:`load_published`: Starlink's per-country p50 and its
   ``worse20``/``better20`` percentiles, by ISO alpha-3 or alpha-2 code),
2. pick each country's **representative places** (:func:`representative_places`): the
   GeoIP cities of the customer table, one place per PoP a city's customers are homed on
   (the table's ``pops`` column, ``code:count;...``), weighted by that PoP's number of
   subnets; a city placed more than :data:`MISPLACED_KM` outside its own country's outline
   (a GeoIP error) is moved to the country's representative point; a country with no city
   in the table is represented by that point (homed on the nearest listed place's PoP); a
   country with neither is left out and listed as such,
3. load the constellation once, propagate it once over a window of sample slots (default:
   one 15-s slot every 30 minutes over a day, :data:`WINDOW`), and route every place in one
   network step per slot.

:func:`calibrate` runs that for every candidate structure (inference radius × route factor
× delay per laser hop), fits the rest (overhead, scheduling delay), cross-validates the whole
fit over ``folds`` groups of countries and writes a model file. :func:`validate` runs one
model and reports predicted against published percentiles, MAE, bias and rank correlation,
with an optional scatter plot and world map of the error.
"""

from __future__ import annotations

import hashlib
import os
import time as time_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.app._progress import ProgressCallback, stages
from skyfence.app.context import App
from skyfence.app.network import NetworkSpec, check_sat_steps, load_constellation, load_sites
from skyfence.app.published_latency import (
    MISPLACED_KM,
    CountryPlace,
    PublishedLatency,
    load_published,
    representative_places,
)
from skyfence.errors import InputError

if TYPE_CHECKING:
    from skyfence.ground import GroundSites
    from skyfence.links import NetworkModel, PopMap
    from skyfence.links.calibration import NamedLatencyModel, Structure

__all__ = [
    "DEFAULT_GRID",
    "MISPLACED_KM",
    "WINDOW",
    "CalibrationRun",
    "CountryPlace",
    "CountryResult",
    "PublishedLatency",
    "ValidationReport",
    "calibrate",
    "load_published",
    "representative_places",
    "validate",
]

#: The sample window: start, duration and spacing (s) of the slots the figures are taken over.
WINDOW = ("2026-02-22T00:00:00Z", 86_400.0, 1_800.0)
#: Most fold assignments :func:`calibrate` cross-validates with (``repeats``).
MAX_REPEATS = 20
#: Candidate structures of :func:`calibrate`: inference radius (km; ``None`` = off), fibre
#: route factor, delay per laser hop (ms per round trip), gateway elevation mask (deg).
DEFAULT_GRID: dict[str, tuple[Any, ...]] = {
    "infer_radius_km": (None, 150.0, 300.0),
    "route_factor": (1.0, 1.3, 1.6),
    "laser_hop_ms": (0.0, 1.0, 2.0),
    "gateway_min_elevation_deg": (25.0, 35.0, 45.0),
}


# ----------------------------------------------------------------------------- runs
@dataclass
class _Setup:
    """What every run shares: the network inputs, the places and the propagated window."""

    constellation: Any
    eph: Any
    listed: GroundSites
    pops: GroundSites
    pop_map: PopMap | None
    places: list[CountryPlace]
    skipped: dict[str, str]
    published: list[PublishedLatency]
    terminals: GroundSites
    home_code: np.ndarray
    topology: Any = None
    load_s: float = 0.0


def _setup(
    app: App,
    metrics: str | Path,
    network: NetworkSpec,
    window: tuple[str, float, float],
    progress: ProgressCallback | None,
) -> _Setup:
    from skyfence.ground import GroundSites
    from skyfence.timeutil import parse_time, time_grid

    t0 = time_module.perf_counter()
    published = load_published(metrics)
    start, duration_s, step_s = window
    if not (np.isfinite(duration_s) and duration_s >= 0 and np.isfinite(step_s) and step_s > 0):
        raise InputError(
            f"the window must be >= 0 s long with a step > 0 s, got {duration_s:g}, {step_s:g}"
        )
    times = time_grid(parse_time(start), duration_s, step_s)
    if network.planned:
        raise InputError(
            "calibration and validation need the operator's gateway list (--gateways FILE); "
            "the planned gateways are a planning model"
        )
    listed, pops, pop_map = load_sites(network)
    assert listed is not None
    places, skipped = representative_places([p.iso2 for p in published], network.pop_map, app.world)
    if not places:
        raise InputError("no country of --metrics has a representative place")
    c = load_constellation(app, network.constellation, skip_invalid=network.skip_invalid)
    check_sat_steps(len(c), len(times))
    eph = c.propagate(times, progress=progress)
    terminals = GroundSites.from_arrays(
        [p.latitude_deg for p in places], [p.longitude_deg for p in places],
        name=[p.name for p in places], country=[p.iso2 for p in places],
    )  # fmt: skip
    return _Setup(
        c, eph, listed, pops, pop_map, places, skipped, published, terminals,
        np.asarray([p.pop for p in places], dtype=object),
        load_s=time_module.perf_counter() - t0,
    )  # fmt: skip


def _inferred(setup: _Setup, radius_km: float | None) -> GroundSites:
    from skyfence.ground.inference import infer_gateways

    if radius_km is None or setup.pop_map is None:
        return setup.listed.subset(np.zeros(len(setup.listed), bool))
    return infer_gateways(
        setup.listed, setup.pops, serving=setup.pop_map.serves(setup.pops),
        licensed_countries=setup.pop_map.countries(), radius_km=radius_km,
    )  # fmt: skip


def _model(
    setup: _Setup, gateways: GroundSites, latency: Any, gateway_min_elevation_deg: float | None
) -> NetworkModel:
    from skyfence.links import NetworkModel
    from skyfence.links.calibration import DEFAULT_GATEWAY_MIN_ELEVATION_DEG

    mask = gateway_min_elevation_deg
    model = NetworkModel(
        setup.constellation, gateways, setup.pops, latency=latency, pop_map=setup.pop_map,
        topology=setup.topology,
        gateway_min_elevation_deg=DEFAULT_GATEWAY_MIN_ELEVATION_DEG if mask is None else mask,
    )  # fmt: skip
    if setup.topology is None:
        setup.topology = model.topology(setup.eph.positions_ecef_km[:, 0, :])
    return model


def _home(setup: _Setup, model: NetworkModel) -> np.ndarray:
    home = model.home_pops(setup.terminals)
    ids = {str(v).lower(): i for i, v in enumerate(setup.pops.id)}
    coded = np.asarray([ids.get(str(c), -1) for c in setup.home_code], dtype=np.int64)
    return np.where(coded >= 0, coded, home)


def _run(
    setup: _Setup, model: NetworkModel, progress: ProgressCallback | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(rtt_ms (N, T), gateway (N, T))`` of every place at every sample slot."""
    T = len(setup.eph.times)
    N = len(setup.terminals)
    rtt = np.full((N, T), np.nan)
    gw = np.full((N, T), -1, np.int64)
    home = _home(setup, model)
    for i in range(T):
        res = model.step(setup.eph, i, setup.terminals, home_pop=home)
        rtt[:, i] = res.rtt_ms
        gw[:, i] = res.gateway
        if progress is not None:
            progress(i + 1, T)
    return rtt, gw


def _by_country(setup: _Setup, per_place: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Group (N, T) place samples into (C, M) country samples with weights (each place's
    customer weight spread over its slots); countries in the order of the published file."""
    order = [p.iso2 for p in setup.published if p.iso2 not in setup.skipped]
    iso = np.asarray([p.iso2 for p in setup.places])
    w_place = np.asarray([p.weight for p in setup.places], dtype=np.float64)
    T = per_place.shape[1]
    groups = [np.flatnonzero(iso == c) for c in order]
    M = max(len(g) for g in groups) * T
    vals = np.full((len(order), M), np.nan)
    wts = np.zeros((len(order), M))
    for k, g in enumerate(groups):
        vals[k, : len(g) * T] = per_place[g].reshape(-1)
        wts[k, : len(g) * T] = np.repeat(w_place[g] / w_place[g].sum() / T, T)
    return order, vals, wts


def _published(setup: _Setup, order: Sequence[str]) -> np.ndarray:
    by = {p.iso2: p for p in setup.published}
    return np.asarray([[by[c].p20_ms, by[c].p50_ms, by[c].p80_ms] for c in order])


def _sha256(path: str | Path | None) -> str | None:
    if path is None or not Path(path).expanduser().is_file():
        return None
    return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- validate
@dataclass(frozen=True)
class CountryResult:
    """Predicted against published percentiles of one country (ms; ``p80`` = the slow end)."""

    iso3: str
    iso2: str
    name: str
    places: list[str]
    how: str
    predicted_p20_ms: float | None
    predicted_p50_ms: float | None
    predicted_p80_ms: float | None
    published_p20_ms: float | None
    published_p50_ms: float | None
    published_p80_ms: float | None
    error_p50_ms: float | None
    inferred_gateway_share: float
    gateways: list[str]


@dataclass
class ValidationReport:
    """Per-country predicted vs published latency and the summary scores."""

    model: str
    model_source: str
    infer_gateways: bool
    window: dict[str, Any]
    countries: list[CountryResult]
    skipped: dict[str, str]
    summary: dict[str, Any]
    inferred_gateways: list[dict[str, Any]]
    timing: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "model_source": self.model_source,
            "infer_gateways": self.infer_gateways, "window": self.window,
            "summary": self.summary, "countries": self.countries, "skipped": self.skipped,
            "inferred_gateways": self.inferred_gateways, "timing": self.timing,
            "files": self.files,
        }  # fmt: skip


def _r(v: float) -> float | None:
    return round(float(v), 2) if np.isfinite(v) else None


def _country_results(
    setup: _Setup,
    order: Sequence[str],
    predicted: np.ndarray,
    published: np.ndarray,
    gw_per_place: np.ndarray | None,
    gateways: GroundSites | None,
) -> list[CountryResult]:
    by = {p.iso2: p for p in setup.published}
    out = []
    for k, code in enumerate(order):
        idx = [i for i, p in enumerate(setup.places) if p.iso2 == code]
        hows = sorted({setup.places[i].how for i in idx})
        share, used = 0.0, []
        if gw_per_place is not None and gateways is not None:
            g = gw_per_place[idx].reshape(-1)
            g = g[g >= 0]
            if len(g):
                share = float(np.mean(gateways.inferred[g]))
                ids, counts = np.unique(g, return_counts=True)
                used = [
                    str(gateways.id[i]) + (" (inferred)" if gateways.inferred[i] else "")
                    for i in ids[np.argsort(-counts, kind="stable")][:3]
                ]
        pr, pu = predicted[k], published[k]
        out.append(CountryResult(
            by[code].iso3, code, by[code].name, list(dict.fromkeys(setup.places[i].name for i in idx)),
            "+".join(hows), _r(pr[0]), _r(pr[1]), _r(pr[2]), _r(pu[0]), _r(pu[1]), _r(pu[2]),
            _r(pr[1] - pu[1]), round(share, 3), used,
        ))  # fmt: skip
    return out


def validate(
    app: App,
    metrics: str | Path,
    *,
    network: NetworkSpec,
    window: tuple[str, float, float] = WINDOW,
    plot: str | Path | None = None,
    world_map: str | Path | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> ValidationReport:
    """Run the network's latency model at every country's places and compare with ``metrics``.

    ``network`` names the constellation, the gateway list, PoPs, the customer table (PoP map)
    and the latency model (``network.latency_model``, ``network.infer_gateways``). ``plot``
    (a scatter of predicted against published medians) and ``world_map`` (the error per
    country on a world map) are PNG files, refused if they exist unless ``overwrite``.
    """
    from skyfence.analysis.report import check_output_file
    from skyfence.ground.inference import with_inferred_gateways
    from skyfence.links.calibration import LEVELS, load_latency_model, scores_by_level
    from skyfence.timeutil import datetime64_to_iso

    t_start = time_module.perf_counter()
    named = load_latency_model(network.latency_model)
    if not network.infer_gateways:
        named = named.without_inference()
    outs = [
        check_output_file(f, suffixes=(".png",), overwrite=overwrite, option=opt)
        for f, opt in ((plot, "--plot"), (world_map, "--map"))
        if f is not None
    ]
    propagating, routing = stages(progress, [1, 4])
    setup = _setup(app, metrics, network, window, propagating)
    inferred = _inferred(setup, named.infer_radius_km)
    gateways = with_inferred_gateways(setup.listed, inferred)
    model = _model(setup, gateways, named.latency, named.gateway_min_elevation_deg)
    t_run = time_module.perf_counter()
    rtt, gw = _run(setup, model, routing)
    run_s = time_module.perf_counter() - t_run
    order, vals, wts = _by_country(setup, rtt)
    lat = named.latency
    predicted = lat.rtt_percentiles(vals, LEVELS, weights=wts)
    published = _published(setup, order)
    countries = _country_results(setup, order, predicted, published, gw, gateways)
    summary = scores_by_level(predicted, published)
    used = set(gw[gw >= 0].tolist())
    inferred_rows = [
        r | {"used": (len(setup.listed) + i) in used} for i, r in enumerate(inferred.to_records())
    ]
    report = ValidationReport(
        model=named.label, model_source=named.source, infer_gateways=named.infers_gateways,
        window={
            "start": datetime64_to_iso(setup.eph.times[0]), "duration_s": float(window[1]),
            "step_s": float(window[2]), "slots": len(setup.eph.times),
        },
        countries=countries, skipped=setup.skipped, summary=summary,
        inferred_gateways=inferred_rows,
        timing={
            "total_s": 0.0, "load_and_propagate_s": round(setup.load_s, 2),
            "routing_s": round(run_s, 2), "places": len(setup.places),
            "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0,
        },
    )  # fmt: skip
    if outs:
        from skyfence.analysis.fidelity import fidelity_map_figure, fidelity_scatter_figure
        from skyfence.analysis.maps import save_png

        k = 0
        if plot is not None:
            fig = fidelity_scatter_figure(
                [r.iso3 for r in countries], [r.published_p50_ms for r in countries],
                [r.predicted_p50_ms for r in countries], summary["p50"],
                title=f"{named.label}: predicted vs published median RTT",
            )  # fmt: skip
            report.files["plot"] = str(save_png(fig, outs[k]))
            k += 1
        if world_map is not None:
            err = {r.iso2: r.error_p50_ms for r in countries}
            fig = fidelity_map_figure(
                [p.latitude_deg for p in setup.places], [p.longitude_deg for p in setup.places],
                [err.get(p.iso2) for p in setup.places], app.world,
                title=f"{named.label}: error of the median RTT per country",
            )  # fmt: skip
            report.files["map"] = str(save_png(fig, outs[k]))
    report.timing["total_s"] = round(time_module.perf_counter() - t_start, 2)
    return report


# ----------------------------------------------------------------------------- calibrate
@dataclass
class CalibrationRun:
    """A fitted model, its cross-validated figures and where it was written."""

    model: NamedLatencyModel
    out: Path | None
    cross_validation: list[CountryResult]
    timing: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(), "out": str(self.out) if self.out else None,
            "cross_validation_countries": self.cross_validation, "timing": self.timing,
        }  # fmt: skip


def _grid_structures(grid: Mapping[str, Sequence[Any]]) -> list[Structure]:
    from skyfence.links.calibration import structures

    unknown = set(grid) - set(DEFAULT_GRID)
    if unknown:
        raise InputError(
            f"unknown grid parameter {sorted(unknown)[0]!r}; use {', '.join(DEFAULT_GRID)}"
        )
    g = DEFAULT_GRID | dict(grid)
    for r in g["infer_radius_km"]:
        if r is not None and not (np.isfinite(r) and r > 0):
            raise InputError(f"inference radii must be > 0 km (or None), got {r}")
    for f in g["route_factor"]:
        if not (np.isfinite(f) and f >= 1.0):
            raise InputError(f"route factors must be >= 1, got {f}")
    for h in g["laser_hop_ms"]:
        if not (np.isfinite(h) and h >= 0.0):
            raise InputError(f"laser hop delays must be >= 0 ms, got {h}")
    for m in g["gateway_min_elevation_deg"]:
        if not (np.isfinite(m) and 0.0 <= m < 90.0):
            raise InputError(f"gateway elevation masks must be within 0..90 deg, got {m}")
    return structures(
        g["infer_radius_km"], g["route_factor"], g["laser_hop_ms"], g["gateway_min_elevation_deg"]
    )


def calibrate(
    app: App,
    metrics: str | Path,
    *,
    network: NetworkSpec,
    out: str | Path | None,
    name: str = "calibrated",
    version: str = "1",
    folds: int = 10,
    seed: int = 0,
    repeats: int = 1,
    grid: Mapping[str, Sequence[Any]] | None = None,
    window: tuple[str, float, float] = WINDOW,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> CalibrationRun:
    """Fit a latency model to the published latency of ``metrics`` and write it to ``out``.

    Every candidate structure of ``grid`` (default :data:`DEFAULT_GRID`) is run once over the
    sample window; :func:`skyfence.links.calibration.fit` chooses among them and fits the
    overhead and the scheduling delay; :func:`~skyfence.links.calibration.cross_validate`
    repeats the fit inside each of ``folds`` groups of countries (seeded), so the figures in
    the model file are out of sample. With ``repeats`` > 1 the cross-validation is also run
    for the fold assignments of seeds ``seed + 1``, ... (:func:`~skyfence.links.calibration.
    repeated_cross_validation`), and the file also records the figures of every assignment
    and their mean and range. ``out`` is refused if it exists, unless ``overwrite``.
    """
    from skyfence.analysis.report import check_output_file
    from skyfence.ground.inference import with_inferred_gateways
    from skyfence.links import LatencyModel
    from skyfence.links.calibration import (
        CountryData,
        NamedLatencyModel,
        fit,
        repeated_cross_validation,
        scores_by_level,
        screen_quantiles,
    )
    from skyfence.timeutil import datetime64_to_iso

    t_start = time_module.perf_counter()
    if not name.strip() or not version.strip():
        raise InputError("the model needs a name and a version (--name, --version)")
    cands = _grid_structures(grid or {})
    out_path = None
    if out is not None:
        out_path = check_output_file(out, suffixes=(".json",), overwrite=overwrite, option="--out")
    n_pub = len(load_published(metrics))
    if not (isinstance(folds, int) and 2 <= folds <= n_pub):
        raise InputError(
            f"--folds must be within 2..{n_pub} (the countries of --metrics), got {folds}"
        )
    if not (isinstance(repeats, int) and 1 <= repeats <= MAX_REPEATS):
        raise InputError(
            f"--repeats must be a whole number within 1..{MAX_REPEATS} (fold assignments), "
            f"got {repeats}"
        )
    propagating, running, fitting = stages(progress, [1, 12, 1 + repeats])
    setup = _setup(app, metrics, network, window, propagating)
    base: dict[Structure, np.ndarray] = {}
    cache: dict[tuple[Any, ...], np.ndarray] = {}
    order: list[str] = []
    wts = np.zeros((0, 0))
    inferred_sets = {r: _inferred(setup, r) for r in {s.infer_radius_km for s in cands}}
    for k, s in enumerate(cands):
        inf = inferred_sets[s.infer_radius_km]
        key = (tuple(inf.id.tolist()), s.route_factor, s.laser_hop_ms, s.gateway_min_elevation_deg)
        if key not in cache:
            lat = LatencyModel(
                route_factor=s.route_factor, overhead_ms=0.0, laser_hop_ms=s.laser_hop_ms,
                backbone=True,
            )  # fmt: skip
            model = _model(
                setup, with_inferred_gateways(setup.listed, inf), lat, s.gateway_min_elevation_deg
            )
            rtt, _ = _run(setup, model)
            order, cache[key], wts = _by_country(setup, rtt)
        base[s] = cache[key]
        if running is not None:
            running(k + 1, len(cands))
    published = _published(setup, order)
    data = CountryData(np.asarray(order), published, base, wts)
    t_fit = time_module.perf_counter()
    # one screen for every fold and the final fit; the first assignment (``seed``) gives the
    # file's own figures, the others only their spread
    table = screen_quantiles(data)
    repeated, preds = repeated_cross_validation(
        data, folds, range(seed, seed + repeats), screen=table,
        progress=None if fitting is None else (lambda k, _n: fitting(k, repeats + 1)),
    )  # fmt: skip
    cv_pred = preds[0]
    final = fit(data, table)
    if fitting is not None:
        fitting(repeats + 1, repeats + 1)
    latency = final.latency(backbone=True)
    cv = scores_by_level(cv_pred, published)
    in_sample = scores_by_level(
        latency.rtt_percentiles(data.base_ms[final.structure] + latency.slot_delay_ms, weights=wts),
        published,
    )
    cv_rows = _country_results(setup, order, cv_pred, published, None, None)
    s = final.structure
    named = NamedLatencyModel(
        name=name.strip(), version=version.strip(), latency=latency,
        infer_radius_km=s.infer_radius_km,
        gateway_min_elevation_deg=s.gateway_min_elevation_deg,
        description=f"fitted by skyfence links calibrate to {Path(metrics).name}",
        parameters=_parameter_rows(latency, s.infer_radius_km, s.gateway_min_elevation_deg),
        fitted_on={
            "metrics": {"file": Path(metrics).name, "sha256": _sha256(metrics), "countries": len(order),
                        "codes": [p.iso3 for p in setup.published if p.iso2 in set(order)]},
            "left_out": {_iso3(setup, c): why for c, why in setup.skipped.items()},
            "constellation": {"spec": Path(network.constellation).name, "sha256": _sha256(network.constellation),
                              "satellites": len(setup.constellation)},
            "gateways": {"file": Path(str(network.gateways)).name, "sha256": _sha256(network.gateways),
                         "listed": len(setup.listed)},
            "pops": {"file": None if network.pops is None else Path(network.pops).name,
                     "sha256": _sha256(network.pops), "count": len(setup.pops)},
            "pop_map": {"file": None if network.pop_map is None else Path(network.pop_map).name,
                        "sha256": _sha256(network.pop_map)},
            "window": {"start": datetime64_to_iso(setup.eph.times[0]), "duration_s": float(window[1]),
                       "step_s": float(window[2]), "slots": len(setup.eph.times)},
            "grid": {k: list(v) for k, v in (DEFAULT_GRID | dict(grid or {})).items()},
            "rule": "min-rtt",
        },
        cross_validation={
            "folds": folds, "seed": seed, "scores": cv, "in_sample": in_sample,
            **({"repeats": repeated} if repeats > 1 else {}),
            "countries": [
                {"iso3": r.iso3, "published_p50_ms": r.published_p50_ms,
                 "predicted_p50_ms": r.predicted_p50_ms, "error_p50_ms": r.error_p50_ms}
                for r in cv_rows
            ],
        },
    )  # fmt: skip
    if out_path is not None:
        named.save(out_path)
    timing = {
        "total_s": round(time_module.perf_counter() - t_start, 2),
        "fit_s": round(time_module.perf_counter() - t_fit, 2),
        "network_runs": len(cache),
    }
    return CalibrationRun(named, out_path, cv_rows, timing)


def _iso3(setup: _Setup, iso2: str) -> str:
    return next((p.iso3 for p in setup.published if p.iso2 == iso2), iso2)


def _parameter_rows(
    latency: Any, radius_km: float | None, gateway_mask_deg: float
) -> list[dict[str, Any]]:
    sch = latency.scheduling
    return [
        {"name": "overhead_ms", "value": latency.overhead_ms, "unit": "ms per round trip", "fitted": True,
         "note": "fixed processing in dish, satellites, gateway and PoP"},
        {"name": "scheduling_median_ms", "value": sch.median_ms, "unit": "ms per round trip", "fitted": True,
         "note": "median of the per-slot log-normal scheduling delay (15-s reassignment, MAC)"},
        {"name": "scheduling_sigma", "value": sch.sigma, "unit": "1 (log space)", "fitted": True,
         "note": "spread of the per-slot scheduling delay; p80/p50 = exp(0.8416 sigma)"},
        {"name": "route_factor", "value": latency.route_factor, "unit": "1", "fitted": True,
         "note": "fibre length / great-circle length, gateway to PoP and PoP to PoP"},
        {"name": "laser_hop_ms", "value": latency.laser_hop_ms, "unit": "ms per hop per round trip",
         "fitted": True, "note": "switching in each satellite a laser path crosses"},
        {"name": "infer_radius_km", "value": radius_km, "unit": "km", "fitted": True,
         "note": "a serving PoP without a listed gateway this close gets an inferred one"},
        {"name": "gateway_min_elevation_deg", "value": gateway_mask_deg, "unit": "deg", "fitted": True,
         "note": "a gateway talks only to satellites at least this high above its horizon"},
        {"name": "fibre_index", "value": latency.fibre_index, "unit": "1", "fitted": False,
         "note": "group index of G.652 single-mode fibre"},
        {"name": "backbone", "value": latency.backbone, "unit": "-", "fitted": False,
         "note": "gateway -> nearest serving PoP -> PoP-to-PoP backbone -> home PoP"},
    ]  # fmt: skip
