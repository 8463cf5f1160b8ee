"""The TLE column layout, and a numpy decoder for records in exactly that layout.

Decoding 9,500 TLEs one field at a time in Python takes a few hundred milliseconds; here
every record of a batch is one row of a ``uint8`` array and each field is decoded for all
rows at once. A record is accepted only when every column is in the plain standard form and
passes every check the line-by-line validator (:func:`skyfence.orbits.formats.tle.parse_pair`)
makes; anything else (Alpha-5 ids, extra columns, any error) is left to that validator, which
also writes the message. The values are bit-identical to the validator's (same correctly
rounded decimals); the tests check this on the real snapshot and on fuzzed files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skyfence.orbits.formats.fields import NS_PER_DAY, below_surface

__all__ = ["LINE1_BLANKS", "LINE2_BLANKS", "COLUMNS", "decode"]

LINE1_BLANKS = (1, 8, 17, 32, 43, 52, 61, 63)  # 0-based columns that must be blank
LINE2_BLANKS = (1, 7, 16, 25, 33, 42, 51)

_P10 = np.array([10.0**k for k in range(16)])  # exact powers of ten
COLUMNS = (
    ("norad", "norad_ids"),
    ("epoch_ns", "epoch_ns"),
    ("inc", "inc"),
    ("raan", "raan"),
    ("ecc", "ecc"),
    ("argp", "argp"),
    ("ma", "ma"),
    ("n", "n"),
    ("bstar", "bstar"),
    ("ndot", "ndot"),
    ("nddot", "nddot"),
    ("cls", "cls"),
    ("elnum", "elnum"),
    ("rev", "rev"),
)


def _right_int(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned digit fields (leading blanks allowed) of a uint8 block: (ok, value)."""
    is_dig = (sub >= 48) & (sub <= 57)
    is_sp = sub == 32
    seen = np.maximum.accumulate(is_dig, axis=1)
    ok = (is_dig | is_sp).all(axis=1) & ~(seen & is_sp).any(axis=1)
    weights = 10 ** np.arange(sub.shape[1] - 1, -1, -1, dtype=np.int64)
    return ok, np.where(is_dig, sub.astype(np.int64) - 48, 0) @ weights


def _digits(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = ((sub >= 48) & (sub <= 57)).all(axis=1)
    weights = 10 ** np.arange(sub.shape[1] - 1, -1, -1, dtype=np.int64)
    return ok, (sub.astype(np.int64) - 48) @ weights


def _fixed_point(
    block: np.ndarray, start: int, int_digits: int, frac_digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """'DDD.DDDD'-style field (blanks allowed before the integer digits) as float."""
    ok_i, ip = _right_int(block[:, start : start + int_digits])
    dot = start + int_digits
    ok_f, fp = _digits(block[:, dot + 1 : dot + 1 + frac_digits])
    last = block[:, dot - 1]
    ok = ok_i & ok_f & (block[:, dot] == 46) & (last >= 48) & (last <= 57)
    return ok, (ip * 10**frac_digits + fp) / _P10[frac_digits]


def _exp_block(block: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Assumed-decimal field ' 12345-4' as float, correctly rounded like float('0.12345e-4')."""
    sign = block[:, start]
    ok_m, mant = _digits(block[:, start + 1 : start + 6])
    esign = block[:, start + 6]
    ok_e, exp = _digits(block[:, start + 7 : start + 8])
    ok = ok_m & ok_e & np.isin(sign, (32, 43, 45)) & np.isin(esign, (43, 45))
    e = np.where(esign == 45, -exp, exp)
    k = 5 - e  # value = mant / 10**k
    value = np.where(k >= 0, mant / _P10[np.clip(k, 0, 15)], mant * _P10[np.clip(-k, 0, 15)])
    return ok, np.where(sign == 45, -value, value)


def decode(
    pairs: list[tuple[str, str, int, int, str | None, int, int]], verify_checksum: bool
) -> tuple[np.ndarray, dict[str, list[Any]]]:
    """Decode TLE pairs in the canonical layout with numpy; (ok mask, columns as lists).

    A record is ``ok`` only when every column is in the plain standard form and passes every
    check :func:`~skyfence.orbits.formats.tle.parse_pair` makes (which then decodes the same values); anything else
    (Alpha-5 ids, extra columns, any error) is left to :func:`~skyfence.orbits.formats.tle.parse_pair`, which gives
    the message. Values are bit-identical to the slow path (same correctly rounded decimals).
    """
    n = len(pairs)
    if n == 0:
        return np.zeros(0, dtype=bool), {}
    l1 = [p[0].rstrip() for p in pairs]
    l2 = [p[1].rstrip() for p in pairs]
    shape_ok = np.fromiter(
        (
            len(a) == 69 and len(b) == 69 and a.isascii() and b.isascii()
            for a, b in zip(l1, l2, strict=True)
        ),
        dtype=bool,
        count=n,
    )
    blank = " " * 69
    a = np.frombuffer(
        "".join(x if ok else blank for x, ok in zip(l1, shape_ok, strict=True)).encode("ascii"),
        dtype=np.uint8,
    ).reshape(n, 69)
    b = np.frombuffer(
        "".join(x if ok else blank for x, ok in zip(l2, shape_ok, strict=True)).encode("ascii"),
        dtype=np.uint8,
    ).reshape(n, 69)
    ok = shape_ok & (a[:, 0] == 49) & (b[:, 0] == 50)
    for col in LINE1_BLANKS:
        ok &= a[:, col] == 32
    for col in LINE2_BLANKS:
        ok &= b[:, col] == 32
    for m in (a, b):
        head = m[:, :68]
        is_dig = (head >= 48) & (head <= 57)
        check = m[:, 68]
        ok &= (check >= 48) & (check <= 57)
        if verify_checksum:
            total = np.where(is_dig, head - 48, 0).sum(axis=1) + (head == 45).sum(axis=1)
            ok &= (total % 10) == (check.astype(np.int64) - 48)
    ok_s1, sat1 = _digits(a[:, 2:7])
    ok_s2, sat2 = _digits(b[:, 2:7])
    ok &= ok_s1 & ok_s2 & (sat1 == sat2)
    ok &= np.isin(a[:, 7], (85, 67, 83)) & np.isin(a[:, 62], (48, 32))
    ok_y, yy = _digits(a[:, 18:20])
    ok_d, doy = _digits(a[:, 20:23])
    ok_fr, frac = _digits(a[:, 24:32])
    year = np.where(yy >= 57, 1900 + yy, 2000 + yy)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= ok_y & ok_d & ok_fr & (a[:, 23] == 46) & (doy >= 1) & (doy <= 365 + leap)
    year_start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    epoch_ns = (year_start + doy - 1) * NS_PER_DAY + frac * (NS_PER_DAY // 10**8)
    ok_nd, ndot_abs = _digits(a[:, 35:43])
    ok &= ok_nd & np.isin(a[:, 33], (32, 43, 45)) & (a[:, 34] == 46)
    ndot = np.where(a[:, 33] == 45, -1.0, 1.0) * (ndot_abs / _P10[8])
    ok_dd, nddot = _exp_block(a, 44)
    ok_b, bstar = _exp_block(a, 53)
    ok_el, elnum = _right_int(a[:, 64:68])
    ok &= ok_dd & ok_b & ok_el
    ok_i, inc = _fixed_point(b, 8, 3, 4)
    ok_r, raan = _fixed_point(b, 17, 3, 4)
    ok_e, ecc_int = _digits(b[:, 26:33])
    ok_a, argp = _fixed_point(b, 34, 3, 4)
    ok_m, ma = _fixed_point(b, 43, 3, 4)
    ok_n, mm = _fixed_point(b, 52, 2, 8)
    ok_rv, rev = _right_int(b[:, 63:68])
    ok &= ok_i & ok_r & ok_e & ok_a & ok_m & ok_n & ok_rv
    ok &= (inc <= 180.0) & (raan <= 360.0) & (argp <= 360.0) & (ma <= 360.0) & (mm > 0.0)
    ecc = ecc_int / _P10[7]
    ok &= ~below_surface(mm, ecc, inc)
    cls = np.where(a[:, 7] == 85, "U", np.where(a[:, 7] == 67, "C", "S"))
    return ok, {
        "norad": sat1.tolist(),
        "epoch_ns": epoch_ns.tolist(),
        "inc": inc.tolist(),
        "raan": raan.tolist(),
        "ecc": ecc.tolist(),
        "argp": argp.tolist(),
        "ma": ma.tolist(),
        "n": mm.tolist(),
        "bstar": bstar.tolist(),
        "ndot": ndot.tolist(),
        "nddot": nddot.tolist(),
        "cls": cls.tolist(),
        "elnum": elnum.tolist(),
        "rev": rev.tolist(),
    }
