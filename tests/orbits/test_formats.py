"""Element-set readers and writers: detection, validation messages, skip reports, round trips.

Independent truths: the ``sgp4`` package's own TLE reader (``Satrec.twoline2rv``), checksum
(``sgp4.io.compute_checksum``), Alpha-5 codec (``sgp4.alpha5``) and OMM reader/initialiser
(``sgp4.omm``), and hand-made CelesTrak-shaped files in ``tests/golden/elements``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sgp4 import alpha5, omm
from sgp4.api import WGS72, Satrec, SatrecArray
from sgp4.io import compute_checksum

from skyfence.errors import InputError, NotFoundError, ParseError, SkyfenceError
from skyfence.orbits import formats
from skyfence.orbits.elements import ElementSet, parse_elements
from skyfence.orbits.formats import (
    FORMATS,
    detect_format,
    format_elements,
    from_alpha5,
    tle_checksum,
    tle_fast,
    to_alpha5,
)
from skyfence.orbits.physics import EARTH_EQUATORIAL_RADIUS_KM, semi_major_axis_km
from skyfence.timeutil import to_jd_pair

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "elements"
STARLINK4 = GOLDEN / "starlink-4.3le"

L1 = "1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998"
L2 = "2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616"
L1B = "1 44718U 19074F   26053.79510367 -.00003638  00000+0 -11084-3 0  9997"
L2B = "2 44718  53.1591 247.9884 0000544  91.4546 268.6517 15.30185387346586"


def fix(line: str) -> str:
    """Give a 68-column TLE body its correct checksum (via sgp4's own helper)."""
    return line[:68] + str(compute_checksum(line[:68]))


def tle(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def omm_record(**changes) -> dict:
    rec = json.loads((GOLDEN / "starlink-4.json").read_text())[0]
    rec.update(changes)
    return {k: v for k, v in rec.items() if v is not None}


def raises_parse(text, **kwargs) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_elements(text, **kwargs)
    return info.value


# ============================================================ detection


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("starlink-4.3le", "3le"),
        ("alpha5.3le", "3le"),
        ("starlink-4.json", "omm-json"),
        ("starlink-4.csv", "omm-csv"),
        ("starlink-4.xml", "omm-xml"),
    ],
)
def test_detects_each_golden_format(name, expected):
    text = (GOLDEN / name).read_text()
    assert detect_format(text) == expected
    es = ElementSet.from_file(GOLDEN / name)
    assert es.report.format == expected and es.source == name


def test_detects_two_line_and_zero_prefixed_names():
    assert detect_format(tle(L1, L2, L1B, L2B)) == "tle"
    es = ElementSet.from_text(tle("0 STARLINK-1008", L1, L2, "0 STARLINK-1012", L1B, L2B))
    assert es.report.format == "3le"
    assert es.names.tolist() == ["STARLINK-1008", "STARLINK-1012"]
    assert ElementSet.from_text(tle(L1, L2)).names.tolist() == [""]


def test_unknown_format_is_one_line_listing_the_formats():
    err = raises_parse("hello world\nthis is not an element set\n", source="notes.txt")
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith("notes.txt: cannot tell the format")
    for fmt in FORMATS:
        assert fmt in msg


def test_empty_text_says_so():
    assert "the text is empty" in str(raises_parse("  \n\n", source="empty.tle"))
    assert len(parse_elements("", format="tle")) == 0


def test_unknown_format_name_lists_choices():
    with pytest.raises(InputError, match="choose one of tle, 3le, omm-json, omm-csv, omm-xml"):
        parse_elements(tle(L1, L2), format="kvn")
    assert ElementSet.from_text(tle(L1, L2), format="TLE").report.format == "tle"
    assert parse_elements("[]", format="json").report.format == "omm-json"


# ============================================================ golden OMM vs TLE


def _tle_lines(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text().splitlines()
    return [(lines[i + 1], lines[i + 2]) for i in range(0, len(lines), 3)]


@pytest.mark.parametrize("name", ["starlink-4.json", "starlink-4.csv", "starlink-4.xml"])
def test_omm_files_give_the_tle_elements(name):
    t = ElementSet.from_file(STARLINK4)
    o = ElementSet.from_file(GOLDEN / name)
    assert o.names.tolist() == t.names.tolist()
    assert o.norad_ids.tolist() == t.norad_ids.tolist() == [44714, 44718, 44925, 67717]
    assert o.international_designators.tolist() == [
        "2019-074B",
        "2019-074F",
        "2020-001M",
        "2026-025AA",
    ]
    assert t.international_designators.tolist() == ["19074B", "19074F", "20001M", "26025AA"]
    for col in (
        "inclination_deg",
        "raan_deg",
        "eccentricity",
        "arg_perigee_deg",
        "mean_anomaly_deg",
        "mean_motion_rev_per_day",
        "bstar",
        "mean_motion_dot",
        "mean_motion_ddot",
        "element_set_no",
        "rev_at_epoch",
    ):
        np.testing.assert_array_equal(getattr(o, col), getattr(t, col), err_msg=col)
    # the hand-made OMM epochs were printed by sgp4, which truncates to the microsecond
    dt = np.abs((o.epochs - t.epochs).astype(np.int64))
    assert dt.max() <= 1000


@pytest.mark.parametrize("name", ["starlink-4.json", "starlink-4.csv", "starlink-4.xml"])
def test_tle_and_omm_forms_propagate_within_one_metre(name):
    """The TLE form read by sgp4 itself vs the OMM form read and initialised by skyfence."""
    ours = ElementSet.from_file(GOLDEN / name)
    refs = [Satrec.twoline2rv(a, b, WGS72) for a, b in _tle_lines(STARLINK4)]
    times = ours.epochs[0] + np.arange(0, 86_400, 600).astype("timedelta64[s]")
    jd, fr = to_jd_pair(times)
    e1, r1, _ = SatrecArray(ours.to_satrecs()).sgp4(jd, fr)
    e2, r2, _ = SatrecArray(refs).sgp4(jd, fr)
    assert (e1 == 0).all() and (e2 == 0).all()
    assert np.linalg.norm(r1 - r2, axis=-1).max() < 1e-3  # km


def test_omm_agrees_with_sgp4_own_omm_reader():
    """sgp4.omm parses the golden CSV/XML and initialises a Satrec; ours must agree."""
    with open(GOLDEN / "starlink-4.csv", newline="") as fh:
        csv_fields = list(omm.parse_csv(fh))
    with open(GOLDEN / "starlink-4.xml") as fh:
        xml_fields = list(omm.parse_xml(fh))
    for fields_list, name in ((csv_fields, "starlink-4.csv"), (xml_fields, "starlink-4.xml")):
        ours = ElementSet.from_file(GOLDEN / name).to_satrecs()
        for fields, sat in zip(fields_list, ours, strict=True):
            ref = Satrec()
            omm.initialize(ref, fields)
            for attr in ("no_kozai", "ecco", "inclo", "nodeo", "argpo", "mo", "bstar"):
                assert getattr(sat, attr) == pytest.approx(getattr(ref, attr), rel=1e-14)
            jd = sat.jdsatepoch + 0.5
            _, r_ours, _ = sat.sgp4(jd, sat.jdsatepochF)
            _, r_ref, _ = ref.sgp4(jd, sat.jdsatepochF)
            # sgp4.omm carries the epoch as float days since 1949 (resolution ~0.3 us, i.e.
            # ~3 mm along track); skyfence keeps the nanosecond epoch, so allow 1 cm
            assert np.linalg.norm(np.subtract(r_ours, r_ref)) < 1e-5  # km


def test_written_xml_is_read_by_sgp4s_omm_reader(tmp_path):
    es = ElementSet.from_file(STARLINK4)
    path = es.to_file(tmp_path / "out.xml")
    with open(path) as fh:
        fields = list(omm.parse_xml(fh))
    assert [int(f["NORAD_CAT_ID"]) for f in fields] == es.norad_ids.tolist()
    assert [float(f["MEAN_MOTION"]) for f in fields] == es.mean_motion_rev_per_day.tolist()
    assert fields[0]["MEAN_ELEMENT_THEORY"] == "SGP4"


# ============================================================ Alpha-5


def test_alpha5_golden_file():
    es = ElementSet.from_file(GOLDEN / "alpha5.3le")
    assert es.norad_ids.tolist() == [100001, 180500, 339999]
    refs = [Satrec.twoline2rv(a, b) for a, b in _tle_lines(GOLDEN / "alpha5.3le")]
    assert [r.satnum for r in refs] == es.norad_ids.tolist()
    assert [s.satnum for s in es.to_satrecs()] == es.norad_ids.tolist()
    assert es.to_text("3le").replace(" " * 14 + "\n", "\n") == (GOLDEN / "alpha5.3le").read_text()


@given(st.integers(min_value=0, max_value=339_999))
def test_alpha5_codec_matches_sgp4(n):
    code = to_alpha5(n)
    assert len(code) == 5
    assert code == alpha5.to_alpha5(n)
    assert from_alpha5(code) == n == alpha5.from_alpha5(code)
    assert "I" not in code and "O" not in code


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("I0001", "does not use the letters I and O"),
        ("O1234", "does not use the letters I and O"),
        ("a0001", "upper-case letter"),
        ("A00B1", "neither 5 digits nor Alpha-5"),
        ("-1234", "neither 5 digits nor Alpha-5"),
    ],
)
def test_bad_alpha5_messages(code, message):
    with pytest.raises(InputError, match=message):
        from_alpha5(code)
    err = raises_parse(tle(fix(L1[:2] + code + L1[7:]), fix(L2[:2] + code + L2[7:])))
    assert err.line == 1 and message in str(err) and "columns 3-7" in str(err)


def test_alpha5_out_of_range_for_tle_writer():
    es = ElementSet.from_text(tle(L1, L2))
    big = dataclasses.replace(es, norad_ids=np.array([340_000]))
    with pytest.raises(InputError, match="write OMM"):
        big.to_text("tle")
    assert json.loads(big.to_text("omm-json"))[0]["NORAD_CAT_ID"] == 340_000


# ============================================================ malformed TLE lines


def _replace(line: str, start: int, new: str) -> str:
    """Replace columns from 0-based ``start`` with ``new`` and fix the checksum."""
    return fix(line[:start] + new + line[start + len(new) :])


MALFORMED = [
    # (case, text, line, substring of the message)
    ("bad checksum", tle(L1[:68] + "0", L2), 1, "checksum is 0 but the line's digits add up to 8"),
    (
        "second line bad checksum",
        tle(L1, L2[:68] + "9"),
        2,
        "checksum is 9 but the line's digits add up to 6",
    ),
    ("non-digit checksum", tle(L1[:68] + "X", L2), 1, "checksum (column 69) is 'X'"),
    ("line 2 first", tle(L2, L1), 1, "TLE line 2 without a line 1 before it"),
    ("line 1 without line 2", tle(L1, L1B, L2B), 1, "TLE line 1 is not followed by its line 2"),
    ("line 1 at end", tle(L1B, L2B, L1), 3, "the text ends"),
    (
        "mismatched catalogue numbers",
        tle(L1, _replace(L2, 2, "44715")),
        2,
        "catalogue number on line 2 (44715) differs from line 1 (44714)",
    ),
    ("short line", tle(L1[:60], L2), 1, "is 60 characters long; it must have 69"),
    ("long line", tle(L1 + "7", L2), 1, "is 70 characters long; it must have 69"),
    ("shifted columns", tle(fix(L1[:17] + "X" + L1[18:]), L2), 1, "column 18 must be blank"),
    (
        "non-numeric inclination",
        tle(L1, _replace(L2, 8, " 53.1x65")),
        2,
        "inclination (columns 9-16) is ' 53.1x65'",
    ),
    (
        "non-numeric mean motion",
        tle(L1, _replace(L2, 52, "15.3103550a")),
        2,
        "mean motion (columns 53-63)",
    ),
    (
        "non-numeric bstar",
        tle(_replace(L1, 53, " 61x11-4"), L2),
        1,
        "BSTAR drag term (columns 54-61) is ' 61x11-4'",
    ),
    ("nan ndot", tle(_replace(L1, 33, "       nan"), L2), 1, "mean motion derivative"),
    (
        "eccentricity with a point",
        tle(L1, _replace(L2, 26, ".001251")),
        2,
        "eccentricity (columns 27-33) is '.001251'; expected 7 digits with an implied",
    ),
    (
        "eccentricity with a blank",
        tle(L1, _replace(L2, 26, "00 1251")),
        2,
        "eccentricity (columns 27-33)",
    ),
    (
        "inclination out of range",
        tle(L1, _replace(L2, 8, "181.0000")),
        2,
        "inclination 181.0 is outside 0..180 degrees",
    ),
    ("SGP4-XP", tle(_replace(L1, 62, "4"), L2), 1, "SGP4-XP"),
    ("bad ephemeris type", tle(_replace(L1, 62, "9"), L2), 1, "ephemeris type (column 63)"),
    ("classification", tle(_replace(L1, 7, "X"), L2), 1, "classification (column 8) is 'X'"),
    (
        "day 367",
        tle(_replace(L1, 18, "26367.00000000"), L2),
        1,
        "day of year 367; 2026 has days 1..365",
    ),
    (
        "day 366 in a common year",
        tle(_replace(L1, 18, "25366.00000000"), L2),
        1,
        "2025 has days 1..365",
    ),
    (
        "epoch garbage",
        tle(_replace(L1, 18, "26O53.95338319"), L2),
        1,
        "epoch (columns 19-32) is '26O53.95338319'; expected YYDDD.DDDDDDDD",
    ),
    (
        "orphan name",
        tle("STARLINK-1", "STARLINK-2", L1, L2),
        1,
        "name line 'STARLINK-1' is not followed by TLE line 1",
    ),
    ("name at end", tle(L1, L2, "STARLINK-9"), 3, "at the end is not followed by a TLE"),
    ("non-ascii", tle(fix(L1[:24] + "é" + L1[25:]), L2), 1, "non-ASCII"),
]


@pytest.mark.parametrize(
    ("case", "text", "line", "message"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_tle_messages(case, text, line, message):
    err = raises_parse(text, source="bad.tle")
    assert err.source == "bad.tle" and err.line == line, str(err)
    assert message in str(err), str(err)
    assert str(err).startswith(f"bad.tle line {line}: ")


def test_sgp4xp_message_explains_the_fix():
    err = raises_parse(tle(_replace(L1, 62, "4"), L2))
    assert "not compatible" in str(err) or "wrong positions with SGP4" in str(err)
    assert "ask the provider for the SGP4" in str(err)


def test_two_digit_years():
    t57 = ElementSet.from_text(tle(_replace(L1, 18, "57001.50000000"), L2))
    t56 = ElementSet.from_text(tle(_replace(L1, 18, "56001.50000000"), L2))
    t99 = ElementSet.from_text(tle(_replace(L1, 18, "99365.00000000"), L2))
    t00 = ElementSet.from_text(tle(_replace(L1, 18, "00366.25000000"), L2))
    assert str(t57.epochs[0]) == "1957-01-01T12:00:00.000000000"
    assert str(t56.epochs[0]) == "2056-01-01T12:00:00.000000000"
    assert str(t99.epochs[0]) == "1999-12-31T00:00:00.000000000"
    assert str(t00.epochs[0]) == "2000-12-31T06:00:00.000000000"  # 2000 is a leap year


def test_epoch_matches_sgp4_to_the_nanosecond():
    es = ElementSet.from_text(tle(L1, L2))
    ref = Satrec.twoline2rv(L1, L2)
    jd, fr = to_jd_pair(es.epochs)
    assert jd[0] == ref.jdsatepoch
    assert abs(fr[0] - ref.jdsatepochF) < 1e-9 / 86_400 * 1e3  # < 1 microsecond
    assert str(es.epochs[0]) == "2026-02-22T22:52:52.307616000"


def test_vallado_style_trailing_columns_and_blank_fields_are_accepted():
    line1 = "1 11801U          80230.29629788  .01431103  00000-0  14311-1      13"
    line2 = (
        "2 11801  46.7916 230.4354 7318036  47.4722  10.4117  2.28537848    13"
        "      0.0      1440.0        360.00"
    )
    es = ElementSet.from_text(tle(line1, line2))
    ref = Satrec.twoline2rv(line1, line2)
    assert es.international_designators[0] == "" and es.rev_at_epoch[0] == ref.revnum == 1
    assert es.element_set_no[0] == ref.elnum == 1  # '   1' then checksum 3
    assert es.bstar[0] == pytest.approx(ref.bstar, rel=1e-15)


# ============================================================ malformed OMM


def _json(*records) -> str:
    return json.dumps(list(records))


def test_missing_omm_key_names_it_and_lists_the_needed_keys():
    err = raises_parse(_json(omm_record(MEAN_MOTION=None)), source="x.json")
    msg = str(err)
    assert msg.startswith("x.json: record 1 (STARLINK-1008): missing OMM key MEAN_MOTION")
    assert "an OMM for SGP4 needs EPOCH, MEAN_MOTION" in msg


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"EPHEMERIS_TYPE": 4}, "SGP4-XP"),
        ({"EPHEMERIS_TYPE": "4"}, "SGP4-XP"),
        ({"MEAN_ELEMENT_THEORY": "SGP4-XP"}, "only SGP4 mean elements"),
        ({"EPOCH": "2026-02-30T00:00:00"}, "EPOCH '2026-02-30T00:00:00' is not a UTC date-time"),
        ({"EPOCH": "yesterday"}, "expected ISO 8601"),
        ({"EPOCH": "1850-01-01T00:00:00"}, "before the space age"),
        ({"MEAN_MOTION": "fast"}, "MEAN_MOTION is 'fast'; expected a number"),
        ({"MEAN_MOTION": ""}, "missing OMM key MEAN_MOTION"),
        ({"MEAN_MOTION": -1.0}, "MEAN_MOTION is -1.0; it must be > 0"),
        ({"ECCENTRICITY": 1.2}, "ECCENTRICITY is 1.2"),
        ({"INCLINATION": 200}, "INCLINATION is 200.0"),
        ({"NORAD_CAT_ID": "44714.5"}, "NORAD_CAT_ID is '44714.5'; expected a whole number"),
        ({"NORAD_CAT_ID": 10**30}, "NORAD_CAT_ID"),
        ({"BSTAR": [1]}, "BSTAR is [1]; expected a number"),
        ({"CLASSIFICATION_TYPE": "Q"}, "CLASSIFICATION_TYPE is 'Q'"),
        ({"MEAN_MOTION_DOT": float("nan")}, "expected a finite number"),
    ],
)
def test_malformed_omm_messages(changes, message):
    err = raises_parse(_json(omm_record(), omm_record(**changes)))
    assert "record 2 (STARLINK-1008)" in str(err)
    assert message in str(err)


def test_omm_day_of_year_epoch_and_string_numbers():
    rec = {k: str(v) for k, v in omm_record(EPOCH="2026-053T22:52:52.307616Z").items()}
    es = parse_elements(json.dumps(rec))  # one object, Space-Track-style strings
    assert str(es.epochs[0]) == "2026-02-22T22:52:52.307616000"
    assert es.mean_motion_rev_per_day[0] == 15.31035506


@pytest.mark.parametrize(
    ("text", "fmt", "line", "message"),
    [
        ('[{"OBJECT_NAME": "X",\n "EPOCH": }]', None, 2, "not valid JSON"),
        ("42", "omm-json", None, "a list of objects or one object, not a int"),
        ("[1, 2]", None, None, "must be an object of CCSDS keys"),
        ("OBJECT_NAME,NORAD_CAT_ID\nX,1\n", None, 1, "the CSV header lacks EPOCH"),
        ("<ndm><omm>", None, 1, "not well-formed XML"),
        ("<ndm><foo/></ndm>", None, None, "no <segment> elements"),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ndm/>',
            None,
            None,
            "DOCTYPE or ENTITY",
        ),
    ],
)
def test_malformed_omm_documents(text, fmt, line, message):
    err = raises_parse(text, format=fmt)
    assert err.line == line and message in str(err), str(err)


def test_csv_row_with_wrong_field_count_names_its_line():
    lines = (GOLDEN / "starlink-4.csv").read_text().splitlines()
    lines[2] = lines[2] + ",extra"
    err = raises_parse("\n".join(lines) + "\n", source="x.csv")
    assert err.line == 3 and "the row has 18 fields but the header has 17" in str(err)


def test_non_utf8_and_nul_bytes():
    assert "not UTF-8" in str(raises_parse(b"\xff\xfe\x00garbage"))
    assert "NUL bytes" in str(raises_parse("1 \x00"))


# ============================================================ skip mode and duplicates


def test_skip_mode_returns_valid_records_and_reports_the_rest():
    text = tle(
        "GOOD-1",
        L1,
        L2,
        "BAD-CHECKSUM",
        L1B[:68] + "0",
        L2B,
        "GOOD-2",
        _replace(L1, 2, "44800"),
        _replace(L2, 2, "44800"),
        "BAD-XP",
        _replace(_replace(L1, 2, "44801"), 62, "4"),
        _replace(L2, 2, "44801"),
    )
    es = ElementSet.from_text(text, on_invalid="skip", source="mixed.3le")
    assert es.names.tolist() == ["GOOD-1", "GOOD-2"]
    assert [(s.line, s.record, s.norad_id) for s in es.skipped] == [(5, 2, 44718), (11, 4, 44801)]
    assert "checksum" in es.skipped[0].reason and "SGP4-XP" in es.skipped[1].reason
    assert es.report.records_read == 4 and es.report.records_kept == 2
    assert es.report.summary() == (
        "mixed.3le: 2 of 4 3le records kept, 2 invalid skipped, 0 older duplicates dropped"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        es.report = None  # type: ignore[misc]
    with pytest.raises(ParseError, match="mixed.3le line 5: checksum"):
        ElementSet.from_text(text, source="mixed.3le")


def test_skip_mode_for_omm_records():
    es = parse_elements(
        _json(omm_record(), omm_record(EPOCH="bad", NORAD_CAT_ID=5)), on_invalid="skip"
    )
    assert len(es) == 1
    (s,) = es.skipped
    assert s.line is None and s.record == 2 and s.norad_id == 5 and "EPOCH" in s.reason


def test_duplicates_resolved_to_newest_epoch():
    older = _replace(L1, 18, "26050.00000000")
    newer = _replace(L1, 18, "26054.00000000")
    text = tle("A", older, L2, "B", L1B, L2B, "C", newer, L2, "D", L1, L2)
    es = ElementSet.from_text(text)
    assert es.names.tolist() == ["B", "C"]  # file order of the kept records
    assert es.duplicates_dropped == 2
    assert sorted(d.line for d in es.report.duplicates) == [1, 10]
    assert all("appears again at line 7" in d.reason for d in es.report.duplicates)
    assert "2 older duplicates dropped" in es.report.summary()
    assert len(ElementSet.from_text(text, duplicates="keep")) == 4


def test_duplicate_tie_keeps_the_later_record():
    es = ElementSet.from_text(tle("FIRST", L1, L2, "SECOND", L1, L2))
    assert es.names.tolist() == ["SECOND"] and es.duplicates_dropped == 1


def test_bad_option_values():
    with pytest.raises(InputError, match="on_invalid must be 'raise' or 'skip'"):
        parse_elements(tle(L1, L2), on_invalid="ignore")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="duplicates must be 'newest' or 'keep'"):
        parse_elements(tle(L1, L2), duplicates="oldest")  # type: ignore[arg-type]


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        ElementSet.from_file(tmp_path / "nope.tle")


# ============================================================ writers


def test_checksum_matches_sgp4():
    for line in (L1, L2, L1B, L2B):
        assert tle_checksum(line) == compute_checksum(line) == int(line[68])


def test_tle_writer_reproduces_standard_lines():
    es = ElementSet.from_text(tle("STARLINK-1008", L1, L2, "STARLINK-1012", L1B, L2B))
    assert format_elements(es, "tle") == tle(L1, L2, L1B, L2B)
    assert format_elements(es, "3le") == tle(
        "STARLINK-1008           ", L1, L2, "STARLINK-1012           ", L1B, L2B
    )


def test_tle_writer_rounds_epoch_into_next_day_and_year():
    es = ElementSet.from_text(tle(L1, L2))
    late = dataclasses.replace(
        es, epochs=np.array(["2025-12-31T23:59:59.9999999"], dtype="datetime64[ns]")
    )
    line1 = format_elements(late, "tle").splitlines()[0]
    assert line1[18:32] == "26001.00000000"
    assert tle_checksum(line1) == int(line1[68])


def test_tle_writer_normalises_angles_and_refuses_what_does_not_fit():
    es = ElementSet.from_text(tle(L1, L2))
    neg = dataclasses.replace(es, raan_deg=np.array([-10.0]), mean_anomaly_deg=np.array([725.0]))
    back = ElementSet.from_text(neg.to_text("tle"))
    assert back.raan_deg[0] == 350.0 and back.mean_anomaly_deg[0] == 5.0
    fast = dataclasses.replace(es, mean_motion_dot=np.array([1.5]))
    with pytest.raises(InputError, match="mean_motion_dot 1.5 does not fit"):
        fast.to_text("tle")
    old = dataclasses.replace(es, epochs=np.array(["1950-01-01"], dtype="datetime64[ns]"))
    with pytest.raises(InputError, match="1957-2056"):
        old.to_text("tle")


def test_to_file_picks_format_from_suffix_and_is_atomic(tmp_path):
    es = ElementSet.from_file(STARLINK4)
    for suffix, fmt in (
        (".tle", "tle"),
        (".txt", "tle"),
        (".3le", "3le"),
        (".json", "omm-json"),
        (".csv", "omm-csv"),
        (".xml", "omm-xml"),
    ):
        path = es.to_file(tmp_path / f"out{suffix}")
        assert detect_format(path.read_text()) == fmt
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"out{s}" for s in (".tle", ".txt", ".3le", ".json", ".csv", ".xml")
    )
    with pytest.raises(InputError, match=r"use one of \.tle, \.txt"):
        es.to_file(tmp_path / "out.dat")
    es.to_file(tmp_path / "out.dat", format="3le")
    # a failing write leaves the existing file untouched and no temporary file behind
    target = tmp_path / "out.3le"
    before = target.read_text()
    bad = dataclasses.replace(es, mean_motion_dot=np.full(len(es), 2.0))
    with pytest.raises(InputError):
        bad.to_file(target)
    assert target.read_text() == before
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


# ============================================================ property tests


angles = st.floats(min_value=0.0, max_value=359.99994, allow_nan=False)
elements_strategy = st.fixed_dictionaries(
    {
        "norad": st.integers(min_value=0, max_value=339_999),
        "epoch_ms": st.integers(min_value=-400_000_000_000, max_value=2_000_000_000_000),
        "inc": st.floats(min_value=0.0, max_value=179.99994),
        "raan": angles,
        "argp": angles,
        "ma": angles,
        "ecc": st.floats(min_value=0.0, max_value=0.99999994),
        "n": st.floats(min_value=0.05, max_value=17.0),
        "bstar": st.floats(min_value=-0.9, max_value=0.9),
        "ndot": st.floats(min_value=-0.99, max_value=0.99),
        "nddot": st.floats(min_value=-0.9, max_value=0.9),
        "name": st.text(alphabet='ABCXYZ0123456789-() ,&<"', min_size=1, max_size=24)
        .map(str.strip)
        .filter(lambda s: s and not s.startswith(("0 ", "#"))),
    }
).filter(  # readers refuse orbits inside the Earth (semi_major_axis_km is SGP4's own ``a``)
    lambda d: semi_major_axis_km(d["n"], d["ecc"], d["inc"]) >= EARTH_EQUATORIAL_RADIUS_KM
)


def _one(d) -> ElementSet:
    return ElementSet(
        names=[d["name"]],
        norad_ids=[d["norad"]],
        epochs=np.array([d["epoch_ms"]], dtype="datetime64[ms]").astype("datetime64[ns]"),
        inclination_deg=[d["inc"]],
        raan_deg=[d["raan"]],
        eccentricity=[d["ecc"]],
        arg_perigee_deg=[d["argp"]],
        mean_anomaly_deg=[d["ma"]],
        mean_motion_rev_per_day=[d["n"]],
        bstar=[d["bstar"]],
        mean_motion_dot=[d["ndot"]],
        mean_motion_ddot=[d["nddot"]],
        international_designators=["98067A"],
    )


@settings(max_examples=150, deadline=None)
@given(elements_strategy)
def test_tle_round_trip_to_field_precision(d):
    es = _one(d)
    back = ElementSet.from_text(es.to_text("3le"))
    assert back.names[0] == d["name"] and back.norad_ids[0] == d["norad"]
    for col, half_unit in (
        ("inclination_deg", 5e-5),
        ("raan_deg", 5e-5),
        ("arg_perigee_deg", 5e-5),
        ("mean_anomaly_deg", 5e-5),
        ("eccentricity", 5e-8),
        ("mean_motion_rev_per_day", 5e-9),
        ("mean_motion_dot", 5e-9),
    ):
        assert abs(getattr(back, col)[0] - getattr(es, col)[0]) <= half_unit * (1 + 1e-9), col
    for col in ("bstar", "mean_motion_ddot"):  # 5 significant digits, exponent -9..9
        a, b = getattr(es, col)[0], getattr(back, col)[0]
        assert abs(a - b) <= max(abs(a) * 5e-5, 1e-10), col
    dt_ns = abs(int((back.epochs[0] - es.epochs[0]).astype(np.int64)))
    assert dt_ns <= 432_000  # half of 1e-8 day
    # writing what was read reproduces the same text exactly
    assert back.to_text("3le") == es.to_text("3le")


@settings(max_examples=100, deadline=None)
@given(elements_strategy, st.sampled_from(["omm-json", "omm-csv", "omm-xml"]))
def test_omm_round_trip_is_exact(d, fmt):
    es = _one(d)
    back = parse_elements(es.to_text(fmt))
    for col in (
        "names",
        "norad_ids",
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
    ):
        np.testing.assert_array_equal(getattr(back, col), getattr(es, col), err_msg=col)
    assert back.international_designators[0] == "1998-067A"


def _only_skyfence_errors(data, **kwargs) -> None:
    try:
        parse_elements(data, **kwargs)
    except SkyfenceError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400), st.sampled_from([None, *FORMATS]), st.sampled_from(["raise", "skip"]))
def test_arbitrary_text_raises_only_skyfence_errors(text, fmt, on_invalid):
    _only_skyfence_errors(text, format=fmt, on_invalid=on_invalid)


_VALID_INPUTS = [
    (GOLDEN / "starlink-4.3le").read_bytes(),
    (GOLDEN / "alpha5.3le").read_bytes(),
    (GOLDEN / "starlink-4.json").read_bytes(),
    (GOLDEN / "starlink-4.csv").read_bytes(),
    (GOLDEN / "starlink-4.xml").read_bytes(),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(range(len(_VALID_INPUTS))),
    st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=6
    ),
    st.one_of(st.none(), st.integers(min_value=0)),
    st.sampled_from(["raise", "skip"]),
)
def test_byte_flips_and_truncations_raise_only_parse_errors(which, flips, cut, on_invalid):
    data = bytearray(_VALID_INPUTS[which])
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        es = parse_elements(bytes(data), on_invalid=on_invalid)
    except ParseError:
        return
    assert isinstance(es, ElementSet)
    if on_invalid == "skip" and es.report.format in ("tle", "3le"):
        assert es.report.records_kept == len(es)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([L1, L2]), st.integers(min_value=2, max_value=67), st.sampled_from("0123456789")
)
def test_single_digit_change_is_caught_by_the_checksum(line, pos, digit):
    if not line[pos].isdigit() or line[pos] == digit:
        return
    bad = line[:pos] + digit + line[pos + 1 :]
    text = tle(bad, L2) if line is L1 else tle(L1, bad)
    err = raises_parse(text)
    assert "checksum" in str(err) or "catalogue number" in str(err)


def _slow_only(monkeypatch):
    monkeypatch.setattr(
        tle_fast, "decode", lambda pairs, verify: (np.zeros(len(pairs), dtype=bool), {})
    )


def _outcome(data: bytes, on_invalid: str):
    try:
        es = parse_elements(data, on_invalid=on_invalid)
    except ParseError as exc:
        return ("error", str(exc))
    cols = {
        k: v.tolist() if v.dtype.kind != "f" else v.view(np.int64).tolist()
        for k, v in es.columns().items()
    }
    return ("ok", cols, es.report)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from([0, 1]),
    st.lists(
        st.tuples(st.integers(min_value=0), st.sampled_from(b" 0123456789-+.AUI\n")), max_size=4
    ),
    st.sampled_from(["raise", "skip"]),
)
def test_vectorised_path_equals_line_by_line_path(monkeypatch, which, flips, on_invalid):
    """The numpy fast path must accept, decode and refuse exactly like the validator."""
    data = bytearray(_VALID_INPUTS[which])
    for pos, value in flips:
        data[pos % len(data)] = value
    fast = _outcome(bytes(data), on_invalid)
    with monkeypatch.context() as m:
        _slow_only(m)
        slow = _outcome(bytes(data), on_invalid)
    assert fast == slow  # same values bit for bit, same report, same message


# ============================================================ the real snapshot


def test_snapshot_parses_cleanly_and_agrees_with_sgp4(starlink_tle):
    es = ElementSet.from_file(starlink_tle)
    lines = starlink_tle.read_text().splitlines()
    assert len(es) == len(lines) // 3 == es.report.records_read
    assert es.skipped == () and es.duplicates_dropped == 0
    assert len(np.unique(es.norad_ids)) == len(es)
    tle_lines = [ln for ln in lines if ln.startswith(("1 ", "2 "))]
    assert all(compute_checksum(ln) == int(ln[68]) for ln in tle_lines)
    assert es.names.tolist() == [ln.strip() for ln in lines[0::3]]
    refs = [Satrec.twoline2rv(tle_lines[2 * k], tle_lines[2 * k + 1]) for k in range(len(es))]
    ours = es.to_satrecs()
    for attr in (
        "satnum",
        "no_kozai",
        "ecco",
        "inclo",
        "nodeo",
        "argpo",
        "mo",
        "bstar",
        "ndot",
        "nddot",
        "jdsatepoch",
        "elnum",
        "revnum",
    ):
        np.testing.assert_allclose(
            [getattr(s, attr) for s in ours],
            [getattr(r, attr) for r in refs],
            rtol=1e-14,
            err_msg=attr,
        )
    np.testing.assert_allclose(
        [s.jdsatepochF for s in ours], [r.jdsatepochF for r in refs], rtol=0, atol=1e-11
    )


def test_snapshot_fast_and_slow_paths_agree_bit_for_bit(starlink_tle, monkeypatch):
    fast = _outcome(starlink_tle.read_bytes(), "raise")
    _slow_only(monkeypatch)
    assert _outcome(starlink_tle.read_bytes(), "raise") == fast


@pytest.mark.slow
def test_snapshot_round_trips_through_every_writer(starlink_tle, tmp_path):
    es = ElementSet.from_file(starlink_tle)
    assert es.to_text("3le") == starlink_tle.read_text()  # byte for byte
    for suffix in (".tle", ".3le", ".json", ".csv", ".xml"):
        back = ElementSet.from_file(es.to_file(tmp_path / f"snap{suffix}"))
        assert len(back) == len(es) and back.skipped == ()
        cols = [
            "norad_ids",
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
        ]
        if suffix != ".tle":
            cols.append("names")
        for col in cols:
            np.testing.assert_array_equal(
                getattr(back, col), getattr(es, col), err_msg=f"{suffix} {col}"
            )
        if suffix in (".json", ".csv", ".xml"):
            again = ElementSet.from_text(back.to_text("3le"))
            assert again.to_text("3le") == starlink_tle.read_text()


def test_formats_module_doctest_examples():
    import doctest

    import skyfence.orbits.elements as elements_module

    for module in (formats, elements_module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_docs_examples_run():
    import doctest

    docs = Path(__file__).resolve().parents[2] / "docs" / "element-sets.md"
    result = doctest.testfile(
        str(docs), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0 and result.attempted >= 8


def test_report_entries_are_jsonable():
    es = ElementSet.from_text(tle(L1[:68] + "0", L2, L1B, L2B), on_invalid="skip")
    data = json.loads(json.dumps([dataclasses.asdict(s) for s in es.skipped]))
    assert data[0]["line"] == 1 and data[0]["norad_id"] == 44714
    assert isinstance(io.StringIO(es.report.summary()).read(), str)
