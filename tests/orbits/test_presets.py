"""Presets: counts, planes, inclinations as filed, and the satellites really fly at the filed altitude."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.errors import NotFoundError
from skyfence.orbits import Constellation, get_preset, preset_elements, preset_names
from skyfence.orbits.physics import EARTH_EQUATORIAL_RADIUS_KM
from skyfence.timeutil import time_grid

# (altitude km, inclination deg, planes, sats per plane) as filed
STARLINK_GEN1 = [
    (550.0, 53.0, 72, 22),
    (540.0, 53.2, 72, 22),
    (570.0, 70.0, 36, 20),
    (560.0, 97.6, 6, 58),
    (560.0, 97.6, 4, 43),
]
KUIPER = [(630.0, 51.9, 34, 34), (610.0, 42.0, 36, 36), (590.0, 33.0, 28, 28)]


def test_preset_names_and_sources():
    assert preset_names() == ["kuiper", "starlink-gen1"]
    assert "Bassa" in get_preset("starlink-gen1").source
    assert "FCC" in get_preset("kuiper").source
    for name in preset_names():
        assert all(shell.source for shell in get_preset(name).shells)


@pytest.mark.parametrize(
    ("name", "filed", "total"),
    [
        ("starlink-gen1", STARLINK_GEN1, 4408),
        ("kuiper", KUIPER, 3236),
    ],
)
def test_preset_counts_planes_inclinations(name, filed, total):
    c = Constellation.from_preset(name)
    assert len(c) == total == get_preset(name).total
    assert [
        (s.altitude_km, s.inclination_deg, s.planes, s.sats_per_plane) for s in c.shells
    ] == filed
    for k, (_, inc, planes, per_plane) in enumerate(filed):
        sel = c.shell_id == k
        assert np.count_nonzero(sel) == planes * per_plane
        assert np.allclose(c.elements.inclination_deg[sel], inc)
        assert len(np.unique(np.round(c.elements.raan_deg[sel], 6))) == planes
        assert sorted(set(c.plane_id[sel])) == list(range(planes))
        assert np.bincount(c.plane_id[sel]).tolist() == [per_plane] * planes


@pytest.mark.parametrize("name", ["starlink-gen1", "kuiper"])
def test_preset_mean_altitude_over_one_orbit_matches_filing(name):
    c = Constellation.from_preset(name)
    filed = get_preset(name).shells
    # one satellite per plane is enough: all satellites of a shell share the orbit shape
    first = np.flatnonzero(c.slot_id == 0)
    sub = Constellation(c.elements[first])
    n_max = float(np.max(c.elements.mean_motion_rev_per_day))
    period_s = 86400.0 / float(np.min(c.elements.mean_motion_rev_per_day))
    step = 86400.0 / n_max / 400
    eph = sub.propagate(time_grid(c.elements.epochs[0], period_s * 3, step))
    radius = eph.radius_km
    for k, shell in enumerate(filed):
        sel = c.shell_id[first] == k
        n = float(c.elements.mean_motion_rev_per_day[first][sel][0])
        samples = int(round(86400.0 / n / step))  # exactly one orbit of this shell
        mean_alt = radius[sel, :samples].mean() - EARTH_EQUATORIAL_RADIUS_KM
        assert abs(mean_alt - shell.altitude_km) < 1.0, (shell.name, mean_alt)
        # the mean height above the ellipsoid is higher: the surface under the track lies
        # below the equatorial radius (by up to 21 km at the poles)
        geo = eph.altitude_km[sel, :samples].mean()
        assert shell.altitude_km < geo < shell.altitude_km + 21.4


def test_preset_elements_and_epoch():
    es = preset_elements("kuiper", epoch="2027-01-01T00:00Z")
    assert len(es) == 3236
    assert np.all(es.epochs == np.datetime64("2027-01-01T00:00", "ns"))
    assert es.norad_ids[0] == 90000 and es.norad_ids[-1] == 90000 + 3235


def test_unknown_preset_lists_choices():
    with pytest.raises(NotFoundError, match="kuiper, starlink-gen1"):
        Constellation.from_preset("starlink-gen9")
