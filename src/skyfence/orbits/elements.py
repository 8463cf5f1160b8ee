"""``ElementSet``: validated mean orbital elements (SGP4 / TLE convention) for N satellites.

Columns are numpy arrays of equal length ``N``; angles in degrees, mean motion in revolutions
per day, epochs as UTC ``datetime64[ns]``. The element values are the Kozai/Brouwer mean
elements that TLEs and CCSDS OMM (``MEAN_ELEMENT_THEORY = SGP4``) carry; they are turned into
``sgp4`` ``Satrec`` objects with the WGS72 constants that element sets are fitted with.

Parsers and writers live in :mod:`skyfence.orbits.formats`; ``ElementSet.from_file`` and
``ElementSet.from_text`` delegate to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from skyfence.errors import InputError

if TYPE_CHECKING:
    from sgp4.api import SatrecArray

__all__ = ["ElementSet"]

_ARRAY_FIELDS = (
    "names",
    "norad_ids",
    "international_designators",
    "epochs",
    "inclination_deg",
    "raan_deg",
    "eccentricity",
    "arg_perigee_deg",
    "mean_anomaly_deg",
    "mean_motion_rev_per_day",
    "bstar",
    "mean_motion_dot",
    "mean_motion_ddot",
    "classification",
    "element_set_no",
    "rev_at_epoch",
    "shell",
)


@dataclass(frozen=True, eq=False)
class ElementSet:
    """Mean elements of ``N`` satellites.

    Attributes
    ----------
    names : (N,) str
        Object names (``STARLINK-1008``); empty string when the file had none.
    norad_ids : (N,) int64
        NORAD catalogue numbers (Alpha-5 ids such as ``A0001`` are decoded to 100001).
    international_designators : (N,) str
        COSPAR id as in the TLE (``19074B``) or OMM (``2019-074B``) form, as read.
    epochs : (N,) datetime64[ns]
        Element-set epochs, UTC.
    inclination_deg, raan_deg, arg_perigee_deg, mean_anomaly_deg : (N,) float64
        Angles in degrees.
    eccentricity : (N,) float64
    mean_motion_rev_per_day : (N,) float64
        Kozai mean motion as in the TLE, revolutions per day.
    bstar : (N,) float64
        Drag term, 1/earth radii.
    mean_motion_dot : (N,) float64
        First derivative of mean motion / 2, rev/day² (TLE field, already halved).
    mean_motion_ddot : (N,) float64
        Second derivative of mean motion / 6, rev/day³ (TLE field, already divided).
    classification : (N,) str
        ``U``, ``C`` or ``S``.
    element_set_no, rev_at_epoch : (N,) int64
    shell : (N,) str
        Shell label ("" when unknown); set by Walker presets or by clustering.
    source : str
        Where the set came from (file name, preset name), for messages and reports.
    """

    names: np.ndarray
    norad_ids: np.ndarray
    epochs: np.ndarray
    inclination_deg: np.ndarray
    raan_deg: np.ndarray
    eccentricity: np.ndarray
    arg_perigee_deg: np.ndarray
    mean_anomaly_deg: np.ndarray
    mean_motion_rev_per_day: np.ndarray
    bstar: np.ndarray = field(default=None)  # type: ignore[assignment]
    mean_motion_dot: np.ndarray = field(default=None)  # type: ignore[assignment]
    mean_motion_ddot: np.ndarray = field(default=None)  # type: ignore[assignment]
    international_designators: np.ndarray = field(default=None)  # type: ignore[assignment]
    classification: np.ndarray = field(default=None)  # type: ignore[assignment]
    element_set_no: np.ndarray = field(default=None)  # type: ignore[assignment]
    rev_at_epoch: np.ndarray = field(default=None)  # type: ignore[assignment]
    shell: np.ndarray = field(default=None)  # type: ignore[assignment]
    source: str = ""

    def __post_init__(self) -> None:
        n = len(np.asarray(self.names))
        defaults: dict[str, Any] = {
            "bstar": np.zeros(n),
            "mean_motion_dot": np.zeros(n),
            "mean_motion_ddot": np.zeros(n),
            "international_designators": np.full(n, "", dtype=object),
            "classification": np.full(n, "U", dtype=object),
            "element_set_no": np.zeros(n, dtype=np.int64),
            "rev_at_epoch": np.zeros(n, dtype=np.int64),
            "shell": np.full(n, "", dtype=object),
        }
        dtypes: dict[str, Any] = {
            "names": object,
            "international_designators": object,
            "classification": object,
            "shell": object,
            "norad_ids": np.int64,
            "element_set_no": np.int64,
            "rev_at_epoch": np.int64,
            "epochs": "datetime64[ns]",
        }
        for name in _ARRAY_FIELDS:
            value = getattr(self, name)
            if value is None:
                value = defaults[name]
            arr = np.asarray(value, dtype=dtypes.get(name, np.float64))
            if arr.ndim == 0:
                arr = arr.reshape(1)
            if arr.shape != (n,):
                raise InputError(
                    f"ElementSet column {name} has shape {arr.shape}, expected ({n},) like names"
                )
            object.__setattr__(self, name, arr)
        bad = ~(
            np.isfinite(self.inclination_deg)
            & np.isfinite(self.mean_motion_rev_per_day)
            & (self.mean_motion_rev_per_day > 0)
            & (self.eccentricity >= 0)
            & (self.eccentricity < 1)
        )
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"ElementSet row {i} ({self.names[i] or self.norad_ids[i]}) has impossible "
                f"elements: mean motion {self.mean_motion_rev_per_day[i]} rev/day, eccentricity "
                f"{self.eccentricity[i]}; mean motion must be > 0 and 0 <= e < 1"
            )

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        src = f" from {self.source}" if self.source else ""
        return f"<ElementSet of {len(self)} satellites{src}>"

    def __getitem__(self, index: Any) -> ElementSet:
        """Select rows with a slice, an integer array or a boolean mask."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return replace(self, **{name: getattr(self, name)[index] for name in _ARRAY_FIELDS})

    @staticmethod
    def concatenate(sets: list[ElementSet], source: str = "") -> ElementSet:
        """Join several element sets (e.g. the shells of a preset) into one."""
        if not sets:
            raise InputError("concatenate needs at least one ElementSet")
        cols = {name: np.concatenate([getattr(s, name) for s in sets]) for name in _ARRAY_FIELDS}
        return ElementSet(**cols, source=source or "+".join(s.source for s in sets if s.source))

    def columns(self) -> dict[str, np.ndarray]:
        """All columns as a dict of arrays (names as the attributes)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in _ARRAY_FIELDS}

    # --------------------------------------------------------------- derived
    @property
    def semi_major_axis_km(self) -> np.ndarray:
        """Semi-major axis from the mean motion (WGS72 mu, un-Kozai'd as SGP4 does)."""
        from skyfence.orbits.physics import semi_major_axis_km

        return semi_major_axis_km(
            self.mean_motion_rev_per_day, self.eccentricity, self.inclination_deg
        )

    @property
    def mean_altitude_km(self) -> np.ndarray:
        """Semi-major axis minus the equatorial radius (WGS84), km: the usual 'altitude'."""
        from skyfence.orbits.physics import EARTH_EQUATORIAL_RADIUS_KM

        return self.semi_major_axis_km - EARTH_EQUATORIAL_RADIUS_KM

    # --------------------------------------------------------------- sgp4
    def to_satrecs(self) -> list[Any]:
        """One ``sgp4.api.Satrec`` per row, initialised with WGS72 and the improved mode."""
        from sgp4.api import WGS72, Satrec

        from skyfence.timeutil import to_jd_pair

        jd, fr = to_jd_pair(self.epochs)
        epoch_days = (jd - 2433281.5) + fr  # days since 1949 December 31 00:00 UT
        deg = np.pi / 180.0
        xpdotp = 1440.0 / (2.0 * np.pi)  # rev/day -> rad/min
        sats = []
        for i in range(len(self)):
            sat = Satrec()
            sat.sgp4init(
                WGS72,
                "i",
                int(self.norad_ids[i]) if self.norad_ids[i] < 100000 else 0,
                float(epoch_days[i]),
                float(self.bstar[i]),
                float(self.mean_motion_dot[i]) / (xpdotp * 1440.0),
                float(self.mean_motion_ddot[i]) / (xpdotp * 1440.0 * 1440.0),
                float(self.eccentricity[i]),
                float(self.arg_perigee_deg[i]) * deg,
                float(self.inclination_deg[i]) * deg,
                float(self.mean_anomaly_deg[i]) * deg,
                float(self.mean_motion_rev_per_day[i]) / xpdotp,
                float(self.raan_deg[i]) * deg,
            )
            sats.append(sat)
        return sats

    def to_satrec_array(self) -> SatrecArray:
        """A ``sgp4.api.SatrecArray`` for vectorised propagation."""
        from sgp4.api import SatrecArray

        return SatrecArray(self.to_satrecs())

    # --------------------------------------------------------------- I/O
    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        format: str | None = None,
        on_invalid: Literal["raise", "skip"] = "raise",
    ) -> ElementSet:
        """Read TLE, 3LE, OMM JSON, OMM CSV or OMM XML; the format is detected unless given.

        See :func:`skyfence.orbits.formats.read_elements`.
        """
        from skyfence.orbits.formats import read_elements

        return read_elements(path, format=format, on_invalid=on_invalid)

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        format: str | None = None,
        on_invalid: Literal["raise", "skip"] = "raise",
        source: str = "<text>",
    ) -> ElementSet:
        """Parse element sets from a string; see :func:`skyfence.orbits.formats.parse_elements`."""
        from skyfence.orbits.formats import parse_elements

        return parse_elements(text, format=format, on_invalid=on_invalid, source=source)

    def to_file(self, path: str | Path, *, format: str | None = None) -> Path:
        """Write as TLE, 3LE, OMM JSON or OMM CSV (format from the suffix unless given)."""
        from skyfence.orbits.formats import write_elements

        return write_elements(self, path, format=format)
