"""Laser inter-satellite links (ISLs): +Grid topology per shell, range limits, a laser cap.

+Grid: every satellite links to its two neighbours in its plane (previous and next by argument of
latitude) and to one satellite in each adjacent plane. The cross-plane partner is found once,
from positions at a reference instant: for planes of equal occupancy the cyclic slot offset that
minimises the summed link length (for a Walker delta i:T/P/F this is the phasing offset, including
the seam between the last and the first plane, where the offset is ``F`` slots); for unequal
planes (real element sets) a minimum-length one-to-one matching
(``scipy.optimize.linear_sum_assignment``). A Walker star (RAAN spread < 360°, e.g. polar shells
over 180°) has a seam: no links between its last and first plane, whose satellites move in
opposite directions.

Per time step a link is up when both ends have valid positions, the line of sight stays above
``grazing_altitude_km`` (80 km by default) over the WGS84 ellipsoid, and its length is within the
optional ``max_length_km``.

Not every satellite carries lasers: :func:`first_generation` flags Starlink's v0.9/v1.0
satellites (no laser terminals) from their international designators, and
:meth:`SatelliteLayout.without_lasers` takes such satellites out of the laser plan (they still
serve as bent pipes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from skyfence.errors import InputError
from skyfence.geodesy import WGS84_A_KM, WGS84_B_KM

__all__ = [
    "SatelliteLayout",
    "IslTopology",
    "IN_PLANE",
    "CROSS_PLANE",
    "INTER_SHELL",
    "plus_grid",
    "max_isl_length_km",
    "line_of_sight_clear",
    "active_links",
    "inter_shell_links",
    "first_generation",
    "FIRST_LASER_LAUNCH",
]

#: International designator (``YYNNN``) before which Starlink satellites in 53-degree orbits
#: have no lasers (see :func:`first_generation`).
FIRST_LASER_LAUNCH = "21059"

IN_PLANE, CROSS_PLANE, INTER_SHELL = 0, 1, 2


@dataclass(frozen=True)
class SatelliteLayout:
    """Which shell, plane and slot each satellite occupies (from a ``Constellation``).

    Attributes
    ----------
    shell_id, plane_id, slot_id : (S,) int64
        ``-1`` = unknown (not in a shell); no lasers are planned for such satellites.
    raan_spread_deg : (n_shells,) float64
        360 for a Walker delta (planes all round: the last plane links to the first), less for a
        Walker star (a seam without links).
    names : (S,) str
        Labels used in paths.
    """

    shell_id: np.ndarray
    plane_id: np.ndarray
    slot_id: np.ndarray
    raan_spread_deg: np.ndarray
    names: np.ndarray

    def __len__(self) -> int:
        return len(self.shell_id)

    def without_lasers(self, no_lasers: np.ndarray) -> SatelliteLayout:
        """This layout with the satellites flagged in ``no_lasers`` ((S,) bool) taken out of
        their shells (``shell_id = -1``), so no laser is planned to or from them; the others'
        +Grid is planned among themselves (a plane's laser satellites link to the next laser
        satellite of the plane)."""
        mask = np.asarray(no_lasers, dtype=bool)
        if mask.shape != self.shell_id.shape:
            raise InputError(f"no_lasers must be ({len(self)},), got {mask.shape}")
        return SatelliteLayout(
            shell_id=np.where(mask, -1, self.shell_id),
            plane_id=self.plane_id,
            slot_id=self.slot_id,
            raan_spread_deg=self.raan_spread_deg,
            names=self.names,
        )

    @classmethod
    def from_constellation(cls, constellation: Any) -> SatelliteLayout:
        """Read ``shell_id``, ``plane_id``, ``slot_id``, ``shells`` (and names) of a Constellation."""
        shells = list(getattr(constellation, "shells", []))
        names = getattr(getattr(constellation, "elements", None), "names", None)
        n = len(constellation.shell_id)
        return cls(
            shell_id=np.asarray(constellation.shell_id, dtype=np.int64),
            plane_id=np.asarray(constellation.plane_id, dtype=np.int64),
            slot_id=np.asarray(constellation.slot_id, dtype=np.int64),
            raan_spread_deg=np.asarray(
                [float(s.raan_spread_deg) for s in shells], dtype=np.float64
            ),
            names=np.asarray(
                names if names is not None else [f"sat-{i}" for i in range(n)], dtype=object
            ),
        )

    @classmethod
    def walker(
        cls, shells: Sequence[tuple[int, int]], raan_spread_deg: Sequence[float] | None = None
    ) -> SatelliteLayout:
        """Layout of Walker shells in plane-major order: ``shells`` = [(planes, sats_per_plane), ...]."""
        sid, pid, lid = [], [], []
        for k, (p, q) in enumerate(shells):
            sid.append(np.full(p * q, k))
            pid.append(np.repeat(np.arange(p), q))
            lid.append(np.tile(np.arange(q), p))
        spread = [360.0] * len(shells) if raan_spread_deg is None else list(raan_spread_deg)
        n = int(sum(p * q for p, q in shells))
        return cls(
            shell_id=np.concatenate(sid).astype(np.int64),
            plane_id=np.concatenate(pid).astype(np.int64),
            slot_id=np.concatenate(lid).astype(np.int64),
            raan_spread_deg=np.asarray(spread, dtype=np.float64),
            names=np.asarray([f"sat-{i}" for i in range(n)], dtype=object),
        )


@dataclass(frozen=True)
class IslTopology:
    """Planned laser links: ``edges`` (E, 2) int64 with ``edges[:, 0] < edges[:, 1]``, ``kind`` (E,)
    (:data:`IN_PLANE`, :data:`CROSS_PLANE`, :data:`INTER_SHELL`)."""

    edges: np.ndarray
    kind: np.ndarray
    n_sats: int

    def degree(self) -> np.ndarray:
        """(S,) lasers used per satellite."""
        return np.bincount(self.edges.ravel(), minlength=self.n_sats)


def max_isl_length_km(
    radius1_km: float | np.ndarray,
    radius2_km: float | np.ndarray,
    grazing_altitude_km: float = 80.0,
) -> np.ndarray:
    """Longest link between satellites at geocentric radii r1, r2 whose line of sight stays above
    ``grazing_altitude_km`` over a sphere of the WGS84 equatorial radius.

    Examples
    --------
    >>> round(float(max_isl_length_km(6378.137 + 550, 6378.137 + 550)), 1)
    5016.6
    """
    rg = WGS84_A_KM + grazing_altitude_km
    r1 = np.asarray(radius1_km, dtype=np.float64)
    r2 = np.asarray(radius2_km, dtype=np.float64)
    return np.sqrt(np.maximum(r1**2 - rg**2, 0.0)) + np.sqrt(np.maximum(r2**2 - rg**2, 0.0))


def line_of_sight_clear(
    a_km: np.ndarray, b_km: np.ndarray, grazing_altitude_km: float = 80.0
) -> np.ndarray:
    """True where the segment a–b stays outside the ellipsoid with semi-axes
    (a + h, a + h, b + h), h = ``grazing_altitude_km`` (the WGS84 ellipsoid raised by h).

    Scaling z by (a+h)/(b+h) turns that ellipsoid into a sphere; segments stay segments.
    """
    ra = WGS84_A_KM + grazing_altitude_km
    scale = np.array([1.0, 1.0, ra / (WGS84_B_KM + grazing_altitude_km)])
    p = np.asarray(a_km, dtype=np.float64) * scale
    q = np.asarray(b_km, dtype=np.float64) * scale
    d = q - p
    dd = np.einsum("...i,...i->...", d, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(-np.einsum("...i,...i->...", p, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    closest = p + t[..., None] * d
    return np.einsum("...i,...i->...", closest, closest) >= ra * ra


def _best_offset(a: np.ndarray, b: np.ndarray) -> int:
    q = len(a)
    dist = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)  # (q, q)
    idx = (np.arange(q)[:, None] + np.arange(q)[None, :]) % q  # [s, k] -> partner slot s+k
    total = np.nansum(dist[np.arange(q)[:, None], idx], axis=0)
    return int(np.argmin(total))


def plus_grid(
    layout: SatelliteLayout,
    positions_ecef_km: np.ndarray,
    *,
    max_lasers: int = 4,
    cross_plane: bool = True,
) -> IslTopology:
    """Plan +Grid links for every shell of ``layout`` from positions ``(S, 3)`` at a reference time.

    Links are accepted in priority order (in-plane, then cross-plane) while both ends have a
    free laser, so no satellite uses more than ``max_lasers``.
    """
    if max_lasers < 0:
        raise InputError(f"max_lasers must be >= 0, got {max_lasers}")
    pos = np.asarray(positions_ecef_km, dtype=np.float64)
    if pos.shape != (len(layout), 3):
        raise InputError(f"positions must be (S, 3) = ({len(layout)}, 3), got {pos.shape}")
    edges: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    for shell in np.unique(layout.shell_id[layout.shell_id >= 0]):
        in_shell = (layout.shell_id == shell) & (layout.plane_id >= 0) & (layout.slot_id >= 0)
        idx = np.flatnonzero(in_shell)
        planes = np.unique(layout.plane_id[idx])
        members: dict[int, np.ndarray] = {}
        for p in planes:
            m = idx[layout.plane_id[idx] == p]
            members[int(p)] = m[np.argsort(layout.slot_id[m], kind="stable")]
        # in-plane ring
        for m in members.values():
            if len(m) >= 2:
                nxt = np.roll(m, -1)
                pairs = (
                    np.stack([m, nxt], axis=1) if len(m) > 2 else np.stack([m[:1], m[1:]], axis=1)
                )
                edges.append(pairs)
                kinds.append(np.full(len(pairs), IN_PLANE))
        if not cross_plane or len(planes) < 2:
            continue
        spread = (
            float(layout.raan_spread_deg[shell]) if shell < len(layout.raan_spread_deg) else 360.0
        )
        plane_list = [int(p) for p in planes]
        pairs_of_planes = list(zip(plane_list[:-1], plane_list[1:], strict=True))
        if spread > 270.0 and len(plane_list) > 2:
            pairs_of_planes.append((plane_list[-1], plane_list[0]))
        for pa, pb in pairs_of_planes:
            a, b = members[pa], members[pb]
            ok_a = np.all(np.isfinite(pos[a]), axis=1)
            ok_b = np.all(np.isfinite(pos[b]), axis=1)
            if len(a) == len(b) and ok_a.all() and ok_b.all():
                k = _best_offset(pos[a], pos[b])
                partner = b[(np.arange(len(a)) + k) % len(b)]
                pairs = np.stack([a, partner], axis=1)
            else:
                a, b = a[ok_a], b[ok_b]
                if len(a) == 0 or len(b) == 0:
                    continue
                cost = np.linalg.norm(pos[a][:, None, :] - pos[b][None, :, :], axis=-1)
                ri, ci = linear_sum_assignment(cost)
                pairs = np.stack([a[ri], b[ci]], axis=1)
            edges.append(pairs)
            kinds.append(np.full(len(pairs), CROSS_PLANE))
    if not edges:
        return IslTopology(
            np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int8), len(layout)
        )
    e = np.concatenate(edges).astype(np.int64)
    kd = np.concatenate(kinds).astype(np.int8)
    e = np.sort(e, axis=1)
    # drop duplicates (tiny planes) keeping the first (highest priority) occurrence
    _, first = np.unique(e, axis=0, return_index=True)
    first = np.sort(first)
    e, kd = e[first], kd[first]
    e, kd = _cap(e, kd, len(layout), max_lasers)
    return IslTopology(e, kd, len(layout))


def _cap(
    edges: np.ndarray, kind: np.ndarray, n: int, max_lasers: int
) -> tuple[np.ndarray, np.ndarray]:
    deg = np.bincount(edges.ravel(), minlength=n)
    if len(edges) == 0 or deg.max(initial=0) <= max_lasers:
        return edges, kind
    used = np.zeros(n, dtype=np.int64)
    keep = np.zeros(len(edges), dtype=bool)
    for i in np.argsort(kind, kind="stable"):
        a, b = edges[i]
        if used[a] < max_lasers and used[b] < max_lasers:
            used[a] += 1
            used[b] += 1
            keep[i] = True
    return edges[keep], kind[keep]


def active_links(
    edges: np.ndarray,
    positions_ecef_km: np.ndarray,
    *,
    grazing_altitude_km: float = 80.0,
    max_length_km: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which planned links are up at one instant: ``(up (E,) bool, length_km (E,))``."""
    pos = np.asarray(positions_ecef_km, dtype=np.float64)
    a, b = pos[edges[:, 0]], pos[edges[:, 1]]
    length = np.linalg.norm(b - a, axis=1)
    up = np.isfinite(length) & line_of_sight_clear(a, b, grazing_altitude_km)
    if max_length_km is not None:
        up &= length <= max_length_km
    return up, length


def inter_shell_links(
    layout: SatelliteLayout,
    positions_ecef_km: np.ndarray,
    used_lasers: np.ndarray,
    *,
    max_lasers: int = 4,
    grazing_altitude_km: float = 80.0,
    max_length_km: float | None = None,
) -> np.ndarray:
    """Links from satellites with a free laser to the nearest satellite (with a free laser) in the
    next shell by altitude, at one instant; greedy by length. Returns (E, 2) int64."""
    pos = np.asarray(positions_ecef_km, dtype=np.float64)
    used = np.asarray(used_lasers, dtype=np.int64).copy()
    ok = np.all(np.isfinite(pos), axis=1) & (layout.shell_id >= 0)
    shells = np.unique(layout.shell_id[ok])
    if len(shells) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    radius = np.linalg.norm(np.where(ok[:, None], pos, 0.0), axis=1)
    mean_r = np.array([radius[ok & (layout.shell_id == s)].mean() for s in shells])
    order = shells[np.argsort(mean_r)]
    out: list[tuple[int, int]] = []
    for lo, hi in zip(order[:-1], order[1:], strict=True):
        a = np.flatnonzero(ok & (layout.shell_id == lo) & (used < max_lasers))
        b = np.flatnonzero(ok & (layout.shell_id == hi) & (used < max_lasers))
        if len(a) == 0 or len(b) == 0:
            continue
        dist, j = cKDTree(pos[b]).query(pos[a], k=1)
        cand = np.argsort(dist)
        for i in cand:
            x, y = int(a[i]), int(b[j[i]])
            if used[x] >= max_lasers or used[y] >= max_lasers:
                continue
            if max_length_km is not None and dist[i] > max_length_km:
                continue
            if not line_of_sight_clear(pos[x], pos[y], grazing_altitude_km):
                continue
            used[x] += 1
            used[y] += 1
            out.append((min(x, y), max(x, y)))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def first_generation(
    international_designators: Sequence[str] | np.ndarray,
    inclination_deg: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """(S,) bool: Starlink satellites of the first generation (v0.9 and v1.0), which carry no
    laser terminals.

    The rule, from the public launch record: Starlink's v0.9 (launch 2019-029) and v1.0
    satellites (launches 2019-074 to 2021-044, the last on 26 May 2021) were all launched into
    the 53.0-degree shell and have no lasers; the first laser-equipped Starlinks flew to polar
    orbits on Transporter-1 (2021-006, 10 satellites, 97.5 degrees) and Transporter-2
    (2021-059, 3 satellites), and every Starlink launch from 2021-082 (Group 2-1, 14 Sep 2021,
    70 degrees) on carries v1.5 or later satellites, all with lasers (Jonathan McDowell's
    Starlink launch list, planet4589.org/space/con/star, gives each launch's satellite
    version). The 22 Feb 2026 element sets agree: every 2019-2021 designator before 2021-059
    is at 53.0-53.2 degrees, 2021-059 at 97.7 and 2021-082 at 70.0. So a
    satellite is first-generation when its international designator (TLE line 1, columns
    10-17, ``YYNNNPPP``) is earlier than :data:`FIRST_LASER_LAUNCH` (2021-059) and its orbit
    is inclined less than 60 degrees (which leaves out Transporter-1's polar laser
    satellites). Designators in either form (``19074B`` or ``2019-074B``) are read; a missing
    or unreadable designator is not flagged.

    Examples
    --------
    >>> first_generation(["19074B", "2021-044A", "21006K", "21082C", "24001A", ""],
    ...                  [53.05, 53.05, 97.5, 70.0, 43.0, 53.0]).tolist()
    [True, True, False, False, False, False]
    """
    des = np.asarray(international_designators, dtype=object)
    inc = np.asarray(inclination_deg, dtype=np.float64)
    if des.shape != inc.shape:
        raise InputError(f"designators {des.shape} and inclinations {inc.shape} differ in shape")
    out = np.zeros(des.shape, dtype=bool)
    for i, d in enumerate(des):
        text = str(d or "").strip()
        if len(text) >= 9 and text[4] == "-":  # 2019-074B -> 19074B
            text = text[2:4] + text[5:]
        key = text[:5]
        if len(key) == 5 and key.isdigit():
            year = int(key[:2])
            year += 1900 if year >= 57 else 2000
            out[i] = 2019 <= year and key < FIRST_LASER_LAUNCH and year <= 2021
    return out & (inc < 60.0)
