"""``Constellation``: satellites with their shell/plane/slot labels, and their propagation.

A constellation is an :class:`~skyfence.orbits.elements.ElementSet` plus labels (shell, plane,
slot, status). :meth:`Constellation.propagate` and :meth:`Constellation.iter_propagate` turn it
into :class:`~skyfence.orbits.ephemeris.Ephemeris` objects; the work is done by the engine in
:mod:`skyfence.orbits.propagation` (SGP4 over blocks of time steps, TEME → Earth-fixed through
GMST, optional WGS84 geodetic in the same pass, optional worker processes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import ConfigurationError, InputError
from skyfence.orbits.elements import ElementSet
from skyfence.orbits.ephemeris import Ephemeris
from skyfence.orbits.interpolation import DEFAULT_TOLERANCE_M, iter_interpolated
from skyfence.orbits.propagation import (
    ProgressCallback,
    check_dtype,
    check_times,
    iter_blocks,
    propagation_chunk_steps,
)
from skyfence.orbits.walker import FIRST_SYNTHETIC_NORAD_ID, ShellInfo

__all__ = ["Constellation", "STATUSES", "propagation_chunk_steps", "elements_from_satrecs"]

STATUSES = ("operational", "raising", "decaying", "off-station")
"""Values of :attr:`Constellation.status`."""


class Constellation:
    """Satellites (an :class:`ElementSet`) with shell, plane and slot labels.

    Build one with :meth:`from_preset`, :meth:`from_file`, :meth:`from_elements` or
    :meth:`from_shells`.

    Attributes
    ----------
    elements : ElementSet
    shells : list[ShellInfo]
    shell_id : (S,) int64
        Index into ``shells``; -1 = not in any shell.
    plane_id : (S,) int64
        Plane within the shell (0..planes-1, ordered by RAAN); -1 unknown.
    slot_id : (S,) int64
        Position in the plane ordered by argument of latitude (0..k-1); -1 unknown.
    status : (S,) object
        ``"operational"``, ``"raising"``, ``"decaying"`` or ``"off-station"``.

    Examples
    --------
    >>> c = Constellation.from_preset("kuiper")
    >>> len(c), [s.planes for s in c.shells]
    (3236, [34, 36, 28])
    """

    def __init__(
        self,
        elements: ElementSet,
        shells: list[ShellInfo] | None = None,
        shell_id: np.ndarray | None = None,
        plane_id: np.ndarray | None = None,
        slot_id: np.ndarray | None = None,
        status: np.ndarray | None = None,
        name: str = "",
    ) -> None:
        n = len(elements)
        self.elements = elements
        self.shells = list(shells or [])
        self.shell_id = _ids(shell_id, n)
        self.plane_id = _ids(plane_id, n)
        self.slot_id = _ids(slot_id, n)
        if status is None:
            status = np.where(self.shell_id >= 0, "operational", "off-station")
        self.status = np.asarray(status, dtype=object)
        if self.status.shape != (n,):
            raise InputError(f"status has shape {self.status.shape}; expected ({n},)")
        unknown = set(np.unique(self.status.astype(str))) - set(STATUSES)
        if unknown:
            raise InputError(f"unknown status {sorted(unknown)}; valid: {', '.join(STATUSES)}")
        if np.any(self.shell_id >= len(self.shells)):
            raise InputError("shell_id refers to a shell that is not in shells")
        self.name = name or elements.source

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_shells(
        cls,
        shells: list[ShellInfo],
        epoch: np.datetime64 | str | None = None,
        *,
        name: str = "",
    ) -> Constellation:
        """Generate Walker shells (see :func:`~skyfence.orbits.walker.walker_shell`)."""
        if not shells:
            raise ConfigurationError("from_shells needs at least one ShellInfo")
        sets, shell_id, plane_id, slot_id = [], [], [], []
        next_id = FIRST_SYNTHETIC_NORAD_ID
        for k, shell in enumerate(shells):
            sets.append(shell.elements(epoch, first_norad_id=next_id))
            next_id += shell.total
            shell_id.append(np.full(shell.total, k))
            plane_id.append(np.repeat(np.arange(shell.planes), shell.sats_per_plane))
            slot_id.append(np.tile(np.arange(shell.sats_per_plane), shell.planes))
        elements = ElementSet.concatenate(sets, source=name or "walker shells")
        return cls(
            elements,
            list(shells),
            np.concatenate(shell_id),
            np.concatenate(plane_id),
            np.concatenate(slot_id),
            name=name,
        )

    @classmethod
    def from_preset(cls, name: str, epoch: np.datetime64 | str | None = None) -> Constellation:
        """A built-in preset (:func:`~skyfence.orbits.presets.preset_names` lists them)."""
        from skyfence.orbits.presets import get_preset

        preset = get_preset(name)
        c = cls.from_shells(list(preset.shells), epoch, name=f"preset {preset.name}")
        return c

    @classmethod
    def from_elements(
        cls,
        elements: ElementSet,
        shells: list[ShellInfo] | None = None,
        **clustering: Any,
    ) -> Constellation:
        """Label real element sets: cluster them into shells (or use ``shells``), planes, slots.

        See :func:`skyfence.orbits.clustering.cluster_constellation`; keyword arguments are
        passed on to it.
        """
        from skyfence.orbits.clustering import cluster_constellation

        result = cluster_constellation(elements, shells=shells, **clustering)
        return cls(
            elements,
            result.shells,
            result.shell_id,
            result.plane_id,
            result.slot_id,
            result.status,
            name=elements.source,
        )

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Constellation:
        """Read any element-set file (:meth:`ElementSet.from_file`) and cluster it."""
        from skyfence.orbits.clustering import read_element_file

        return cls.from_elements(read_element_file(path), **kwargs)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.elements)

    def __repr__(self) -> str:
        return f"<Constellation {self.name!r}: {len(self)} satellites, {len(self.shells)} shells>"

    @property
    def norad_ids(self) -> np.ndarray:
        return self.elements.norad_ids

    @property
    def names(self) -> np.ndarray:
        return self.elements.names

    def summary(self) -> list[dict[str, Any]]:
        """One row per shell (plus one for satellites in no shell) with status counts."""
        rows: list[dict[str, Any]] = []
        for k, shell in enumerate(self.shells + [None]):  # type: ignore[operator]
            sel = self.shell_id == (k if shell is not None else -1)
            if shell is None and not sel.any():
                continue
            counts = {s: int(np.count_nonzero(self.status[sel] == s)) for s in STATUSES}
            rows.append(
                {
                    "shell": shell.name if shell is not None else "(none)",
                    "altitude_km": shell.altitude_km if shell is not None else None,
                    "inclination_deg": shell.inclination_deg if shell is not None else None,
                    "satellites": int(np.count_nonzero(sel)),
                    "planes": shell.planes if shell is not None else None,
                    "sats_per_plane": shell.sats_per_plane if shell is not None else None,
                    **counts,
                    "source": shell.source if shell is not None else "",
                }
            )
        return rows

    # ------------------------------------------------------------------ propagation
    def _blocks(
        self,
        times: np.ndarray,
        interpolate: bool,
        tolerance_m: float,
        chunk: int | None,
        workers: int,
        velocities: bool,
        geodetic: bool,
        progress: ProgressCallback | None,
        keep: bool,
    ) -> Iterator[Any]:
        """The propagation engine's blocks: interpolated between SGP4 knots, or plain SGP4."""
        if interpolate:
            return iter_interpolated(
                self.elements,
                times,
                tolerance_m=tolerance_m,
                chunk=chunk,
                workers=workers,
                velocities=velocities,
                geodetic=geodetic,
                progress=progress,
            )
        return iter_blocks(
            self.elements, times, chunk, workers, velocities, geodetic, progress, keep=keep
        )

    def iter_propagate(
        self,
        times: np.ndarray,
        *,
        chunk: int | None = None,
        workers: int = 1,
        dtype: Any = np.float64,
        velocities: bool = False,
        geodetic: bool = False,
        progress: ProgressCallback | None = None,
        interpolate: bool = False,
        tolerance_m: float = DEFAULT_TOLERANCE_M,
    ) -> Iterator[Ephemeris]:
        """Propagate block by block, yielding one :class:`Ephemeris` per block of times.

        Only a few blocks (about 64 MB each) are in memory at a time, so 9,500 satellites ×
        5,760 steps can be streamed to disk or reduced on the fly.

        The arrays of each yielded :class:`Ephemeris` are computed in place, in one of a
        small pool of buffers (2 with ``workers=1``, 3 with more), and handed over without a
        copy; a buffer is used again only once every array of the block it holds has been
        dropped, so an ephemeris you keep never changes. If you keep so many blocks that no
        buffer is free, the next blocks are copied out (slower, still correct). With
        ``workers > 1`` the float64 arrays live in memory shared with the workers
        (``MAP_SHARED``): a process forked while you hold them shares them instead of getting
        a copy-on-write copy.

        Parameters
        ----------
        times : (T,) datetime64
            UTC times.
        chunk : int, optional
            Time steps per block (default: as many as fit in 64 MB of working buffers).
        workers : int
            Processes to split the satellites over (1 = this process).
        dtype : numpy float dtype
            ``float64`` (default) or ``float32`` for the returned arrays.
        velocities : bool
            Also return Earth-fixed velocities.
        geodetic : bool
            Compute latitude/longitude/altitude in the same pass (in the workers).
        progress : callable(done, total), optional
            Called after each block with time steps done so far.
        interpolate : bool
            Run SGP4 only at knots a few minutes apart and interpolate the times between
            (:mod:`skyfence.orbits.interpolation`): 10x faster or more for dense grids,
            within ``tolerance_m`` of plain SGP4. Times must not decrease. Velocities are
            then the derivative of the interpolated positions.
        tolerance_m : float
            Largest position error interpolation may add, metres (default 10); the knot
            step is chosen from it.
        """
        dtype = check_dtype(dtype)
        blocks = self._blocks(
            times, interpolate, tolerance_m, chunk, workers, velocities, geodetic, progress, True
        )
        for _start, block, e, r, v, geo in blocks:
            yield Ephemeris(
                times=block,
                positions_ecef_km=r.astype(dtype, copy=False),
                error_codes=e,
                norad_ids=self.elements.norad_ids,
                names=self.elements.names,
                velocities_ecef_km_s=v.astype(dtype, copy=False) if velocities else None,
                geodetic=(
                    (
                        geo[0].astype(dtype, copy=False),
                        geo[1].astype(dtype, copy=False),
                        geo[2].astype(dtype, copy=False),
                    )
                    if geodetic
                    else None
                ),
            )

    def propagate(
        self,
        times: np.ndarray,
        *,
        workers: int = 1,
        dtype: Any = np.float64,
        velocities: bool = False,
        geodetic: bool = False,
        chunk: int | None = None,
        progress: ProgressCallback | None = None,
        interpolate: bool = False,
        tolerance_m: float = DEFAULT_TOLERANCE_M,
    ) -> Ephemeris:
        """Propagate every satellite to ``times``; returns one :class:`Ephemeris` (S, T).

        The result needs ``S × T × 3 × itemsize`` bytes (×2 with velocities, plus three
        ``S × T`` arrays for geodetic values); for longer runs use :meth:`iter_propagate`.
        Arguments as :meth:`iter_propagate`.

        Examples
        --------
        >>> from skyfence.timeutil import time_grid
        >>> c = Constellation.from_preset("starlink-gen1")
        >>> eph = c.propagate(time_grid("2026-02-22T00:00Z", 60, 15))
        >>> eph.shape
        (4408, 5)

        A day at 15 s, interpolated between SGP4 knots (within 10 m of plain SGP4):

        >>> day, few = time_grid("2026-02-22T00:00Z", 86_400, 15), Constellation(c.elements[:100])
        >>> fast, exact = few.propagate(day, interpolate=True), few.propagate(day)
        >>> error_km = np.linalg.norm(fast.positions_ecef_km - exact.positions_ecef_km, axis=-1)
        >>> bool(error_km.max() < 0.010)
        True
        """
        times = check_times(times)
        dtype = check_dtype(dtype)
        s, t = len(self), len(times)
        pos = np.empty((s, t, 3), dtype=dtype)
        codes = np.empty((s, t), dtype=np.uint8)
        vel = np.empty((s, t, 3), dtype=dtype) if velocities else None
        geo = tuple(np.empty((s, t), dtype=dtype) for _ in range(3)) if geodetic else None
        blocks = self._blocks(
            times, interpolate, tolerance_m, chunk, workers, velocities, geodetic, progress, False
        )
        for at, block, e, r, v, g in blocks:
            k = len(block)
            pos[:, at : at + k] = r
            codes[:, at : at + k] = e
            if vel is not None:
                vel[:, at : at + k] = v
            if geo is not None:
                for dst, src in zip(geo, g, strict=True):
                    dst[:, at : at + k] = src
        return Ephemeris(
            times=times,
            positions_ecef_km=pos,
            error_codes=codes,
            norad_ids=self.elements.norad_ids,
            names=self.elements.names,
            velocities_ecef_km_s=vel,
            geodetic=geo,  # type: ignore[arg-type]
        )


# ---------------------------------------------------------------------- helpers
def _ids(values: np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, -1, dtype=np.int64)
    arr = np.asarray(values, dtype=np.int64)
    if arr.shape != (n,):
        raise InputError(f"label array has shape {arr.shape}; expected ({n},)")
    return arr


def elements_from_satrecs(
    satrecs: list[Any], names: list[str] | None = None, *, source: str = ""
) -> ElementSet:
    """An :class:`ElementSet` from ``sgp4.api.Satrec`` objects (e.g. ``Satrec.twoline2rv``).

    Examples
    --------
    >>> from sgp4.api import Satrec
    >>> sat = Satrec.twoline2rv(
    ...     "1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998",
    ...     "2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616")
    >>> es = elements_from_satrecs([sat], ["STARLINK-1008"])
    >>> int(es.norad_ids[0]), float(es.inclination_deg[0])
    (44714, 53.1565)
    """
    n = len(satrecs)
    xpdotp = 1440.0 / (2.0 * np.pi)
    jd = np.array([s.jdsatepoch for s in satrecs], dtype=np.float64)
    fr = np.array([s.jdsatepochF for s in satrecs], dtype=np.float64)
    # Julian date pair -> ns since 1970, rounded to the microsecond the TLE field carries
    days = (jd - 2440587.5) + fr
    ns = np.round(days * 86400e6).astype(np.int64) * 1000
    return ElementSet(
        names=np.array(names if names is not None else [""] * n, dtype=object),
        norad_ids=np.array([s.satnum for s in satrecs], dtype=np.int64),
        international_designators=np.array([s.intldesg for s in satrecs], dtype=object),
        epochs=ns.astype("datetime64[ns]"),
        inclination_deg=np.round(np.degrees([s.inclo for s in satrecs]), 10),
        raan_deg=np.round(np.degrees([s.nodeo for s in satrecs]), 10),
        eccentricity=np.array([s.ecco for s in satrecs], dtype=np.float64),
        arg_perigee_deg=np.round(np.degrees([s.argpo for s in satrecs]), 10),
        mean_anomaly_deg=np.round(np.degrees([s.mo for s in satrecs]), 10),
        mean_motion_rev_per_day=np.array([s.no_kozai for s in satrecs]) * xpdotp,
        bstar=np.array([s.bstar for s in satrecs], dtype=np.float64),
        mean_motion_dot=np.array([s.ndot for s in satrecs]) * (xpdotp * 1440.0),
        mean_motion_ddot=np.array([s.nddot for s in satrecs]) * (xpdotp * 1440.0 * 1440.0),
        classification=np.array([s.classification for s in satrecs], dtype=object),
        element_set_no=np.array([s.elnum for s in satrecs], dtype=np.int64),
        rev_at_epoch=np.array([s.revnum for s in satrecs], dtype=np.int64),
        source=source,
    )
