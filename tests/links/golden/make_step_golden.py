"""Writes ``step_golden.npz``: network-step results recorded with the code of the commit that
added it (before ``NetworkModel.step`` was split into stages), used by ``test_step_golden.py``.

Everything the step reads is stored in the file (satellite positions, terminals, gateways,
PoPs), so later changes to propagation or to the built-in tables do not move the reference.
Run from the repository root: ``.venv/bin/python tests/links/golden/make_step_golden.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skyfence.ground import GroundSites
from skyfence.links import LandingConstraint, NetworkModel, PopMap, SatelliteLayout
from skyfence.orbits import Constellation, ShellInfo

HERE = Path(__file__).parent
FIELDS = ("serving_sat", "gateway", "pop", "isl_hops", "elevation_deg", "range_km", "rtt_ms",
          "rtt_space_ms", "rtt_fibre_ms", "rtt_overhead_ms", "status")  # fmt: skip


def inputs() -> dict[str, np.ndarray]:
    c = Constellation.from_shells([ShellInfo("golden", 550.0, 53.0, 22, 40, 17)])
    eph = c.propagate(np.array([np.datetime64("2026-02-22T12:00:00", "ns")]))
    rng = np.random.default_rng(2026)
    n, g, p = 200, 40, 8
    s = np.sin(np.radians(58.0))
    return {
        "positions_ecef_km": eph.at(0),
        "planes": np.array([22]), "sats_per_plane": np.array([40]),
        "term_lat": np.degrees(np.arcsin(rng.uniform(-s, s, n))),
        "term_lon": rng.uniform(-180, 180, n),
        "term_country": rng.choice(["A", "B", "C"], n),
        "gw_lat": np.degrees(np.arcsin(rng.uniform(-s, s, g))),
        "gw_lon": rng.uniform(-180, 180, g),
        "gw_country": rng.choice(["A", "B", "C"], g),
        "pop_lat": rng.uniform(-50, 50, p), "pop_lon": rng.uniform(-180, 180, p),
        "pop_country": np.array(["A", "B", "C", "A", "B", "C", "A", "B"]),
        "map_lat": rng.uniform(-55, 55, 30), "map_lon": rng.uniform(-180, 180, 30),
        "map_pop": rng.integers(0, p, 30),
    }  # fmt: skip


def configurations(d: dict[str, np.ndarray]):
    """``(name, model, step keyword arguments)`` for each recorded step."""
    layout = SatelliteLayout.walker([(int(d["planes"][0]), int(d["sats_per_plane"][0]))])
    term = GroundSites.from_arrays(d["term_lat"], d["term_lon"], country=d["term_country"])
    gw = GroundSites.from_arrays(d["gw_lat"], d["gw_lon"], kind="gateway", country=d["gw_country"])
    pops = GroundSites.from_arrays(d["pop_lat"], d["pop_lon"], kind="pop", country=d["pop_country"])
    pop_map = PopMap(d["map_lat"], d["map_lon"], np.asarray([f"pop-{i}" for i in d["map_pop"]]))
    isl = NetworkModel(layout, gw, pops)
    bent = NetworkModel(layout, gw, pops, use_isls=False)
    mapped = NetworkModel(layout, gw, pops, pop_map=pop_map, max_backhaul_km=4000.0)
    by_country = LandingConstraint.by_country(term, gw, pops, countries=["A", "B"])
    vis = isl.terminal_visibility(d["positions_ecef_km"], term)
    rank = ((vis.site * 7919 + vis.sat * 104729) % 1009) / 1009.0  # any route-free score
    return term, [
        ("min-rtt", isl, {}),
        ("max-elevation", isl, {"selection": "max-elevation"}),
        ("bent-pipe", bent, {}),
        ("bent-pipe-max-elevation", bent, {"selection": "max-elevation"}),
        ("landing", mapped, {"constraint": by_country}),
        ("landing-max-elevation", mapped, {"constraint": by_country, "selection": "max-elevation"}),
        ("pair-rank", isl, {"visible": vis, "pair_rank": rank}),
        ("bent-pipe-pair-rank", bent, {"visible": vis, "pair_rank": rank, "constraint": by_country}),
    ]  # fmt: skip


def main() -> None:
    d = inputs()
    term, configs = configurations(d)
    out = dict(d)
    for name, model, kw in configs:
        res = model.step(d["positions_ecef_km"], None, term, **kw)
        for f in FIELDS:
            out[f"{name}/{f}"] = getattr(res, f)
    v = configs[0][1].terminal_visibility(d["positions_ecef_km"], term)
    out.update(visible_site=v.site, visible_sat=v.sat, visible_elevation_deg=v.elevation_deg)
    out.update(visible_range_km=v.range_km)
    np.savez_compressed(HERE / "step_golden.npz", **out)


if __name__ == "__main__":
    main()
