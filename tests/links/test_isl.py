"""Laser-link invariants: degree, symmetry, range, seams — Gen1 preset and the real snapshot."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.links import (
    CROSS_PLANE,
    IN_PLANE,
    SatelliteLayout,
    active_links,
    inter_shell_links,
    line_of_sight_clear,
    max_isl_length_km,
    plus_grid,
)
from skyfence.orbits import Constellation, ShellInfo

T0 = np.datetime64("2026-02-22T12:00:00", "ns")


def check_invariants(topo, layout, pos, max_lasers):
    e = topo.edges
    assert np.all(e[:, 0] < e[:, 1])  # stored once, undirected
    assert len(np.unique(e, axis=0)) == len(e)  # no duplicates
    assert topo.degree().max() <= max_lasers
    # symmetric adjacency
    import scipy.sparse as sp

    a = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(len(layout),) * 2)
    a = (a + a.T).tocsr()
    assert (a != a.T).nnz == 0
    # links stay within one shell
    assert np.all(layout.shell_id[e[:, 0]] == layout.shell_id[e[:, 1]])
    up, length = active_links(e, pos)
    r = np.linalg.norm(pos, axis=1)
    # the raised ellipsoid contains the sphere of the raised polar radius: an upper bound
    from skyfence.geodesy import WGS84_B_KM

    rg = WGS84_B_KM + 80.0
    lim = np.sqrt(r[e[:, 0]] ** 2 - rg**2) + np.sqrt(r[e[:, 1]] ** 2 - rg**2)
    assert np.all(length[up] <= lim[up] + 1e-6)
    # independent check: points along every up link stay above ~80 km geodetic altitude
    from skyfence.ground import ecef_to_geodetic

    f = np.linspace(0.0, 1.0, 41)[None, :, None]
    a, b = pos[e[up, 0]][:, None, :], pos[e[up, 1]][:, None, :]
    _, _, alt = ecef_to_geodetic(a + f * (b - a))
    assert alt.min() >= 80.0 - 1.0


def test_gen1_plus_grid(gen1):
    c, eph = gen1
    layout = SatelliteLayout.from_constellation(c)
    pos = eph.at(0)
    topo = plus_grid(layout, pos)
    check_invariants(topo, layout, pos, 4)
    # every satellite of a full Walker delta uses all four lasers
    assert np.all(topo.degree() == 4)
    assert len(topo.edges) == 2 * len(c)
    # in-plane neighbours are consecutive slots (ring), cross-plane partners in adjacent planes
    e, k = topo.edges, topo.kind
    ip = e[k == IN_PLANE]
    assert np.all(c.plane_id[ip[:, 0]] == c.plane_id[ip[:, 1]])
    q = np.array([s.sats_per_plane for s in c.shells])[c.shell_id[ip[:, 0]]]
    ds = (c.slot_id[ip[:, 1]] - c.slot_id[ip[:, 0]]) % q
    assert np.all((ds == 1) | (ds == q - 1))
    xp = e[k == CROSS_PLANE]
    planes = np.array([s.planes for s in c.shells])[c.shell_id[xp[:, 0]]]
    dp = (c.plane_id[xp[:, 1]] - c.plane_id[xp[:, 0]]) % planes
    assert np.all((dp == 1) | (dp == planes - 1))
    # the seam of the 72x22/17 shell: plane 71 slot s links to plane 0 slot s + F (mod 22)
    shell0 = c.shell_id == 0
    last = np.flatnonzero(shell0 & (c.plane_id == 71))
    first = np.flatnonzero(shell0 & (c.plane_id == 0))
    seam = xp[np.isin(xp[:, 0], first) & np.isin(xp[:, 1], last)]
    assert len(seam) == 22
    f = c.shells[0].phasing
    lo, hi = seam[:, 0], seam[:, 1]  # lo in plane 0, hi in plane 71
    assert np.all((c.slot_id[hi] + f) % 22 == c.slot_id[lo])
    # in the dense shells (72, 72 and 36 planes) every link is up at both instants; in the
    # 6- and 4-plane polar shells planes are 60-90 deg apart and cross-plane links go down near
    # the equator, where the line of sight would graze the atmosphere
    dense = c.shell_id[topo.edges[:, 0]] <= 2
    for t in range(2):
        up, length = active_links(topo.edges, eph.at(t))
        assert up[dense].all()
        assert length[dense].max() < 2500.0
        assert not up[~dense & (topo.kind == CROSS_PLANE)].all()


def test_gen1_links_hold_over_time(gen1):
    """The +Grid found at t0 keeps the same neighbour distances 10 minutes later (rigid Walker)."""
    c, eph = gen1
    topo = plus_grid(SatelliteLayout.from_constellation(c), eph.at(0))
    _, l0 = active_links(topo.edges, eph.at(0))
    _, l1 = active_links(topo.edges, eph.at(1))
    in_plane = topo.kind == IN_PLANE
    assert np.allclose(l0[in_plane], l1[in_plane], rtol=2e-3)


def test_walker_star_has_a_seam():
    shell = ShellInfo("polar", 560.0, 97.6, 6, 10, 1, raan_spread_deg=180.0)
    c = Constellation.from_shells([shell])
    pos = c.propagate(np.array([T0])).at(0)
    layout = SatelliteLayout.from_constellation(c)
    topo = plus_grid(layout, pos)
    check_invariants(topo, layout, pos, 4)
    xp = topo.edges[topo.kind == CROSS_PLANE]
    pair_planes = {tuple(sorted(p)) for p in c.plane_id[xp].tolist()}
    assert pair_planes == {(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)}  # no (0, 5) across the seam
    deg = topo.degree()
    assert np.all(deg[(c.plane_id == 0) | (c.plane_id == 5)] == 3)
    assert np.all(deg[(c.plane_id > 0) & (c.plane_id < 5)] == 4)


def test_laser_cap_prefers_in_plane(gen1):
    c, eph = gen1
    layout = SatelliteLayout.from_constellation(c)
    topo = plus_grid(layout, eph.at(0), max_lasers=2)
    assert topo.degree().max() <= 2
    assert np.all(topo.kind == IN_PLANE)


def test_line_of_sight_grazing():
    r = 6378.137 + 550.0
    # symmetric pair about the x axis: the segment's closest point is on the x axis at r*cos(θ)
    for theta_deg, expect in [(10.0, True), (25.0, False)]:
        th = np.radians(theta_deg)
        a = np.array([r * np.cos(th), r * np.sin(th), 0.0])
        b = np.array([r * np.cos(th), -r * np.sin(th), 0.0])
        clear = r * np.cos(th) >= 6378.137 + 80.0
        assert bool(line_of_sight_clear(a, b)) == clear == expect
    # the maximum length puts the closest point exactly at the grazing altitude
    length = float(max_isl_length_km(r, r))
    half = length / 2
    closest = np.sqrt(r**2 - half**2)
    assert np.isclose(closest, 6378.137 + 80.0)


def test_inter_shell_links_respect_cap(gen1):
    c, eph = gen1
    layout = SatelliteLayout.from_constellation(c)
    pos = eph.at(0)
    used = np.zeros(len(c), np.int64)
    used[c.shell_id == 0] = 3  # one free laser in shell 0
    used[c.shell_id == 1] = 3
    extra = inter_shell_links(layout, pos, used, max_lasers=4)
    assert len(extra) > 0
    total = used + np.bincount(extra.ravel(), minlength=len(c))
    assert total.max() <= 4
    assert np.all(layout.shell_id[extra[:, 0]] != layout.shell_id[extra[:, 1]])
    assert line_of_sight_clear(pos[extra[:, 0]], pos[extra[:, 1]]).all()


@pytest.mark.slow
def test_real_snapshot_plus_grid(starlink_tle):
    c = Constellation.from_file(starlink_tle)
    layout = SatelliteLayout.from_constellation(c)
    eph = c.propagate(np.array([np.datetime64("2026-02-22T12:00:00", "ns")]))
    pos = eph.at(0)
    topo = plus_grid(layout, pos)
    check_invariants(topo, layout, pos, 4)
    in_shell = layout.shell_id >= 0
    deg = topo.degree()
    assert np.all(deg[~in_shell] == 0)  # no lasers for satellites outside the shells
    # most shell satellites have a full +Grid
    assert np.mean(deg[in_shell] == 4) > 0.5
    # links connect satellites of the same shell and adjacent (or same) planes
    e = topo.edges[topo.kind == CROSS_PLANE]
    assert np.all(layout.plane_id[e[:, 0]] != layout.plane_id[e[:, 1]])


# Real element sets of 22 Feb 2026 (one per launch): designator -> (line 1, line 2, v1.0?)
_TLE = {
    "19074B": ("1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998",
               "2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616", True),
    "20001M": ("1 44925U 20001M   26054.25002314  .00418526  83590-4  91606-3 0  9991",
               "2 44925  53.0381 315.9293 0001781 156.0044  45.1512 15.97657856  6053", True),
    "21044B": ("1 48639U 21044B   26054.16668981  .01674483  00000+0  62847-1 0  9993",
               "2 48639  53.1306 181.2348 0001122  99.5390 145.9800 15.23864665  5769", True),
    "21059B": ("1 48880U 21059B   26054.09201636  .00001776  00000+0  14285-3 0  9992",
               "2 48880  97.6594 180.9035 0001695  82.9255 277.2161 15.01257818256612", False),
    "21082B": ("1 49131U 21082B   26054.16668981  .00071417  00000+0  45813-2 0  9995",
               "2 49131  70.0006 290.9412 0003633 262.3053   1.5378 15.08088959  5794", False),
    "21104A": ("1 49408U 21104A   26054.16668981  .00076924  00000+0  42393-2 0  9995",
               "2 49408  53.2170 294.2423 0002055  85.6505 114.5665 15.13327020  5784", False),
}  # fmt: skip


def test_first_generation_rule_on_real_element_sets():
    from sgp4.api import Satrec

    from skyfence.links import first_generation
    from skyfence.orbits.constellation import elements_from_satrecs

    sats = [Satrec.twoline2rv(a, b) for a, b, _ in _TLE.values()]
    es = elements_from_satrecs(sats)
    assert es.international_designators.tolist() == list(_TLE)  # columns 10-17 of line 1
    got = first_generation(es.international_designators, es.inclination_deg)
    assert got.tolist() == [v for _, _, v in _TLE.values()]
    # the long form reads the same; a polar orbit before 2021-059 (Transporter-1) has lasers
    assert first_generation(["2019-074B", "2021-006A", "1998-067A"], [53.0, 97.5, 51.6]).tolist() == [
        True, False, False,
    ]  # fmt: skip


def test_satellites_without_lasers_get_none(gen1):
    c, eph = gen1
    layout = SatelliteLayout.from_constellation(c)
    pos = eph.at(0)
    full = plus_grid(layout, pos)
    shell0 = layout.shell_id == 0
    plane0 = np.flatnonzero(shell0 & (layout.plane_id == 0))
    lone = plane0[layout.slot_id[plane0] == 3][0]  # one satellite of plane 0 of shell 0
    gone = np.flatnonzero(shell0 & (layout.plane_id == 5))  # a whole plane
    mask = np.zeros(len(layout), dtype=bool)
    mask[lone] = True
    mask[gone] = True
    topo = plus_grid(layout.without_lasers(mask), pos)
    deg = topo.degree()
    assert np.all(deg[mask] == 0)
    # plane 0's ring closes over the missing satellite: its two neighbours now link
    ring = plane0[np.argsort(layout.slot_id[plane0])]
    k = int(np.flatnonzero(ring == lone)[0])
    nb = sorted((int(ring[k - 1]), int(ring[(k + 1) % len(ring)])))
    assert any((topo.edges == nb).all(axis=1))
    # links between satellites of planes far from the changes (and other shells) are unchanged
    last = layout.plane_id[shell0].max()
    far = (layout.shell_id >= 0) & ~(shell0 & np.isin(layout.plane_id, [0, 1, 4, 5, 6, last]))
    keep = lambda e: e[far[e[:, 0]] & far[e[:, 1]]]  # noqa: E731
    assert np.array_equal(np.unique(keep(full.edges), axis=0), np.unique(keep(topo.edges), axis=0))
    with pytest.raises(Exception, match="no_lasers"):
        layout.without_lasers(mask[:-1])
