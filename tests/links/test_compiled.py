"""The compiled visibility kernel (optional numba) against the numpy kernel and the reference
stage: the same rows bit for bit on random sites including the elevation-mask boundary, the
poles and the antimeridian; the loops a min-rtt step runs instead of listing pairs choose what
the pairs choose; and whole network steps identical with either kernel."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import InputError
from skyfence.geodesy import geodetic_to_ecef_km
from skyfence.ground import GroundSites, default_pops
from skyfence.links import LandingConstraint, NetworkModel, compiled
from skyfence.links.search import argmin_per_group
from skyfence.links.stages import unique_small
from skyfence.links.visibility import DeferredPairs, SiteIndex, VisiblePairs

needs_numba = pytest.mark.skipif(
    not compiled.available(), reason=f"compiled kernel: {compiled.unavailable_reason()}"
)
FIELDS = ("site", "sat", "elevation_deg", "range_km")


def same_pairs(a: VisiblePairs, b: VisiblePairs) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in FIELDS)


def at_elevation(site: GroundSites, i: int, az_deg: float, el_deg: float, r_km: float):
    """A point seen from site ``i`` at this azimuth and elevation, ``r_km`` away (ENU)."""
    lat, lon = np.radians(site.latitude_deg[i]), np.radians(site.longitude_deg[i])
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    up = site.up[i]
    az, el = np.radians(az_deg), np.radians(el_deg)
    d = np.cos(el) * (np.sin(az) * east + np.cos(az) * north) + np.sin(el) * up
    return site.ecef_km[i] + r_km * d


def scene(data: st.DataObject, n_sats: int = 300):
    """Random sites (with poles, the antimeridian and clusters) and satellites (random shells,
    plus satellites placed at a site's mask, a hair above and below)."""
    lat_s = st.one_of(
        st.floats(-90, 90), st.sampled_from([-90.0, 90.0, -89.9, 89.95, 0.0, 53.0, -60.0])
    )
    lon_s = st.one_of(st.floats(-180, 180), st.sampled_from([-180.0, 180.0, 179.99, -179.99, 0.0]))
    n = data.draw(st.integers(1, 40), label="sites")
    lat = np.array(data.draw(st.lists(lat_s, min_size=n, max_size=n), label="lat"))
    lon = np.array(data.draw(st.lists(lon_s, min_size=n, max_size=n), label="lon"))
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    # a cluster of close sites around the first one shares tiles
    k = int(rng.integers(0, 60))
    lat = np.r_[lat, np.clip(lat[0] + rng.normal(0, 0.5, k), -90, 90)]
    lon = np.r_[lon, (lon[0] + rng.normal(0, 0.5, k) + 180) % 360 - 180]
    sites = GroundSites.from_arrays(lat, lon, altitude_m=rng.uniform(0, 2000, len(lat)))
    mask = data.draw(st.sampled_from([0.0, 10.0, 25.0, 40.0]), label="mask")
    per_site = data.draw(st.booleans(), label="mask per site")
    masks = rng.choice([0.0, 25.0, 40.0], len(lat)) if per_site else np.full(len(lat), mask)
    alt = rng.uniform(340, 1300, n_sats)
    sats = geodetic_to_ecef_km(
        np.degrees(np.arcsin(rng.uniform(-1, 1, n_sats))), rng.uniform(-180, 180, n_sats), alt
    )
    edge = []
    for i in rng.integers(0, len(lat), 12):
        for eps in (0.0, 1e-9, -1e-9, 1e-6, -1e-6):
            az = float(rng.uniform(0, 360))
            edge.append(
                at_elevation(sites, int(i), az, masks[i] + eps, float(rng.uniform(600, 2500)))
            )
    sats = np.vstack([sats, np.array(edge)])
    if data.draw(st.booleans(), label="a NaN row"):
        sats[int(rng.integers(0, len(sats)))] = np.nan
    return sites, masks, sats


@needs_numba
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_rows_identical_to_reference(data):
    sites, masks, sats = scene(data)
    ref = SiteIndex(sites.ecef_km, sites.up, masks, kernel="numpy")
    fast = SiteIndex(sites.ecef_km, sites.up, masks, kernel="compiled")
    want = ref._visible_pairs_reference(sats)
    assert same_pairs(ref.visible_pairs(sats), want)
    assert same_pairs(fast.visible_pairs(sats), want)
    max_range = float(data.draw(st.sampled_from([800.0, 1500.0])))
    assert same_pairs(
        fast.visible_pairs(sats, max_range_km=max_range),
        ref._visible_pairs_reference(sats, max_range_km=max_range),
    )
    # the loops of a min-rtt step: any-visible, and the best pair per site for a cost
    srt = fast.sort_satellites(sats)
    has = np.zeros(len(sites), bool)
    has[want.site] = True
    assert np.array_equal(fast.any_visible(srt), has)
    rng = np.random.default_rng(len(want))
    n_src = 3
    if data.draw(st.booleans(), label="smooth distances"):
        # as searched distances are: growing with the distance from a PoP (the loop's short
        # lists and bounds at work), some satellites unreached
        far = np.linalg.norm(sats[:, None, :] - rng.normal(0, 4000, (1, n_src, 3)), axis=2)
        dist = np.ascontiguousarray((far * rng.uniform(1.0, 1.5, far.shape)).T)
        dist[rng.random(dist.shape) < 0.05] = np.inf
    else:
        dist = rng.uniform(0, 3000, (n_src, len(sats)))
        dist[rng.random(dist.shape) < 0.2] = np.inf  # unreached satellites
    dist[~np.isfinite(dist) & ~np.isinf(dist)] = np.inf  # (a NaN satellite row)
    source = rng.integers(0, n_src, len(sites))
    slot, cost = np.full(len(sites), -7), np.full(len(sites), -7.0)
    fast.best_per_site(srt, has, source, dist, slot, cost)
    pair_cost = dist[source[want.site], want.sat] + want.range_km
    best = argmin_per_group(want.site, pair_cost, len(sites))
    finite = (best >= 0) & np.isfinite(pair_cost[np.maximum(best, 0)])
    assert np.all(slot[~has] == -7) and np.all(cost[~has] == -7.0)  # not asked: untouched
    assert np.all(slot[has] >= 0)
    assert np.array_equal(np.isfinite(cost) & has, finite)
    got_sat = np.where(slot >= 0, srt.sat_id[np.maximum(slot, 0)], -1) if srt else slot
    assert np.array_equal(got_sat[finite], want.sat[best[finite]])
    assert np.array_equal(cost[finite], pair_cost[best[finite]])
    el, rg = fast.pair_geometry(srt, np.flatnonzero(finite), slot[finite])
    assert np.array_equal(el, want.elevation_deg[best[finite]])
    assert np.array_equal(rg, want.range_km[best[finite]])


@needs_numba
def test_ties_go_to_the_first_row():
    """Two satellites at the same place (equal cost): the first in row order serves, also for
    sites near the antimeridian, whose rows are not in the tile's order."""
    lat = np.array([0.0, 10.0, -20.0, 45.0, 0.5, 0.2])
    lon = np.array([179.9, -179.8, 179.0, 10.0, -179.99, 20.0])
    sites = GroundSites.from_arrays(lat, lon)
    base = np.vstack([at_elevation(sites, i, 30.0 * i, 60.0, 700.0) for i in range(len(lat))])
    sats = np.vstack([base, base[::-1], base])  # every position three times
    fast = SiteIndex(sites.ecef_km, sites.up, 25.0, kernel="compiled")
    want = fast._visible_pairs_reference(sats)
    assert same_pairs(fast.visible_pairs(sats), want)
    srt = fast.sort_satellites(sats)
    todo = np.ones(len(lat), bool)
    slot, cost = np.full(len(lat), -1), np.zeros(len(lat))
    dist = np.zeros((1, len(sats)))
    fast.best_per_site(srt, todo, np.zeros(len(lat), np.int64), dist, slot, cost)
    best = argmin_per_group(want.site, want.range_km, len(lat))
    assert np.array_equal(srt.sat_id[slot], want.sat[best])


def test_kernel_names_are_checked(gen1):
    c, _ = gen1
    sites = GroundSites.from_arrays([0.0], [0.0])
    with pytest.raises(InputError, match="auto, numpy, compiled"):
        SiteIndex(sites.ecef_km, sites.up, 25.0, kernel="fast")
    gw = GroundSites.from_arrays([0.0], [1.0], kind="gateway")
    with pytest.raises(InputError, match="auto, numpy, compiled"):
        NetworkModel(c, gw, default_pops(), kernel="fast")


def test_unique_small_is_numpy_unique():
    rng = np.random.default_rng(3)
    for n_keys in (1, 7, 5000):
        key = rng.integers(0, n_keys, 300)
        u, inv = unique_small(key, n_keys)
        u2, inv2 = np.unique(key, return_inverse=True)
        assert np.array_equal(u, u2) and np.array_equal(inv, inv2.reshape(-1))


@needs_numba
def test_deferred_pairs_list_on_first_use_and_pickle_plain(gen1):
    c, eph = gen1
    rng = np.random.default_rng(5)
    sites = GroundSites.from_arrays(rng.uniform(-60, 60, 200), rng.uniform(-180, 180, 200))
    index = SiteIndex(sites.ecef_km, sites.up, 25.0, kernel="compiled")
    pos = eph.at(0)
    deferred = DeferredPairs(index, index.sort_satellites(pos))
    assert "site" not in deferred.__dict__  # nothing listed yet
    want = index._visible_pairs_reference(pos)
    counts = np.bincount(want.site, minlength=len(sites))
    assert np.array_equal(deferred.per_site(len(sites)), counts)  # counted, not listed
    assert "site" not in deferred.__dict__
    assert np.array_equal(want.per_site(len(sites)), counts)
    assert len(deferred) == len(want) and same_pairs(deferred, want)
    back = pickle.loads(pickle.dumps(deferred))
    assert type(back) is VisiblePairs and same_pairs(back, want)
    with pytest.raises(AttributeError):
        _ = deferred.no_such_field


STEP_FIELDS = ("serving_sat", "gateway", "pop", "isl_hops", "elevation_deg", "range_km", "rtt_ms",
               "rtt_space_ms", "rtt_fibre_ms", "rtt_overhead_ms", "status", "_source", "_pred")  # fmt: skip


@needs_numba
def test_min_rtt_step_identical_with_either_kernel(gen1):
    """Terminals everywhere (poles, antimeridian, no PoP for some, a tight search bound that
    forces searches again): the compiled min-rtt step equals the numpy step, pairs included."""
    c, eph = gen1
    rng = np.random.default_rng(11)
    n = 1500
    lat = np.r_[np.degrees(np.arcsin(rng.uniform(-1, 1, n))), 89.9, -89.9, 0.0, 5.0]
    lon = np.r_[rng.uniform(-180, 180, n), 0.0, 0.0, 180.0, -179.99]
    lon[:200] = rng.uniform(170, 180, 200)  # many near the antimeridian
    term = GroundSites.from_arrays(lat, lon)
    pops = default_pops()
    gw = GroundSites.from_arrays(
        rng.uniform(-55, 55, 120), rng.uniform(-180, 180, 120), kind="gateway"
    )
    home = NetworkModel(c, gw, pops).home_pops(term)
    home[:50] = -1  # terminals without a home PoP
    for limit in (True, False):
        models = [
            NetworkModel(c, gw, pops, kernel=k, search_limit=limit) for k in ("numpy", "compiled")
        ]
        for t in range(2):
            a, b = (m.step(eph, t, term, home_pop=home) for m in models)
            assert isinstance(b.visible, DeferredPairs)
            for f in STEP_FIELDS:
                x, y = getattr(a, f), getattr(b, f)
                assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (limit, t, f)
            assert same_pairs(a.visible, b.visible)
            assert (a.status == 0).sum() > n // 2


@needs_numba
def test_min_rtt_step_with_landing_classes_identical_with_either_kernel(gen1):
    """Terminals in several landing classes (each its own allowed gateways and PoPs: one
    source per class and home PoP, some classes without any allowed gateway nearby): the
    compiled step's sources, bounds and results equal the numpy step's."""
    c, eph = gen1
    rng = np.random.default_rng(5)
    n = 1200
    term = GroundSites.from_arrays(
        np.degrees(np.arcsin(rng.uniform(-0.9, 0.9, n))), rng.uniform(-180, 180, n)
    )
    pops = default_pops()
    gw = GroundSites.from_arrays(
        rng.uniform(-55, 55, 80), rng.uniform(-180, 180, 80), kind="gateway"
    )
    classes = rng.integers(0, 4, n)
    allowed_gw = rng.random((4, len(gw))) < np.array([[1.0], [0.5], [0.2], [0.02]])
    allowed_pops = rng.random((4, len(pops))) < 0.7
    allowed_pops[:, 0] = True
    constraint = LandingConstraint.from_masks(allowed_gw[classes], allowed_pops[classes])
    models = [NetworkModel(c, gw, pops, kernel=k) for k in ("numpy", "compiled")]
    for t in range(2):
        a, b = (m.step(eph, t, term, constraint=constraint) for m in models)
        assert isinstance(b.visible, DeferredPairs)
        for f in STEP_FIELDS:
            x, y = getattr(a, f), getattr(b, f)
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (t, f)
        assert np.array_equal(a._source, b._source)
        assert len(np.unique(a._source[a._source >= 0])) > 4
        assert (a.status == 0).sum() > n // 3 and (a.status == 2).sum() > 0


@needs_numba
def test_satellites_sorted_by_cell_identically_with_either_kernel(gen1):
    """The compiled counting sort gives the numpy kernel's order and cell starts."""
    c, eph = gen1
    sites = GroundSites.from_arrays([10.0, -40.0], [20.0, 170.0])
    ref = SiteIndex(sites.ecef_km, sites.up, 25.0, kernel="numpy")
    fast = SiteIndex(sites.ecef_km, sites.up, 25.0, kernel="compiled")
    pos = np.array(eph.at(0), dtype=np.float64)
    pos[::97] = np.nan  # some satellites missing
    a, b = ref.sort_satellites(pos), fast.sort_satellites(pos)
    assert np.array_equal(a.sat_id, b.sat_id)
    assert np.array_equal(a.cell_start, b.cell_start)
    assert all(np.array_equal(x, y) for x, y in zip(a.xyz, b.xyz, strict=True))


@needs_numba
def test_no_sites_or_no_finite_satellite():
    none = np.zeros((0, 3))
    sats = np.array([[7000.0, 0.0, 0.0], [0.0, 7000.0, 0.0]])
    empty = SiteIndex(none, none, 25.0, sat_radius_km=7000.0, kernel="compiled")
    assert len(empty.visible_pairs(sats)) == 0
    assert empty.any_visible(empty.sort_satellites(sats)).shape == (0,)
    one = GroundSites.from_arrays([0.0], [0.0])
    index = SiteIndex(one.ecef_km, one.up, 25.0, kernel="compiled")
    nan = np.full((2, 3), np.nan)
    assert len(index.visible_pairs(nan)) == 0
    assert index.any_visible(index.sort_satellites(nan)).tolist() == [False]
    assert index.visible_pairs(sats).sat.tolist() == [0]
