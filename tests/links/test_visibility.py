"""Visibility: brute force on random sites and times, and skyfield's altaz."""

from __future__ import annotations

import numpy as np
import pytest
from skyfield.api import load, wgs84
from skyfield.sgp4lib import EarthSatellite

from skyfence.errors import InputError
from skyfence.ground import GroundSites
from skyfence.links import elevation_deg, max_slant_range_km, visible_pairs


def brute_force(sites: GroundSites, sats: np.ndarray, mask: np.ndarray):
    """Every pair, exact elevation from first principles (no tree)."""
    d = sats[None, :, :] - sites.ecef_km[:, None, :]
    rng = np.linalg.norm(d, axis=2)
    lat = np.radians(sites.latitude_deg)[:, None]
    lon = np.radians(sites.longitude_deg)[:, None]
    up = np.stack(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat) + 0 * lon], axis=2
    )
    el = np.degrees(np.arcsin((d * up).sum(axis=2) / rng))
    i, j = np.nonzero(el >= mask[:, None])
    return set(zip(i.tolist(), j.tolist(), strict=True)), el, rng


@pytest.mark.parametrize(
    ("seed", "cluster_km"), [(0, None), (1, None), (2, None), (3, 150.0), (4, 600.0)]
)
def test_equals_brute_force(gen1, seed, cluster_km):
    c, eph = gen1
    rng = np.random.default_rng(seed)
    n = 300 if cluster_km is None else 1500  # dense enough for clusters of several sites
    sites = GroundSites.from_arrays(
        np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n),
        altitude_m=rng.uniform(0, 3000, n),
    )  # fmt: skip
    mask = rng.choice([10.0, 25.0, 40.0], n)
    t = seed % 2
    sats = eph.at(t)
    v = visible_pairs(sites.ecef_km, sites.up, sats, mask, cluster_km=cluster_km)
    truth, el, rg = brute_force(sites, sats, mask)
    got = set(zip(v.site.tolist(), v.sat.tolist(), strict=True))
    assert got == truth
    assert np.allclose(v.elevation_deg, el[v.site, v.sat], atol=1e-9)
    assert np.allclose(v.range_km, rg[v.site, v.sat], atol=1e-9)
    assert np.all(np.diff(v.site) >= 0)


def test_nan_rows_never_visible():
    site = GroundSites.from_arrays([0.0], [0.0])
    sats = np.array([[6378.137 + 550.0, 0.0, 0.0], [np.nan, np.nan, np.nan]])
    v = visible_pairs(site.ecef_km, site.up, sats, 25.0)
    assert v.sat.tolist() == [0]
    assert np.isclose(v.elevation_deg[0], 90.0) and np.isclose(v.range_km[0], 550.0)


def test_mask_validation():
    site = GroundSites.from_arrays([0.0], [0.0])
    with pytest.raises(InputError, match=r"\[0, 90\)"):
        visible_pairs(site.ecef_km, site.up, np.zeros((1, 3)), -5.0)


def test_max_slant_range_hand_value():
    # 90 deg elevation: the range is the altitude difference
    assert np.isclose(max_slant_range_km(90.0, 6371.0, 6921.0), 550.0)
    # 0 deg: tangent line, sqrt(r_sat² − r_site²)
    assert np.isclose(max_slant_range_km(0.0, 6371.0, 6921.0), np.sqrt(6921.0**2 - 6371.0**2))


def test_elevation_agrees_with_skyfield_altaz(gen1):
    """Same element set, skyfield's own SGP4 + frames + altaz: elevation within 0.01°."""
    c, eph = gen1
    from skyfence.orbits.formats import format_elements

    lines = format_elements(c.elements[:4408:97], "tle").splitlines()
    ts = load.timescale(builtin=True)
    t = ts.from_datetime(
        eph.times[0].astype("datetime64[us]").item().replace(tzinfo=__import__("datetime").UTC)
    )
    idx = np.arange(0, 4408, 97)
    rng = np.random.default_rng(5)
    checked = 0
    for k, s in enumerate(idx):
        sat = EarthSatellite(lines[2 * k], lines[2 * k + 1], ts=ts)
        sub = wgs84.subpoint_of(sat.at(t))
        lat = float(np.clip(sub.latitude.degrees + rng.uniform(-6, 6), -90, 90))
        lon = float(sub.longitude.degrees + rng.uniform(-6, 6))
        lon = (lon + 180) % 360 - 180
        site = GroundSites.from_arrays([lat], [lon])
        ours, _ = elevation_deg(site.ecef_km[0], site.up[0], eph.at(0)[s])
        alt, _, dist = (sat - wgs84.latlon(lat, lon)).at(t).altaz()
        # skyfield includes polar motion = 0 and uses the same GMST model; TLE rounding ~ 1e-4 deg
        assert abs(float(ours) - alt.degrees) < 0.02, (s, float(ours), alt.degrees)
        checked += 1
    assert checked == len(idx)


def _pair_keys(site, sat, n_sats):
    return np.sort(site * n_sats + sat)


def test_site_index_over_time_equals_brute_force_and_tree(gen1):
    """A SiteIndex kept over time steps: same pairs as brute force and as the clustered tree path,
    on random sites including poles, the antimeridian and per-site masks down to 0°."""
    c, eph = gen1
    from skyfence.links.visibility import SiteIndex

    rng = np.random.default_rng(11)
    n = 400
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    lat[:6] = [90.0, -90.0, 89.9, -88.5, 0.0, 45.0]
    lon[:6] = [0.0, 0.0, 180.0, -180.0, 179.99, -179.99]
    sites = GroundSites.from_arrays(lat, lon, altitude_m=rng.uniform(0, 3000, n))
    mask = rng.choice([0.0, 0.1, 10.0, 25.0, 40.0, 89.0], n)
    index = SiteIndex(sites.ecef_km, sites.up, mask)
    S = len(c)
    for t in (0, 1, 0):
        sats = eph.at(t).copy()
        sats[::50] = np.nan  # propagation errors
        v = index.visible_pairs(sats)
        truth, el, rg = brute_force(sites, np.where(np.isfinite(sats), sats, 0.0), mask)
        truth = {(i, j) for i, j in truth if np.isfinite(sats[j, 0])}
        assert set(zip(v.site.tolist(), v.sat.tolist(), strict=True)) == truth
        assert np.allclose(v.elevation_deg, el[v.site, v.sat], atol=1e-9)
        assert np.allclose(v.range_km, rg[v.site, v.sat], atol=1e-9)
        assert np.all(np.diff(v.site) >= 0)
        assert v.site.dtype == np.int64 and v.sat.dtype == np.int64
        # the clustered cKDTree path agrees
        w = visible_pairs(sites.ecef_km, sites.up, sats, mask, cluster_km=400.0)
        assert np.array_equal(_pair_keys(v.site, v.sat, S), _pair_keys(w.site, w.sat, S))
        assert np.all(np.diff(w.site) >= 0)
        # one-off call builds its own index: identical rows
        u = visible_pairs(sites.ecef_km, sites.up, sats, mask)
        assert np.array_equal(u.site, v.site) and np.array_equal(u.sat, v.sat)
        assert np.array_equal(u.elevation_deg, v.elevation_deg) and np.array_equal(
            u.range_km, v.range_km
        )
        # slant-range cap
        m = index.visible_pairs(sats, max_range_km=1500.0)
        sel = v.range_km <= 1500.0
        assert np.array_equal(m.site, v.site[sel]) and np.array_equal(m.sat, v.sat[sel])


def test_site_index_replans_for_higher_satellites(gen1):
    c, eph = gen1
    from skyfence.links.visibility import SiteIndex

    rng = np.random.default_rng(12)
    sites = GroundSites.from_arrays(
        np.degrees(np.arcsin(rng.uniform(-1, 1, 300))), rng.uniform(-180, 180, 300)
    )
    mask = np.full(300, 25.0)
    index = SiteIndex(sites.ecef_km, sites.up, 25.0)
    index.visible_pairs(eph.at(0))
    low = index.sat_radius_km
    high = eph.at(1) * 1.3  # ~2,600 km higher: the first plan would miss most of these
    v = index.visible_pairs(high)
    assert index.sat_radius_km > low
    truth, _, _ = brute_force(sites, high, mask)
    assert set(zip(v.site.tolist(), v.sat.tolist(), strict=True)) == truth
    assert len(truth) > 0


def test_network_model_keeps_terminal_index(gen1):
    c, eph = gen1
    from skyfence.ground import default_pops, plan_gateways
    from skyfence.links import NetworkModel

    pops = default_pops()
    model = NetworkModel(c, plan_gateways(pops), pops)
    rng = np.random.default_rng(13)
    term = GroundSites.from_arrays(
        np.degrees(np.arcsin(rng.uniform(-1, 1, 500))), rng.uniform(-180, 180, 500)
    )
    other = GroundSites.from_arrays(
        np.degrees(np.arcsin(rng.uniform(-1, 1, 50))), rng.uniform(-180, 180, 50)
    )
    for t in (0, 1):
        v = model.terminal_visibility(eph.at(t), term)
        first = model._terminal_index
        ref = visible_pairs(term.ecef_km, term.up, eph.at(t), 25.0)
        assert np.array_equal(v.site, ref.site) and np.array_equal(v.sat, ref.sat)
        assert np.array_equal(v.elevation_deg, ref.elevation_deg)
        # same positions in a new table: the index is kept
        again = GroundSites.from_arrays(term.latitude_deg.copy(), term.longitude_deg.copy())
        model.terminal_visibility(eph.at(t), again)
        assert model._terminal_index is first
    w = model.terminal_visibility(eph.at(0), other)
    assert model._terminal_index is not first and len(model._terminal_index) == 50
    ref = visible_pairs(other.ecef_km, other.up, eph.at(0), 25.0)
    assert np.array_equal(w.site, ref.site) and np.array_equal(w.sat, ref.sat)


def _same_pairs(a, b):
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("site", "sat", "elevation_deg", "range_km")
    )


@pytest.mark.parametrize("seed", [21, 22])
def test_chunked_exact_stage_equals_the_reference_bit_for_bit(gen1, seed):
    """The chunked exact stage gives the previous kernel's rows exactly, on a site set large
    enough for many chunks (dense and sparse areas, poles, antimeridian, per-site masks incl.
    0°, NaN satellites, a range cap), and on a satellite set so small that most sites have no
    candidate at all."""
    c, eph = gen1
    from skyfence.links.visibility import SiteIndex

    rng = np.random.default_rng(seed)
    n = 30_000
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    lat[:2000] = rng.uniform(49.0, 51.0, 2000)  # a crowded area
    lon[:2000] = rng.uniform(29.0, 31.0, 2000)
    lat[2000:2004], lon[2000:2004] = [90.0, -90.0, 0.0, 10.0], [0.0, 0.0, 180.0, -180.0]
    sites = GroundSites.from_arrays(lat, lon, altitude_m=rng.uniform(0, 4000, n))
    mask = rng.choice([0.0, 10.0, 25.0, 40.0], n) if seed % 2 else 25.0
    index = SiteIndex(sites.ecef_km, sites.up, mask)
    sats = eph.at(seed % 2).copy()
    sats[::37] = np.nan
    v = index.visible_pairs(sats)
    assert len(v) > 100_000
    assert _same_pairs(v, index._visible_pairs_reference(sats))
    assert _same_pairs(
        index.visible_pairs(sats, max_range_km=900.0),
        index._visible_pairs_reference(sats, max_range_km=900.0),
    )
    few = sats[:40]
    w = index.visible_pairs(few)
    assert _same_pairs(w, index._visible_pairs_reference(few))
    assert 0 < len(np.unique(w.site)) < n // 2  # most sites see none of the 40
