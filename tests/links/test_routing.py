"""Routing and latency: a hand-worked example, networkx on random graphs, lower bounds,
landing constraints, PoP homing."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from skyfence.errors import ConfigurationError, InputError
from skyfence.geodesy import SPEED_OF_LIGHT_KM_S, WGS84_A_KM
from skyfence.ground import GroundSites, default_pops, great_circle_km, load_sites
from skyfence.links import (
    STATUS_NO_SATELLITE,
    STATUS_OK,
    IslTopology,
    LandingConstraint,
    LatencyModel,
    NetworkModel,
    SatelliteLayout,
    load_pop_map,
)

C = SPEED_OF_LIGHT_KM_S
R_MEAN = (2 * 6378.137 + 6356.752314245) / 3


def test_hand_worked_bent_pipe():
    """One terminal under one satellite, one gateway 2° east, one PoP 4° east, on the equator."""
    a = WGS84_A_KM
    sat = np.array([[a + 550.0, 0.0, 0.0]])
    term = GroundSites.from_arrays([0.0], [0.0])
    gw = GroundSites.from_arrays([0.0], [2.0], kind="gateway")
    pop = GroundSites.from_arrays([0.0], [4.0], kind="pop")
    model = NetworkModel(SatelliteLayout.walker([(1, 1)]), gw, pop)
    res = model.step(sat, None, term)
    th = np.radians(2.0)
    up_km = 550.0
    down_km = np.hypot(a + 550.0 - a * np.cos(th), a * np.sin(th))  # law of cosines in the plane
    space_ms = 2 * (up_km + down_km) / C * 1000
    fibre_km = R_MEAN * np.radians(2.0) * 1.5
    fibre_ms = 2 * fibre_km / (C / 1.47) * 1000
    assert res.status[0] == STATUS_OK
    assert (res.serving_sat[0], res.gateway[0], res.pop[0], res.isl_hops[0]) == (0, 0, 0, 0)
    assert res.elevation_deg[0] == pytest.approx(90.0)
    assert res.range_km[0] == pytest.approx(550.0)
    assert res.rtt_space_ms[0] == pytest.approx(space_ms, rel=1e-12)
    assert res.rtt_fibre_ms[0] == pytest.approx(fibre_ms, rel=1e-9)
    assert res.rtt_overhead_ms[0] == 4.0
    assert res.rtt_ms[0] == pytest.approx(space_ms + fibre_ms + 4.0, rel=1e-12)
    assert res.path(0) == [("terminal", 0), ("sat", 0), ("gateway", 0), ("pop", 0)]
    # a terminal 20° away sees nothing
    far = GroundSites.from_arrays([0.0, 0.0], [0.0, 20.0])
    r2 = model.step(sat, None, far)
    assert r2.status.tolist() == [STATUS_OK, STATUS_NO_SATELLITE]
    assert np.isnan(r2.rtt_ms[1]) and r2.serving_sat[1] == -1


def random_network(seed: int):
    rng = np.random.default_rng(seed)
    S, G, P, N = 40, 6, 3, 60
    from skyfence.ground import geodetic_to_ecef_km

    sats = geodetic_to_ecef_km(
        rng.uniform(-25, 25, S), rng.uniform(-25, 25, S), rng.uniform(500, 600, S)
    )
    d = np.linalg.norm(sats[:, None] - sats[None], axis=2)
    iu = np.argwhere(np.triu(d < 2200, 1))
    edges = iu[rng.random(len(iu)) < 0.5]
    topo = IslTopology(edges.astype(np.int64), np.ones(len(edges), np.int8), S)
    gw = GroundSites.from_arrays(rng.uniform(-20, 20, G), rng.uniform(-20, 20, G), kind="gateway")
    pops = GroundSites.from_arrays(rng.uniform(-20, 20, P), rng.uniform(-20, 20, P), kind="pop")
    term = GroundSites.from_arrays(rng.uniform(-22, 22, N), rng.uniform(-22, 22, N))
    return sats, topo, gw, pops, term


def elevation(site: GroundSites, i: int, p: np.ndarray) -> float:
    lat, lon = np.radians(site.latitude_deg[i]), np.radians(site.longitude_deg[i])
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    v = p - site.ecef_km[i]
    return float(np.degrees(np.arcsin(v @ up / np.linalg.norm(v))))


@pytest.mark.parametrize("seed", range(6))
def test_equals_networkx(seed):
    sats, topo, gw, pops, term = random_network(seed)
    model = NetworkModel(SatelliteLayout.walker([(1, len(sats))]), gw, pops, topology=topo)
    res = model.step(sats, None, term)
    lat = LatencyModel()
    g = nx.DiGraph()
    for a, b in topo.edges:
        w = float(np.linalg.norm(sats[a] - sats[b]))
        g.add_edge(("s", a), ("s", b), weight=w)
        g.add_edge(("s", b), ("s", a), weight=w)
    for j in range(len(gw)):
        for s in range(len(sats)):
            if elevation(gw, j, sats[s]) >= 25.0:
                g.add_edge(
                    ("s", s), ("g", j), weight=float(np.linalg.norm(sats[s] - gw.ecef_km[j]))
                )
        for p in range(len(pops)):
            gc = float(
                great_circle_km(
                    gw.latitude_deg[j],
                    gw.longitude_deg[j],
                    pops.latitude_deg[p],
                    pops.longitude_deg[p],
                )
            )
            g.add_edge(("g", j), ("p", p), weight=gc * 1.5 * 1.47)
    checked = 0
    for i in range(len(term)):
        home = int(
            np.argmin(
                great_circle_km(
                    term.latitude_deg[i],
                    term.longitude_deg[i],
                    pops.latitude_deg,
                    pops.longitude_deg,
                )
            )
        )
        h = g.copy()
        for s in range(len(sats)):
            if elevation(term, i, sats[s]) >= 25.0:
                h.add_edge("t", ("s", s), weight=float(np.linalg.norm(sats[s] - term.ecef_km[i])))
        try:
            length = nx.dijkstra_path_length(h, "t", ("p", home))
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            assert res.status[i] != STATUS_OK
            assert np.isnan(res.rtt_ms[i])
            continue
        assert res.status[i] == STATUS_OK
        assert res.pop[i] == home
        expect = 2 * length / C * 1000 + lat.overhead_ms
        assert res.rtt_ms[i] == pytest.approx(expect, rel=1e-9)
        # the reported path is a valid hop sequence with the same length
        hops = res.path(i)
        assert hops[0] == ("terminal", i) and hops[-1] == ("pop", home)
        sat_seq = [n for kind, n in hops if kind == "sat"]
        assert h.has_edge("t", ("s", sat_seq[0]))
        for x, y in zip(sat_seq[:-1], sat_seq[1:], strict=True):
            assert h.has_edge(("s", x), ("s", y))
        assert h.has_edge(("s", sat_seq[-1]), ("g", hops[-2][1]))
        assert res.isl_hops[i] == len(sat_seq) - 1
        checked += 1
    assert checked > 10


@pytest.fixture(scope="module")
def gen1_model(gen1, shared_data):
    c, eph = gen1
    gw = load_sites(shared_data / "starlink-gateways.csv")
    pops = load_sites(shared_data / "starlink-pops.csv", "pop")
    return c, eph, NetworkModel(c, gw, pops)


def test_rtt_lower_bound_and_paths_gen1(gen1_model):
    c, eph, model = gen1_model
    rng = np.random.default_rng(11)
    n = 2000
    term = GroundSites.from_arrays(
        np.degrees(np.arcsin(rng.uniform(-0.9, 0.9, n))), rng.uniform(-180, 180, n)
    )
    res = model.step(eph, 0, term)
    ok = res.status == STATUS_OK
    assert ok.mean() > 0.95
    pop = res.pop[ok]
    gc = great_circle_km(
        term.latitude_deg[ok],
        term.longitude_deg[ok],
        model.pops.latitude_deg[pop],
        model.pops.longitude_deg[pop],
    )
    assert np.all(res.rtt_ms[ok] >= 2 * gc / C * 1000)
    # and at least up and down through the altitude of the lowest shell (540 km) twice
    assert np.all(res.rtt_space_ms[ok] >= 4 * 535.0 / C * 1000)
    assert np.allclose(
        res.rtt_ms[ok], res.rtt_space_ms[ok] + res.rtt_fibre_ms[ok] + res.rtt_overhead_ms[ok]
    )
    assert np.all(res.elevation_deg[ok] >= 25.0)
    # lasers of a path are links that are up
    up = {tuple(e) for e in res.isl_edges.tolist()}
    for i in np.flatnonzero(ok)[:200]:
        sats = [n for k, n in res.path(i) if k == "sat"]
        for x, y in zip(sats[:-1], sats[1:], strict=True):
            assert (min(x, y), max(x, y)) in up


def test_bent_pipe_only(gen1_model):
    c, eph, model = gen1_model
    bp = NetworkModel(c, model.gateways, model.pops, use_isls=False)
    term = GroundSites.from_arrays([40.0, 50.45, -30.0], [-100.0, 30.52, 20.0])
    res = bp.step(eph, 0, term)
    ok = res.status == STATUS_OK
    assert ok.any()
    assert np.all(res.isl_hops[ok] == 0)
    pairs = set(zip(res.gsl.site.tolist(), res.gsl.sat.tolist(), strict=True))
    for i in np.flatnonzero(ok):
        assert (res.gateway[i], res.serving_sat[i]) in pairs
    # lasers never make it slower
    full = model.step(eph, 0, term)
    assert np.all(full.rtt_ms[ok] <= res.rtt_ms[ok] + 1e-9)


def test_landing_constraint_changes_the_path(gen1):
    c, eph = gen1
    gw = GroundSites.from_arrays(
        [50.04, 50.45],
        [21.99, 30.52],
        kind="gateway",
        country=["PL", "UA"],
        name=["Rzeszow", "Kyiv"],
    )
    pops = GroundSites.from_arrays(
        [52.23, 46.48], [21.01, 30.72], kind="pop", country=["PL", "UA"], name=["Warsaw", "Odesa"]
    )
    term = GroundSites.from_arrays(
        [49.84, 50.06], [24.03, 19.94], country=["UA", "PL"], name=["Lviv", "Krakow"]
    )
    model = NetworkModel(c, gw, pops)
    free = model.step(eph, 0, term)
    assert free.status.tolist() == [STATUS_OK, STATUS_OK]
    assert free.pop.tolist() == [0, 0]  # both homed on Warsaw, the nearest PoP
    assert free.gateway[0] == 0  # Lviv lands in Poland when free
    rule = LandingConstraint.by_country(term, gw, pops, countries=["UA"])
    held = model.step(eph, 0, term, constraint=rule)
    assert held.status.tolist() == [STATUS_OK, STATUS_OK]
    # Lviv must land in Ukraine: Kyiv gateway, Odesa PoP
    assert (held.gateway[0], held.pop[0]) == (1, 1)
    assert held.gateway[1] == free.gateway[1] and held.pop[1] == 0  # Krakow is not constrained
    # the same through dense masks
    dense = LandingConstraint.from_masks(
        np.array([[False, True], [True, True]]), np.array([[False, True], [True, True]])
    )
    again = model.step(eph, 0, term, constraint=dense)
    assert np.array_equal(again.gateway, held.gateway) and np.allclose(again.rtt_ms, held.rtt_ms)
    # no allowed gateway at all: no route
    none = LandingConstraint.from_masks(np.array([[False, False], [True, True]]))
    r = model.step(eph, 0, term, constraint=none)
    assert r.status[0] != STATUS_OK and r.status[1] == STATUS_OK


def test_pop_map_homing(gen1, tmp_path):
    c, eph = gen1
    pops = default_pops()
    p = tmp_path / "map.csv"
    p.write_text(
        "country,region,city,latitude_deg,longitude_deg,pop,pops\nUA,,Kyiv,50.45,30.52,fra,fra:3\nPL,,Warsaw,52.2,21.0,waw,waw:9\n"
    )
    pm = load_pop_map(p)
    gw = GroundSites.from_arrays([50.1, 52.2], [8.7, 21.0], kind="gateway")
    term = GroundSites.from_arrays([50.3, 52.0], [30.0, 20.0])
    nearest = NetworkModel(c, gw, pops)
    mapped = NetworkModel(c, gw, pops, pop_map=pm)
    assert [pops.id[i] for i in nearest.home_pops(term)] == ["waw", "waw"]
    assert [pops.id[i] for i in mapped.home_pops(term)] == ["fra", "waw"]
    res = mapped.step(eph, 0, term)
    assert pops.id[res.pop[0]] == "fra"
    bad = tmp_path / "bad.csv"
    bad.write_text("latitude_deg,longitude_deg,pop\n1,2,zzzz\n")
    with pytest.raises(ConfigurationError, match="none of the PoP codes"):
        NetworkModel(c, gw, pops, pop_map=load_pop_map(bad)).home_pops(term)


def test_real_city_pop_map(gen1, shared_data):
    c, eph = gen1
    pops = load_sites(shared_data / "starlink-pops-2026.csv", "pop")
    pm = load_pop_map(shared_data / "starlink-city-pops.csv")
    model = NetworkModel(
        c, GroundSites.from_arrays([52.2], [21.0], kind="gateway"), pops, pop_map=pm
    )
    kyiv = GroundSites.from_arrays([50.45], [30.52])
    assert pops.id[model.home_pops(kyiv)[0]] == "wrswpol1"  # Kyiv customers are homed on Warsaw


def test_mesh_route_matches_networkx(gen1_model):
    c, eph, model = gen1_model
    pos = eph.at(0)
    a = GroundSites.from_arrays([51.5], [-0.13])
    b = GroundSites.from_arrays([40.71], [-74.0])
    route = model.mesh_route(pos, a, b)
    edges, length = model.links(pos)
    g = nx.Graph()
    g.add_weighted_edges_from(
        (int(x), int(y), float(w)) for (x, y), w in zip(edges, length, strict=True)
    )
    for site, name in ((a, "A"), (b, "B")):
        v = model.terminal_visibility(pos, site)
        g.add_weighted_edges_from(
            (name, int(s), float(r)) for s, r in zip(v.sat, v.range_km, strict=True)
        )
    ref = nx.dijkstra_path_length(g, "A", "B")
    assert route.length_km == pytest.approx(ref, rel=1e-12)
    assert route.rtt_ms == pytest.approx(2 * ref / C * 1000)
    gc = float(great_circle_km(51.5, -0.13, 40.71, -74.0))
    assert route.length_km > gc
    assert route.rtt_ms < LatencyModel().fibre_rtt_ms(gc)  # lasers beat fibre over the Atlantic


def test_input_validation(gen1):
    c, eph = gen1
    pops = default_pops()
    with pytest.raises(ConfigurationError):
        NetworkModel(c, GroundSites.empty("gateway"), pops)
    model = NetworkModel(c, pops.with_kind("gateway"), pops)
    with pytest.raises(InputError, match="min-rtt, max-elevation"):
        model.step(eph, 0, GroundSites.from_arrays([0.0], [0.0]), selection="fastest")
    with pytest.raises(InputError, match=r"\(S, 3\)"):
        model.step(np.zeros((3, 3)), None, GroundSites.from_arrays([0.0], [0.0]))
    with pytest.raises(InputError, match="route_factor"):
        LatencyModel(route_factor=0.5)


def test_clustered_visibility_gives_the_same_step(gen1_model):
    c, eph, model = gen1_model
    rng = np.random.default_rng(4)
    n = 1500
    term = GroundSites.from_arrays(rng.uniform(40, 55, n), rng.uniform(-10, 30, n))
    a = model.step(eph, 1, term)
    clustered = NetworkModel(c, model.gateways, model.pops, cluster_km=150.0)
    b = clustered.step(eph, 1, term)
    assert np.array_equal(a.serving_sat, b.serving_sat)
    assert np.allclose(a.rtt_ms, b.rtt_ms, equal_nan=True)


def test_search_limit_is_exact(gen1_model):
    """Bounded per-PoP searches (with the unbounded redo) give exactly the full-graph answer."""
    c, eph, model = gen1_model
    rng = np.random.default_rng(9)
    n = 3000
    term = GroundSites.from_arrays(
        np.degrees(np.arcsin(rng.uniform(-0.9, 0.9, n))), rng.uniform(-180, 180, n)
    )
    full = NetworkModel(c, model.gateways, model.pops, search_limit=False).step(eph, 0, term)
    fast = model.step(eph, 0, term)
    assert np.array_equal(full.serving_sat, fast.serving_sat)
    assert np.array_equal(full.gateway, fast.gateway)
    assert np.allclose(full.rtt_ms, fast.rtt_ms, equal_nan=True, rtol=1e-12)
    # a PoP in the South Pacific, far from every gateway: results still agree
    far_pop = GroundSites.from_arrays([-45.0], [-120.0], kind="pop")
    a = NetworkModel(c, model.gateways, far_pop).step(eph, 0, term.subset(slice(0, 200)))
    b = NetworkModel(c, model.gateways, far_pop, search_limit=False).step(
        eph, 0, term.subset(slice(0, 200))
    )
    assert np.allclose(a.rtt_ms, b.rtt_ms, equal_nan=True, rtol=1e-12)


def test_bounded_search_is_exact_for_every_selection_rule():
    """The Dijkstra bound is a speed-up only: every selection rule gives the unbounded answer."""
    from skyfence.ground import GroundSites, default_pops
    from skyfence.links import NetworkModel
    from skyfence.orbits import Constellation
    from skyfence.timeutil import time_grid

    c = Constellation.from_preset("starlink-gen1")
    pops = default_pops()
    gws = GroundSites.from_arrays(pops.latitude_deg, pops.longitude_deg, kind="gateway")
    rng = np.random.default_rng(5)
    lat = np.degrees(np.arcsin(rng.uniform(-0.85, 0.9, 400)))
    terminals = GroundSites.from_arrays(lat, rng.uniform(-180, 180, 400))
    eph = c.propagate(time_grid("2026-02-22T12:00:00Z", 30, 15))
    bounded = NetworkModel(c, gws, pops)
    full = NetworkModel(c, gws, pops, search_limit=False)
    for selection in ("min-rtt", "max-elevation"):
        for k in range(len(eph.times)):
            a = bounded.step(eph, k, terminals, selection=selection)
            b = full.step(eph, k, terminals, selection=selection)
            assert np.array_equal(a.serving_sat, b.serving_sat)
            assert np.array_equal(a.gateway, b.gateway)
            assert np.allclose(a.rtt_ms, b.rtt_ms, equal_nan=True)


@pytest.mark.parametrize("use_isls", [True, False])
def test_bounded_search_is_exact_with_constraints_ranks_and_bent_pipe(use_isls):
    """Rank-based rules choose among reachable satellites and search only what they need:
    with landing constraints (some satellites unreachable from some PoPs), bent pipe (every
    satellite its own mesh component) and arbitrary route-independent ranks, the answer equals
    the unbounded search's."""
    from skyfence.ground import GroundSites, default_pops
    from skyfence.links import LandingConstraint, NetworkModel
    from skyfence.orbits import Constellation
    from skyfence.timeutil import time_grid

    c = Constellation.from_preset("starlink-gen1")
    pops = default_pops()
    gws = GroundSites.from_arrays(pops.latitude_deg, pops.longitude_deg, kind="gateway")
    rng = np.random.default_rng(11)
    n = 300
    lat = np.degrees(np.arcsin(rng.uniform(-0.85, 0.9, n)))
    terminals = GroundSites.from_arrays(lat, rng.uniform(-180, 180, n))
    masks = rng.random((3, len(gws))) < 0.4
    constraint = LandingConstraint.from_masks(masks[rng.integers(0, 3, n)])
    eph = c.propagate(time_grid("2026-02-22T12:00:00Z", 15, 15))
    bounded = NetworkModel(c, gws, pops, use_isls=use_isls)
    full = NetworkModel(c, gws, pops, use_isls=use_isls, search_limit=False)
    for k in range(len(eph.times)):
        vis = bounded.terminal_visibility(eph.at(k), terminals)
        rank = rng.random(len(vis))
        for kw in (
            {"selection": "max-elevation"},
            {"selection": "max-elevation", "constraint": constraint},
            {"visible": vis, "pair_rank": rank},
            {"visible": vis, "pair_rank": rank, "constraint": constraint},
        ):
            a = bounded.step(eph, k, terminals, **kw)
            b = full.step(eph, k, terminals, **kw)
            assert np.array_equal(a.serving_sat, b.serving_sat)
            assert np.array_equal(a.gateway, b.gateway)
            assert np.array_equal(a.isl_hops, b.isl_hops)
            assert np.allclose(a.rtt_ms, b.rtt_ms, equal_nan=True, rtol=1e-12)
            if not use_isls:
                assert np.all(a.isl_hops[a.serving_sat >= 0] == 0)
            # the chosen satellite is the best-ranked one among those with a route
            score = -vis.elevation_deg if "pair_rank" not in kw else rank
            for t in rng.choice(n, 4, replace=False):
                if a.serving_sat[t] >= 0:
                    sel = vis.site == t
                    routed = _sats_with_a_route(
                        full, eph, k, terminals, t, vis.sat[sel], kw.get("constraint")
                    )
                    ok = sel & np.isin(vis.sat, routed)
                    assert a.serving_sat[t] == vis.sat[ok][np.argmin(score[ok])]


def _sats_with_a_route(model, eph, k, terminals, t, sats, constraint):
    from skyfence.links import LandingConstraint

    one = terminals.subset([t])
    if constraint is not None:
        constraint = LandingConstraint(
            constraint.terminal_class[[t]], constraint.gateway_mask, constraint.pop_mask
        )
    return [
        s for s in sats
        if model.step(eph, k, one, force_sat=np.array([s]), constraint=constraint).status[0] == 0
    ]  # fmt: skip


def test_pair_rank_must_match_the_visible_pairs(gen1):
    from skyfence.errors import InputError
    from skyfence.ground import GroundSites, default_pops
    from skyfence.links import NetworkModel

    c, eph = gen1
    pops = default_pops()
    model = NetworkModel(
        c, GroundSites.from_arrays(pops.latitude_deg, pops.longitude_deg, kind="gateway"), pops
    )
    term = GroundSites.from_arrays([10.0, 20.0], [0.0, 30.0])
    with pytest.raises(InputError, match="one score per visible pair"):
        model.step(eph, 0, term, pair_rank=np.zeros(3))


def test_no_lasers_anywhere_is_the_bent_pipe(gen1_model):
    """A network whose satellites all lack lasers routes exactly as bent pipe only; flagging
    some satellites removes exactly their links."""
    c, eph, model = gen1_model
    term = GroundSites.from_arrays([40.0, 50.45, -30.0, 10.0], [-100.0, 30.52, 20.0, 120.0])
    n = model.n_sats
    none = NetworkModel(c, model.gateways, model.pops, no_lasers=np.ones(n, dtype=bool))
    bp = NetworkModel(c, model.gateways, model.pops, use_isls=False)
    a, b = none.step(eph, 0, term), bp.step(eph, 0, term)
    assert (a.status == STATUS_OK).any()
    np.testing.assert_array_equal(a.rtt_ms, b.rtt_ms)
    np.testing.assert_array_equal(a.serving_sat, b.serving_sat)
    assert len(none.links(eph.at(0))[0]) == 0
    some = np.zeros(n, dtype=bool)
    some[::7] = True
    edges, _ = NetworkModel(c, model.gateways, model.pops, no_lasers=some).links(eph.at(0))
    assert len(edges) > 0 and not some[edges].any()
