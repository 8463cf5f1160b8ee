"""Find the shells, planes and slots of a real element set, and label satellites off-station.

The method, in four steps (all vectorised; scipy does the density work):

1. **Shells.** Each satellite is a point (inclination, mean altitude a − 6,378.137 km). The
   points are binned on a fine grid (0.02° × 1 km), smoothed with
   :func:`scipy.ndimage.gaussian_filter` and the local maxima of the density
   (:func:`scipy.ndimage.maximum_filter`) holding at least ``min_shell_sats`` satellites
   within the tolerance ellipse become shell centres. Each satellite joins the nearest centre
   (:class:`scipy.spatial.cKDTree` in units of the tolerances) if it lies inside the ellipse
   ``(Δi / inc_tol_deg)² + (Δalt / alt_tol_km)² ≤ 1``. Centres below
   ``min_shell_altitude_km`` (default 400 km) are *not* shells: Starlink inserts new
   satellites at about 280–360 km and lowers retired ones through the same band, so dense
   groups there are batches in transit.
2. **Planes.** Within a shell the RAAN of every satellite is carried to one common epoch
   (the median epoch of the set) with SGP4's own secular J2 rate (``Satrec.nodedot``);
   satellites of one plane then share a RAAN. Sorted RAANs are split where the gap to the next
   one exceeds ``plane_gap_deg`` (1-D gap splitting on the circle); planes are numbered by
   RAAN from the largest gap.
3. **Slots.** Within a plane satellites are ordered by argument of latitude
   (``ω + M`` carried to the common epoch with ``Satrec.argpdot + Satrec.mdot``).
4. **Status** of satellites not in a shell: ``"raising"`` if their mean motion is falling
   (TLE ``ṅ/2 < 0``: the orbit grows) and a shell of their inclination lies above them;
   ``"decaying"`` if it is rising (the orbit shrinks) and they are below every shell of their
   inclination, or they are below 300 km; ``"off-station"`` otherwise (between shells, above
   their shell, an inclination no shell has, or an element set more than
   ``stale_days`` older than the newest).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skyfence.errors import ConfigurationError, InputError
from skyfence.orbits.elements import ElementSet
from skyfence.orbits.walker import ShellInfo, mean_altitude_km

__all__ = [
    "ClusterResult",
    "cluster_constellation",
    "read_element_file",
    "altitude_rate_km_day",
]

_DECAY_ALTITUDE_KM = 300.0
_RAISING_KM_DAY = 0.05  # growing faster than this: raising
_SINKING_KM_DAY = -0.2  # shrinking faster than drag-compensated satellites do: decaying
_ALT_MARGIN_KM = 8.0
_CORE_RADIUS = 0.35
_CORE_FRACTION = 0.6


@dataclass(frozen=True)
class ClusterResult:
    """Labels found by :func:`cluster_constellation` (arrays have one row per satellite)."""

    shells: list[ShellInfo]
    shell_id: np.ndarray
    plane_id: np.ndarray
    slot_id: np.ndarray
    status: np.ndarray
    raan_common_deg: np.ndarray
    arg_latitude_common_deg: np.ndarray
    common_epoch: np.datetime64


def read_element_file(path: str | Path) -> ElementSet:
    """Read an element-set file with :meth:`ElementSet.from_file` (any supported format)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"element-set file {path} does not exist")
    return ElementSet.from_file(path)


def cluster_constellation(
    elements: ElementSet,
    shells: list[ShellInfo] | None = None,
    *,
    inc_tol_deg: float = 0.15,
    alt_tol_km: float = 8.0,
    min_shell_sats: int = 40,
    min_shell_altitude_km: float = 400.0,
    plane_gap_deg: float = 1.0,
    stale_days: float = 7.0,
) -> ClusterResult:
    """Group real satellites into shells, planes and slots and label the ones off-station.

    Parameters
    ----------
    elements : ElementSet
    shells : list[ShellInfo], optional
        Known shells to assign satellites to (by the ``shell`` label of the elements when it
        names one of them, else by the tolerance ellipse); found by density when omitted.
    inc_tol_deg, alt_tol_km : float
        Half-axes of the ellipse in (inclination, altitude) within which a satellite is on
        station in a shell.
    min_shell_sats : int
        Fewest satellites a density peak needs to count as a shell.
    min_shell_altitude_km : float
        Density peaks below this are batches in transit, not shells.
    plane_gap_deg : float
        A gap in common-epoch RAAN wider than this starts a new plane.
    stale_days : float
        Element sets older than the newest by more than this are ``"off-station"``.

    Returns
    -------
    ClusterResult
    """
    if inc_tol_deg <= 0 or alt_tol_km <= 0 or plane_gap_deg <= 0 or min_shell_sats < 1:
        raise ConfigurationError(
            "inc_tol_deg, alt_tol_km and plane_gap_deg must be > 0 and min_shell_sats >= 1"
        )
    n = len(elements)
    inc = elements.inclination_deg.astype(np.float64)
    alt = elements.mean_altitude_km.astype(np.float64)
    shell_id = np.full(n, -1, dtype=np.int64)
    plane_id = np.full(n, -1, dtype=np.int64)
    slot_id = np.full(n, -1, dtype=np.int64)
    status = np.full(n, "off-station", dtype=object)
    common_epoch = (
        np.datetime64(int(np.median(elements.epochs.astype("int64"))), "ns")
        if n
        else np.datetime64("NaT", "ns")
    )
    raan_c, u_c = _common_epoch_angles(elements, common_epoch)
    if n == 0:
        return ClusterResult([], shell_id, plane_id, slot_id, status, raan_c, u_c, common_epoch)

    if shells is None:
        centres = _density_centres(
            inc, alt, inc_tol_deg, alt_tol_km, min_shell_sats, min_shell_altitude_km
        )
        labels_known = None
    else:
        centres = np.array([[s.inclination_deg, s.altitude_km] for s in shells], dtype=float)
        centres = centres.reshape(-1, 2)
        by_name = {s.name: k for k, s in enumerate(shells)}
        labels_known = np.array([by_name.get(str(s), -1) for s in elements.shell])

    member = _assign(inc, alt, centres, inc_tol_deg, alt_tol_km)
    if labels_known is not None:
        member = np.where(labels_known >= 0, labels_known, member)

    found: list[ShellInfo] = []
    source = f"clustered from {elements.source}" if elements.source else "clustered"
    for k in range(len(centres)):
        sel = np.flatnonzero(member == k)
        if shells is None and len(sel) < min_shell_sats:
            continue
        new_id = len(found)
        shell_id[sel] = new_id
        p_ids, s_ids = _planes_and_slots(raan_c[sel], u_c[sel], plane_gap_deg)
        plane_id[sel] = p_ids
        slot_id[sel] = s_ids
        n_planes = int(p_ids.max()) + 1 if len(sel) else 0
        occupancy = np.bincount(p_ids, minlength=n_planes) if len(sel) else np.zeros(0)
        if shells is not None:
            info = shells[k]
        else:
            med_inc = float(np.median(inc[sel]))
            med_n = float(np.median(elements.mean_motion_rev_per_day[sel]))
            h = mean_altitude_km(med_n, med_inc, 0.0, common_epoch)
            info = ShellInfo(
                name=f"{h:.0f}km-{med_inc:.1f}deg",
                altitude_km=round(h, 1),
                inclination_deg=round(med_inc, 2),
                planes=n_planes,
                sats_per_plane=int(np.median(occupancy)) if len(occupancy) else 0,
                phasing=-1,
                raan_spread_deg=360.0,
                source=source,
            )
        found.append(info)
        status[sel] = "operational"
    if shells is not None:
        found = list(shells)

    _label_off_station(elements, inc, alt, shell_id, status, found, inc_tol_deg, stale_days)
    return ClusterResult(found, shell_id, plane_id, slot_id, status, raan_c, u_c, common_epoch)


# ---------------------------------------------------------------------- steps
def _common_epoch_angles(
    elements: ElementSet, common_epoch: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    """RAAN and argument of latitude (deg) carried to ``common_epoch`` by SGP4's J2 rates."""
    n = len(elements)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    sats = elements.to_satrecs()
    nodedot = np.array([s.nodedot for s in sats])  # rad/min
    udot = np.array([s.argpdot + s.mdot for s in sats])
    dt_min = (common_epoch - elements.epochs).astype("int64") / 60e9
    raan = np.mod(elements.raan_deg + np.degrees(nodedot * dt_min), 360.0)
    u = np.mod(
        elements.arg_perigee_deg + elements.mean_anomaly_deg + np.degrees(udot * dt_min), 360.0
    )
    return raan, u


def _density_centres(
    inc: np.ndarray,
    alt: np.ndarray,
    inc_tol: float,
    alt_tol: float,
    min_sats: int,
    min_alt: float,
) -> np.ndarray:
    """Local maxima of the smoothed (inclination, altitude) density with enough satellites."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    ok = np.isfinite(inc) & np.isfinite(alt) & (alt > 0) & (alt < 50_000)
    if not ok.any():
        return np.zeros((0, 2))
    di, da = 0.02, 1.0
    i_edges = np.arange(inc[ok].min() - 5 * inc_tol, inc[ok].max() + 5 * inc_tol + di, di)
    a_edges = np.arange(alt[ok].min() - 5 * alt_tol, alt[ok].max() + 5 * alt_tol + da, da)
    hist, _, _ = np.histogram2d(inc[ok], alt[ok], bins=[i_edges, a_edges])
    density = ndimage.gaussian_filter(hist, sigma=(inc_tol / di / 2.0, alt_tol / da / 4.0))
    footprint = (int(inc_tol / di) | 1, int(alt_tol / da) | 1)
    peaks = (density == ndimage.maximum_filter(density, size=footprint)) & (density > 0)
    pi, pa = np.nonzero(peaks)
    cand = np.column_stack(
        [(i_edges[pi] + i_edges[pi + 1]) / 2.0, (a_edges[pa] + a_edges[pa + 1]) / 2.0]
    )
    if len(cand) == 0:
        return cand
    # keep peaks with enough satellites inside their tolerance ellipse, densest first
    scaled = np.column_stack([inc[ok] / inc_tol, alt[ok] / alt_tol])
    tree = cKDTree(scaled)
    scaled_cand = cand / [inc_tol, alt_tol]
    counts = np.array([len(m) for m in tree.query_ball_point(scaled_cand, r=1.0)])
    core = np.array([len(m) for m in tree.query_ball_point(scaled_cand, r=_CORE_RADIUS)])
    # a shell is compact: most of its satellites sit in the inner third of the ellipse (a
    # smear of satellites in transit along altitude puts only about a third there)
    counts = np.where(core >= _CORE_FRACTION * counts, counts, 0)
    order = np.argsort(-counts, kind="stable")
    kept: list[np.ndarray] = []
    for j in order:
        if counts[j] < min_sats:
            break
        c = cand[j]
        # refine to the median of the members, then drop near-duplicates of stronger peaks
        idx = tree.query_ball_point([c[0] / inc_tol, c[1] / alt_tol], r=1.0)
        c = np.array([np.median(inc[ok][idx]), np.median(alt[ok][idx])])
        scale = np.array([inc_tol, alt_tol])
        if any(float(np.sum(((c - k) / scale) ** 2)) < 1.0 for k in kept):
            continue
        kept.append(c)
    centres = np.array(kept).reshape(-1, 2)
    centres = centres[centres[:, 1] >= min_alt]
    return centres[np.lexsort((centres[:, 1], centres[:, 0]))]


def _assign(
    inc: np.ndarray, alt: np.ndarray, centres: np.ndarray, inc_tol: float, alt_tol: float
) -> np.ndarray:
    """Index of the nearest centre within the tolerance ellipse, else -1."""
    from scipy.spatial import cKDTree

    out = np.full(len(inc), -1, dtype=np.int64)
    if len(centres) == 0:
        return out
    pts = np.column_stack([inc / inc_tol, alt / alt_tol])
    good = np.all(np.isfinite(pts), axis=1)
    tree = cKDTree(centres / [inc_tol, alt_tol])
    dist, idx = tree.query(pts[good], k=1)
    out[np.flatnonzero(good)[dist <= 1.0]] = idx[dist <= 1.0]
    return out


def _planes_and_slots(
    raan: np.ndarray, u: np.ndarray, gap_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split RAANs on the circle at gaps wider than ``gap_deg``; order slots by u."""
    n = len(raan)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(raan, kind="stable")
    r = raan[order]
    gaps = np.diff(np.append(r, r[0] + 360.0))  # gap after each sorted element
    # begin just after the widest gap; on a tie prefer the wrap at 360 deg, so an even
    # Walker spread numbers its planes from the smallest RAAN
    widest = n - 1 if gaps[-1] >= gaps.max() - 1e-9 else int(np.argmax(gaps))
    start = (widest + 1) % n
    rolled = np.roll(order, -start)
    g = np.roll(gaps, -start)
    breaks = g[:-1] > gap_deg
    plane_sorted = np.concatenate([[0], np.cumsum(breaks)])
    plane = np.empty(n, dtype=np.int64)
    plane[rolled] = plane_sorted
    # slot: rank of u within each plane
    key = np.lexsort((u, plane))
    slot = np.empty(n, dtype=np.int64)
    first = np.searchsorted(plane[key], plane[key], side="left")
    slot[key] = np.arange(n) - first
    return plane, slot


def altitude_rate_km_day(elements: ElementSet) -> np.ndarray:
    """Rate of change of the mean altitude implied by the TLE's ``ṅ/2`` term, km/day.

    ``da/dt = -(2/3) a ṅ / n`` with ``ṅ = 2 × mean_motion_dot``: negative while the orbit
    shrinks (drag, lowering), positive while it grows (raising).
    """
    n = elements.mean_motion_rev_per_day
    return -(2.0 / 3.0) * elements.semi_major_axis_km * (2.0 * elements.mean_motion_dot) / n


def _label_off_station(
    elements: ElementSet,
    inc: np.ndarray,
    alt: np.ndarray,
    shell_id: np.ndarray,
    status: np.ndarray,
    shells: list[ShellInfo],
    inc_tol: float,
    stale_days: float,
) -> None:
    out = shell_id < 0
    if not out.any():
        return
    rate = altitude_rate_km_day(elements)
    epochs = elements.epochs.astype("int64")
    stale = (epochs.max() - epochs) > stale_days * 86400e9
    shell_inc = np.array([s.inclination_deg for s in shells]) if shells else np.zeros(0)
    shell_alt = np.array([s.altitude_km for s in shells]) if shells else np.zeros(0)
    group_tol = max(0.5, 3 * inc_tol)
    for i in np.flatnonzero(out):
        same = np.abs(shell_inc - inc[i]) <= group_tol
        below_all = not same.any() or alt[i] < shell_alt[same].min() - 2 * _ALT_MARGIN_KM
        if stale[i]:
            status[i] = "off-station"
        elif alt[i] < _DECAY_ALTITUDE_KM and rate[i] <= _RAISING_KM_DAY:
            status[i] = "decaying"
        elif rate[i] > _RAISING_KM_DAY and same.any() and alt[i] < shell_alt[same].max():
            status[i] = "raising"
        elif rate[i] < _SINKING_KM_DAY and below_all:
            status[i] = "decaying"
        else:
            status[i] = "off-station"
