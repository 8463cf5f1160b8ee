"""Walker shells: hand-checkable geometry, altitude/mean-motion consistency, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.errors import ConfigurationError
from skyfence.orbits import Constellation, ShellInfo, walker_shell
from skyfence.orbits.physics import EARTH_EQUATORIAL_RADIUS_KM
from skyfence.orbits.walker import mean_altitude_km, mean_motion_for_altitude
from skyfence.timeutil import time_grid, to_jd_pair


def _circ_diff(a, b):
    return (np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0


def test_raans_evenly_spread_and_phase_offset_between_planes():
    # 53:1584/72/17 - planes 5 deg apart, adjacent planes offset by 17*360/1584 deg
    shell = walker_shell(53.0, 1584, 72, 17, 550.0)
    raan = shell.raan_deg.reshape(72, 22)
    u = (shell.arg_perigee_deg + shell.mean_anomaly_deg).reshape(72, 22)
    assert np.allclose(raan, raan[:, :1])  # one RAAN per plane
    assert np.allclose(np.diff(raan[:, 0]), 5.0)
    assert np.allclose(_circ_diff(u[:, 1:], u[:, :-1]), 360.0 / 22)  # in-plane spacing
    assert np.allclose(_circ_diff(u[1:, 0], u[:-1, 0]), 17 * 360.0 / 1584)
    assert np.all(shell.inclination_deg == 53.0)
    assert np.all(shell.eccentricity == 0.0)
    assert len(set(shell.norad_ids)) == 1584
    assert shell.names[23] == "550km-53.0deg-P01-S01"


def test_walker_star_spreads_planes_over_180_degrees():
    shell = walker_shell(86.4, 66, 6, 2, 780.0, raan_spread_deg=180.0)  # Iridium-like
    assert np.allclose(np.unique(shell.raan_deg), np.arange(6) * 30.0)


def test_propagated_positions_show_the_walker_geometry():
    # Independent of the element arithmetic: angles between SGP4 position vectors at epoch.
    shell = walker_shell(60.0, 40, 5, 3, 700.0)
    jd, fr = to_jd_pair(shell.epochs[:1])
    _, r, _ = shell.to_satrec_array().sgp4(jd, fr)
    r = r[:, 0, :].reshape(5, 8, 3)
    unit = r / np.linalg.norm(r, axis=-1, keepdims=True)
    # neighbours in a plane are 45 deg apart (short-period J2 terms move them < 0.1 deg)
    ang = np.degrees(np.arccos(np.clip(np.sum(unit[:, 1:] * unit[:, :-1], axis=-1), -1, 1)))
    assert np.allclose(ang, 45.0, atol=0.1)
    # orbit normals of adjacent planes: RAANs 72 deg apart at i = 60 deg
    normals = np.cross(unit[:, 0], unit[:, 1])
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    expected = np.degrees(
        np.arccos(
            np.cos(np.radians(60)) ** 2 + np.sin(np.radians(60)) ** 2 * np.cos(np.radians(72))
        )
    )
    between = np.degrees(np.arccos(np.sum(normals[1:] * normals[:-1], axis=-1)))
    assert np.allclose(between, expected, atol=0.1)


@settings(max_examples=40, deadline=None)
@given(
    planes=st.integers(1, 30),
    per_plane=st.integers(1, 30),
    data=st.data(),
    inc=st.floats(0.0, 180.0),
)
def test_walker_invariants(planes, per_plane, data, inc):
    phasing = data.draw(st.integers(0, planes - 1))
    total = planes * per_plane
    shell = walker_shell(inc, total, planes, phasing, 600.0)
    assert len(shell) == total
    raan = shell.raan_deg.reshape(planes, per_plane)
    u = shell.mean_anomaly_deg.reshape(planes, per_plane)
    step = _circ_diff(360.0 / planes, 0.0)
    assert np.allclose(_circ_diff(_circ_diff(raan[1:, 0], raan[:-1, 0]), step), 0.0)
    offset = _circ_diff(phasing * 360.0 / total, 0.0)
    assert np.allclose(_circ_diff(_circ_diff(u[1:, 0], u[:-1, 0]), offset), 0.0, atol=1e-9)
    assert np.all((shell.raan_deg >= 0) & (shell.raan_deg < 360))


def test_mean_altitude_definition_matches_propagation():
    # altitude = mean over one orbit of |r| - a_WGS84; checked with an independent propagation
    shell = walker_shell(53.0, 10, 10, 0, 550.0)
    c = Constellation(shell)
    period_s = 86400.0 / float(shell.mean_motion_rev_per_day[0])
    times = time_grid(shell.epochs[0], period_s * (1 - 1 / 600), period_s / 600)
    eph = c.propagate(times)
    mean_alt = eph.radius_km.mean(axis=1) - EARTH_EQUATORIAL_RADIUS_KM
    assert np.all(np.abs(mean_alt - 550.0) < 0.05)


def test_hypatia_mean_motion_is_not_550_km():
    # 15.19 rev/day (Hypatia's "550 km" Starlink) actually flies near 509 km
    assert abs(mean_altitude_km(15.19, 53.0) - 508.7) < 0.5
    with pytest.raises(ConfigurationError, match="contradict"):
        walker_shell(53.0, 1584, 72, 1, 550.0, mean_motion_rev_per_day=15.19)


def test_altitude_and_mean_motion_that_agree_are_accepted():
    n = mean_motion_for_altitude(550.0, 53.0)
    shell = walker_shell(53.0, 22, 1, 0, 550.0, mean_motion_rev_per_day=n)
    assert np.allclose(shell.mean_motion_rev_per_day, n)
    by_n = walker_shell(53.0, 22, 1, 0, mean_motion_rev_per_day=n)
    assert by_n.shell[0] == "550km-53.0deg"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(total=100, planes=7, phasing=1, altitude_km=550.0), "divisible"),
        (dict(total=100, planes=10, phasing=10, altitude_km=550.0), "phasing"),
        (dict(total=100, planes=10, phasing=-1, altitude_km=550.0), "phasing"),
        (dict(total=100, planes=10, phasing=1, altitude_km=120.0), "below 150 km"),
        (dict(total=100, planes=10, phasing=1, altitude_km=550_000.0), "metres"),
        (dict(total=100, planes=10, phasing=1), "altitude_km or mean_motion"),
        (dict(total=100, planes=10, phasing=1, altitude_km=550.0, raan_spread_deg=400.0), "360"),
        (dict(total=0, planes=1, phasing=0, altitude_km=550.0), "positive"),
    ],
)
def test_contradictions_are_refused(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        walker_shell(53.0, **kwargs)


def test_bad_inclination_and_mean_motion_are_refused():
    with pytest.raises(ConfigurationError, match="inclination"):
        walker_shell(200.0, 10, 10, 0, 550.0)
    with pytest.raises(ConfigurationError, match="mean motion"):
        walker_shell(53.0, 10, 10, 0, mean_motion_rev_per_day=-1.0)
    with pytest.raises(ConfigurationError, match="mean motion 17.5 rev/day"):
        walker_shell(53.0, 10, 10, 0, mean_motion_rev_per_day=17.5)  # below the surface


def test_constellation_from_shells_labels_planes_and_slots():
    shells = [
        ShellInfo("a", 550.0, 53.0, 4, 3, 1),
        ShellInfo("b", 1200.0, 87.9, 2, 5, 0, raan_spread_deg=180.0),
    ]
    c = Constellation.from_shells(shells, "2026-03-01T00:00Z")
    assert len(c) == 22
    assert c.shell_id.tolist() == [0] * 12 + [1] * 10
    assert c.plane_id[:12].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert c.slot_id[12:].tolist() == [0, 1, 2, 3, 4] * 2
    assert set(c.status) == {"operational"}
    assert c.elements.epochs[0] == np.datetime64("2026-03-01T00:00", "ns")
    assert len(set(c.norad_ids)) == 22


@pytest.mark.parametrize(
    "module",
    [
        "skyfence.orbits",
        "skyfence.orbits.walker",
        "skyfence.orbits.presets",
        "skyfence.orbits.constellation",
        "skyfence.orbits.ephemeris",
        "skyfence.orbits.frames",
    ],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and (result.attempted > 0 or module == "skyfence.orbits")
