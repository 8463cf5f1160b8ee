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
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat) + 0 * lon], axis=2)
    el = np.degrees(np.arcsin((d * up).sum(axis=2) / rng))
    i, j = np.nonzero(el >= mask[:, None])
    return set(zip(i.tolist(), j.tolist(), strict=True)), el, rng


@pytest.mark.parametrize(("seed", "cluster_km"), [(0, None), (1, None), (2, None), (3, 150.0), (4, 600.0)])
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
    t = ts.from_datetime(eph.times[0].astype("datetime64[us]").item().replace(tzinfo=__import__("datetime").UTC))
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
