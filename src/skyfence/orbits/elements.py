"""``ElementSet``: validated mean orbital elements (SGP4 / TLE convention) for N satellites.

Columns are numpy arrays of equal length ``N``; angles in degrees, mean motion in revolutions
per day, epochs as UTC ``datetime64[ns]``. The element values are the Kozai/Brouwer mean
elements that TLEs and CCSDS OMM (``MEAN_ELEMENT_THEORY = SGP4``) carry; they are turned into
``sgp4`` ``Satrec`` objects with the WGS72 constants that element sets are fitted with.

Parsers and writers live in :mod:`skyfence.orbits.formats`, which reads files into columns
and knows nothing of this class; :func:`parse_elements` and :func:`read_elements` (and
``ElementSet.from_text`` / ``from_file``) build the element set from those columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from skyfence.errors import InputError, ParseError
from skyfence.orbits.formats import (
    ParsedElements,
    ParseReport,
    SkippedRecord,
    format_elements,
    parse_columns,
    read_columns,
    write_elements,
)
from skyfence.orbits.physics import EARTH_EQUATORIAL_RADIUS_KM
from skyfence.orbits.physics import semi_major_axis_km as _semi_major_axis_km

if TYPE_CHECKING:
    from sgp4.api import SatrecArray

__all__ = ["ElementSet", "parse_elements", "read_elements"]

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


def _tle_designator(designator: str) -> str:
    """'2019-074B' -> '19074B' (the form ``Satrec.intldesg`` holds); other forms unchanged."""
    d = designator.strip()
    if len(d) >= 9 and d[4] == "-" and d[:4].isdigit():
        d = d[2:4] + d[5:]
    return d[:11]


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
    report : ParseReport or None
        How the set was read from ``source`` (format, records read, invalid records skipped,
        older duplicates dropped); ``None`` for sets built from arrays. Row selection keeps
        it, :meth:`concatenate` does not.
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
    report: ParseReport | None = None

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

    @property
    def skipped(self) -> tuple[SkippedRecord, ...]:
        """Invalid records a reader left out (``on_invalid="skip"``); empty otherwise."""
        return self.report.skipped if self.report is not None else ()

    @property
    def duplicates_dropped(self) -> int:
        """How many older element sets of the same NORAD id a reader dropped."""
        return self.report.duplicates_dropped if self.report is not None else 0

    # --------------------------------------------------------------- derived
    @property
    def semi_major_axis_km(self) -> np.ndarray:
        """Brouwer mean semi-major axis, km, exactly as ``sgp4init`` computes it (``a``).

        SGP4's ``initl`` un-Kozais the mean motion with ``d1 = 0.75 J2 (3 cos²i - 1) /
        (1 - e²)^1.5`` (WGS72 constants) and reports ``a = (xke / n'')^(2/3)`` earth radii;
        the tests compare this with ``Satrec.a`` to 1e-12.
        """
        return _semi_major_axis_km(
            self.mean_motion_rev_per_day, self.eccentricity, self.inclination_deg
        )

    @property
    def mean_altitude_km(self) -> np.ndarray:
        """Semi-major axis minus the equatorial radius (WGS84), km: the usual 'altitude'."""
        return self.semi_major_axis_km - EARTH_EQUATORIAL_RADIUS_KM

    # --------------------------------------------------------------- sgp4
    def to_satrecs(self) -> list[Any]:
        """One ``sgp4.api.Satrec`` per row: WGS72 constants, improved mode (``opsmode 'i'``).

        Two choices make these reproduce Vallado's reference output (``tcppver.out``, checked
        by the tests to the ``sgp4`` package's own tolerance of 2e-7 km and km/s):

        * ``opsmode 'i'`` (improved), the mode the reference was generated with and the one
          ``Satrec.twoline2rv`` uses; AFSPC mode ``'a'`` misses one deep-space case
          (NORAD 23599) by about 1 km.
        * The epoch handed to ``sgp4init`` (which only feeds sidereal time and the lunar-solar
          terms) is computed exactly as the reference ``twoline2rv`` does, as
          ``(jd + fr) - 2433281.5`` from the Julian-date pair; the satellite's own pair
          (``jdsatepoch``, ``jdsatepochF``), from which ``sgp4(jd, fr)`` measures time, is
          then set from the nanosecond epoch exactly. Passing the "more exact"
          ``(jd - 2433281.5) + fr`` instead moves a highly eccentric deep-space case
          (NORAD 23333) by 4 m at epoch, outside the reference tolerance.
        """
        from sgp4.api import WGS72, Satrec

        from skyfence.timeutil import to_jd_pair

        jd, fr = to_jd_pair(self.epochs)
        epoch_days = (jd + fr) - 2433281.5  # days since 1949-12-31 00:00 UT, as twoline2rv
        deg = np.pi / 180.0
        xpdotp = 1440.0 / (2.0 * np.pi)  # rev/day -> rad/min
        sats = []
        for i in range(len(self)):
            sat = Satrec()
            norad = int(self.norad_ids[i])
            sat.sgp4init(
                WGS72,
                "i",
                norad if norad <= 339_999 else 0,
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
            sat.jdsatepoch = float(jd[i])
            sat.jdsatepochF = float(fr[i])
            sat.classification = str(self.classification[i] or "U")[:1]
            sat.intldesg = _tle_designator(str(self.international_designators[i]))
            sat.elnum = int(self.element_set_no[i])
            sat.revnum = int(self.rev_at_epoch[i])
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
        duplicates: Literal["newest", "keep"] = "newest",
        verify_checksum: bool = True,
    ) -> ElementSet:
        """Read TLE, 3LE, OMM JSON, OMM CSV or OMM XML; the format is detected unless given.

        ``on_invalid="skip"`` leaves invalid records out and lists them in :attr:`skipped`;
        older duplicates of a NORAD id are dropped (``duplicates="newest"``) and counted in
        :attr:`duplicates_dropped`. See :func:`parse_elements`.
        """
        return read_elements(
            path,
            format=format,
            on_invalid=on_invalid,
            duplicates=duplicates,
            verify_checksum=verify_checksum,
        )

    @classmethod
    def from_text(
        cls,
        text: str | bytes,
        *,
        format: str | None = None,
        on_invalid: Literal["raise", "skip"] = "raise",
        source: str = "<text>",
        duplicates: Literal["newest", "keep"] = "newest",
        verify_checksum: bool = True,
    ) -> ElementSet:
        """Parse element sets from a string; see :func:`parse_elements`.

        Examples
        --------
        >>> es = ElementSet.from_text('''1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927
        ... 2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537''')
        >>> len(es), es.report.format, str(es.epochs[0])
        (1, 'tle', '2008-09-20T12:25:40.104192000')
        """
        return parse_elements(
            text,
            format=format,
            on_invalid=on_invalid,
            source=source,
            duplicates=duplicates,
            verify_checksum=verify_checksum,
        )

    def to_text(self, format: str) -> str:
        """The set as text in one of ``tle``, ``3le``, ``omm-json``, ``omm-csv``, ``omm-xml``."""
        return format_elements(self, format)

    def to_file(self, path: str | Path, *, format: str | None = None) -> Path:
        """Write as TLE, 3LE, OMM JSON, CSV or XML, atomically; format from the suffix.

        Suffixes: ``.tle``/``.txt`` TLE, ``.3le`` 3LE, ``.json``, ``.csv``, ``.xml`` OMM.
        """
        return write_elements(self, path, format=format)


# ---------------------------------------------------------------------- readers


def _from_parsed(parsed: ParsedElements) -> ElementSet:
    try:
        return ElementSet(**parsed.columns, source=parsed.report.source, report=parsed.report)
    except InputError as exc:  # pragma: no cover - records are validated by the readers
        raise ParseError(str(exc), source=parsed.report.source) from None


def parse_elements(
    text: str | bytes,
    *,
    format: str | None = None,
    on_invalid: Literal["raise", "skip"] = "raise",
    source: str = "<text>",
    duplicates: Literal["newest", "keep"] = "newest",
    verify_checksum: bool = True,
) -> ElementSet:
    """Parse element sets from text in any of :data:`skyfence.orbits.formats.FORMATS`.

    Parameters
    ----------
    text : str or bytes
        The content (bytes are decoded as UTF-8; a byte-order mark is ignored).
    format : str, optional
        One of ``tle``, ``3le``, ``omm-json``, ``omm-csv``, ``omm-xml`` (also ``json``,
        ``csv``, ``xml``); detected from the content when omitted.
    on_invalid : {"raise", "skip"}
        ``"raise"``: the first invalid record raises :class:`~skyfence.errors.ParseError`
        naming the source, line and reason. ``"skip"``: invalid records are left out and
        listed in ``result.report.skipped``.
    source : str
        Name used in messages and in the report.
    duplicates : {"newest", "keep"}
        ``"newest"`` keeps, per NORAD id, the record with the newest epoch (the later one in
        the file on a tie) and lists the others in ``result.report.duplicates``; ``"keep"``
        keeps every record.
    verify_checksum : bool
        Check TLE checksums (default). ``False`` accepts lines with wrong checksums, as the
        reference SGP4 code does for its verification file.

    Returns
    -------
    ElementSet
        The valid records in file order, with ``report`` set to a
        :class:`~skyfence.orbits.formats.ParseReport`.
    """
    return _from_parsed(
        parse_columns(
            text,
            format=format,
            on_invalid=on_invalid,
            source=source,
            duplicates=duplicates,
            verify_checksum=verify_checksum,
        )
    )


def read_elements(
    path: str | Path,
    *,
    format: str | None = None,
    on_invalid: Literal["raise", "skip"] = "raise",
    duplicates: Literal["newest", "keep"] = "newest",
    verify_checksum: bool = True,
) -> ElementSet:
    """Read an element-set file; see :func:`parse_elements` for the parameters.

    The format is detected from the content (not the suffix) unless ``format`` is given.
    A missing file raises :class:`~skyfence.errors.NotFoundError`.
    """
    return _from_parsed(
        read_columns(
            path,
            format=format,
            on_invalid=on_invalid,
            duplicates=duplicates,
            verify_checksum=verify_checksum,
        )
    )
