import numpy as np
import pytest

from skyfence.errors import InputError, SkyfenceError
from skyfence.timeutil import parse_duration, parse_time, time_grid, to_jd_pair


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), ("7.5", 7.5)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "1x", "-5", "1h junk"])
def test_parse_duration_rejects(text):
    with pytest.raises(InputError, match="duration"):
        parse_duration(text)


def test_parse_time_offsets_are_converted_to_utc():
    assert parse_time("2026-02-22T14:00:00+02:00") == np.datetime64("2026-02-22T12:00:00", "ns")
    assert parse_time("2026-02-22T12:00:00Z") == np.datetime64("2026-02-22T12:00:00", "ns")


def test_parse_time_error_is_skyfence_and_value_error():
    with pytest.raises(SkyfenceError) as info:
        parse_time("yesterday-ish")
    assert isinstance(info.value, ValueError)
    assert "ISO 8601" in str(info.value)


def test_time_grid_includes_end_on_grid():
    g = time_grid("2026-02-22T00:00:00Z", 60, 15)
    assert len(g) == 5
    assert g[-1] == np.datetime64("2026-02-22T00:01:00", "ns")


def test_jd_pair_j2000():
    # J2000.0 = 2000-01-01T12:00:00 TT; as a UTC calendar instant its JD is 2451545.0
    jd, fr = to_jd_pair(np.array(["2000-01-01T12:00:00"], dtype="datetime64[ns]"))
    assert jd[0] + fr[0] == 2451545.0
    assert jd[0] % 1 == 0.5
