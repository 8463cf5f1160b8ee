"""Propagation: Earth-fixed positions against skyfield on the real snapshot, chunking, workers,
float32, error codes, and the exports."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from sgp4.api import Satrec
from skyfield.api import EarthSatellite, load
from skyfield.framelib import itrs

from skyfence.errors import InputError
from skyfence.orbits import Constellation, Ephemeris, elements_from_satrecs, walker_shell
from skyfence.orbits.frames import EARTH_ROTATION_RAD_S, gmst_rad, teme_to_ecef
from skyfence.timeutil import time_grid, to_jd_pair

TS = load.timescale(builtin=True)
INSTANTS = np.array(
    ["2026-02-22T00:00:00", "2026-02-23T06:30:15", "2026-02-24T12:00:00"], dtype="datetime64[ns]"
)


def _read_3le(path, every=1):
    lines = path.read_text().splitlines()
    recs = [(lines[i].strip(), lines[i + 1], lines[i + 2]) for i in range(0, len(lines) - 2, 3)]
    return recs[::every]


@pytest.fixture(scope="module")
def subset(starlink_tle):
    """About 200 real satellites (every 48th of the snapshot) with their TLE lines."""
    recs = _read_3le(starlink_tle, every=48)
    sats = [Satrec.twoline2rv(l1, l2) for _, l1, l2 in recs]
    return recs, elements_from_satrecs(sats, [n for n, _, _ in recs], source="subset")


def _skyfield_itrs_km(recs, t):
    return np.array([EarthSatellite(l1, l2, ts=TS).at(t).frame_xyz(itrs).km for _, l1, l2 in recs])


def test_positions_agree_with_skyfield(subset):
    recs, es = subset
    assert len(es) >= 190
    eph = Constellation(es).propagate(INSTANTS)
    for k, when in enumerate(INSTANTS):
        d = when.astype("datetime64[s]").astype(object)
        t = TS.utc(d.year, d.month, d.day, d.hour, d.minute, d.second)
        theirs = _skyfield_itrs_km(recs, t)
        ours = eph.positions_ecef_km[:, k]
        diff_m = np.linalg.norm(ours - theirs, axis=1) * 1000.0
        # skyfence takes UT1 = UTC: the Earth's rotation over |UT1-UTC| (skyfield knows it,
        # ~0.06 s in Feb 2026) moves a satellite by |dut1| * omega * |r| (~30 m); the rest
        # (IAU 1982 GMST vs skyfield's IAU 2000/2006 frames, polar motion off in both) < 5 m.
        allowed_m = abs(t.dut1) * EARTH_ROTATION_RAD_S * np.linalg.norm(theirs, axis=1) * 1e3 + 5.0
        assert np.all(diff_m <= allowed_m), (k, diff_m.max(), allowed_m.max())
        assert np.all(eph.error_codes[:, k] == 0)


def test_teme_rotation_with_ut1_agrees_with_skyfield_to_metres(subset):
    # The same rotation evaluated at UT1 (as skyfield does) removes the dut1 term.
    recs, es = subset
    t = TS.utc(2026, 2, 23, 6, 30, 15)
    jd, fr = to_jd_pair(INSTANTS[1:2])
    _, r, _ = es.to_satrec_array().sgp4(jd, fr)
    ut1_fr = fr + t.dut1 / 86400.0
    ours, _ = teme_to_ecef(r, gmst_rad(jd, ut1_fr))
    theirs = _skyfield_itrs_km(recs, t)
    assert np.max(np.linalg.norm(ours[:, 0] - theirs, axis=1)) * 1000.0 < 5.0


def test_geodetic_view_agrees_with_skyfield_subpoint(subset):
    from skyfield.api import wgs84

    recs, es = subset
    eph = Constellation(es[:20]).propagate(INSTANTS[:1])
    t = TS.utc(2026, 2, 22)
    lat, lon = [], []
    for _, l1, l2 in recs[:20]:
        sub = wgs84.subpoint_of(EarthSatellite(l1, l2, ts=TS).at(t))
        lat.append(sub.latitude.degrees)
        lon.append(sub.longitude.degrees)
    # 30 m of Earth rotation (dut1) is 3e-4 deg of longitude
    assert np.max(np.abs(eph.latitude_deg[:, 0] - lat)) < 1e-4
    assert np.max(np.abs((eph.longitude_deg[:, 0] - lon + 180) % 360 - 180)) < 5e-4


@pytest.fixture(scope="module")
def small():
    c = Constellation.from_shells(
        [
            walker_shell_info(550.0, 53.0, 6, 10),
            walker_shell_info(1100.0, 87.0, 4, 9),
        ]
    )
    return c, time_grid("2026-02-22T00:00Z", 1800, 20)


def walker_shell_info(alt, inc, planes, per_plane):
    from skyfence.orbits import ShellInfo

    return ShellInfo(f"{alt:.0f}-{inc}", alt, inc, planes, per_plane, 1)


def test_chunking_and_streaming_give_the_same_result(small):
    c, times = small
    whole = c.propagate(times, velocities=True)
    chunked = c.propagate(times, chunk=7, velocities=True)
    assert np.array_equal(whole.positions_ecef_km, chunked.positions_ecef_km)
    assert np.array_equal(whole.velocities_ecef_km_s, chunked.velocities_ecef_km_s)
    parts = list(c.iter_propagate(times, chunk=13, geodetic=True))
    parts_short = list(c.iter_propagate(times, chunk=20))
    assert [p.shape[1] for p in parts] == [13] * 7
    assert [p.shape[1] for p in parts_short] == [20] * 4 + [11]
    assert np.array_equal(np.concatenate([p.times for p in parts]), times)
    stacked = np.concatenate([p.positions_ecef_km for p in parts], axis=1)
    assert np.array_equal(stacked, whole.positions_ecef_km)
    lat = np.concatenate([p.latitude_deg for p in parts], axis=1)
    assert np.allclose(lat, whole.latitude_deg, rtol=0, atol=1e-12)


def test_propagate_matches_raw_sgp4_then_rotation(small):
    c, times = small
    eph = c.propagate(times, velocities=True)
    jd, fr = to_jd_pair(times)
    e, r, v = c.elements.to_satrec_array().sgp4(jd, fr)
    r_ecef, v_ecef = teme_to_ecef(r, gmst_rad(jd, fr), v)
    assert np.allclose(eph.positions_ecef_km, r_ecef, rtol=0, atol=1e-9)
    assert np.allclose(eph.velocities_ecef_km_s, v_ecef, rtol=0, atol=1e-12)
    # velocity really is the derivative of the Earth-fixed position (central difference)
    fd = (eph.positions_ecef_km[:, 2:] - eph.positions_ecef_km[:, :-2]) / 40.0
    assert np.allclose(fd, eph.velocities_ecef_km_s[:, 1:-1], atol=2e-3)


def test_two_workers_equal_one(small):
    c, times = small
    one = c.propagate(times, geodetic=True)
    two = c.propagate(times, workers=2, geodetic=True)
    assert np.array_equal(one.positions_ecef_km, two.positions_ecef_km)
    piped = c.propagate(times, workers=2, chunk=7, geodetic=True, velocities=True)
    assert np.array_equal(one.positions_ecef_km, piped.positions_ecef_km)
    assert np.array_equal(one.latitude_deg, piped.latitude_deg)
    assert np.array_equal(one.altitude_km, two.altitude_km)
    streamed = np.concatenate(
        [p.positions_ecef_km for p in c.iter_propagate(times, workers=2, chunk=10)], axis=1
    )
    assert np.array_equal(streamed, one.positions_ecef_km)


def test_float32_option(small):
    c, times = small
    f64 = c.propagate(times)
    f32 = c.propagate(times, dtype=np.float32)
    assert f32.positions_ecef_km.dtype == np.float32
    assert f32.latitude_deg.dtype == np.float32
    # float32 keeps 24 bits: ~0.5 m at 8,000 km
    assert np.max(np.abs(f32.positions_ecef_km - f64.positions_ecef_km)) < 1e-3


def test_progress_callback_reports_every_block(small):
    c, times = small
    seen = []
    c.propagate(times, chunk=40, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 91), (40, 91), (80, 91), (91, 91)]


def test_decayed_satellite_gives_error_code_and_nan_rows():
    # A satellite at ~180 km with heavy drag decays within days: SGP4 reports code 1 or 6.
    low = walker_shell(51.6, 1, 1, 0, 200.0)
    es = low.__class__(**{**low.columns(), "bstar": np.array([0.05])})
    ok = walker_shell(53.0, 1, 1, 0, 550.0)
    from skyfence.orbits import ElementSet

    both = ElementSet.concatenate([es, ok])
    times = time_grid("2026-02-22T00:00Z", 20 * 86400, 86400)
    eph = Constellation(both).propagate(times)
    bad = eph.error_codes[0] != 0
    assert bad.any() and not bad[0]
    assert np.all(np.isnan(eph.positions_ecef_km[0, bad]))
    assert np.all(np.isnan(eph.altitude_km[0, bad]))
    assert np.all(eph.error_codes[1] == 0)
    assert np.all(np.isfinite(eph.positions_ecef_km[1]))


def test_bad_arguments_are_refused(small):
    c, times = small
    with pytest.raises(InputError, match="datetime64"):
        c.propagate(np.arange(3))
    with pytest.raises(InputError, match="float64 or float32"):
        c.propagate(times, dtype=np.int32)
    with pytest.raises(InputError, match="workers"):
        c.propagate(times, workers=0)
    with pytest.raises(InputError, match="chunk"):
        c.propagate(times, chunk=0)


def test_ephemeris_built_from_arrays_validates_shapes():
    t = np.array(["2026-02-22T00:00"], dtype="datetime64[ns]")
    with pytest.raises(InputError, match=r"\(sat, time, 3\)"):
        Ephemeris(times=t, positions_ecef_km=np.zeros((2, 2, 3)))
    eph = Ephemeris(
        times=t,
        positions_ecef_km=np.array([[[7000.0, 0, 0]], [[0, 7000.0, 0]]]),
        error_codes=np.array([[0], [6]]),
    )
    assert np.isnan(eph.at(0)[1]).all() and eph.at(0)[0, 0] == 7000.0
    assert eph.ok.tolist() == [[True], [False]]


def test_exports_round_trip(small, tmp_path):
    import pyarrow.parquet as pq

    c, times = small
    eph = c.propagate(times[:4], velocities=True)
    eph.error_codes[3, 2] = 6  # pretend one failure so the NaN path is exercised
    eph.positions_ecef_km[3, 2] = np.nan
    npz = eph.to_npz(tmp_path / "e.npz")
    back = Ephemeris.from_npz(npz)
    assert np.array_equal(back.times, eph.times)
    assert np.array_equal(back.positions_ecef_km, eph.positions_ecef_km, equal_nan=True)
    assert np.array_equal(back.velocities_ecef_km_s, eph.velocities_ecef_km_s)
    assert back.names.tolist() == eph.names.tolist()

    table = pq.read_table(eph.to_parquet(tmp_path / "e.parquet"))
    s, t = eph.shape
    assert table.num_rows == s * t
    assert table.column_names == [
        "time",
        "norad_id",
        "name",
        "x_km",
        "y_km",
        "z_km",
        "latitude_deg",
        "longitude_deg",
        "altitude_km",
        "error",
    ]
    x = np.array(table.column("x_km").to_pylist(), dtype=float).reshape(t, s)
    assert np.array_equal(x.T, eph.positions_ecef_km[..., 0], equal_nan=True)

    path = eph.write(tmp_path / "e.csv")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == s * t
    first = rows[0]
    assert first["time"].startswith("2026-02-22T00:00:00") and first["time"].endswith("Z")
    assert int(first["norad_id"]) == int(eph.norad_ids[0])
    assert abs(float(first["altitude_km"]) - float(eph.altitude_km[0, 0])) < 1e-6
    failed = rows[2 * s + 3]
    assert failed["error"] == "6" and failed["x_km"] == ""
    assert sorted(os.listdir(tmp_path)) == ["e.csv", "e.npz", "e.parquet"]  # no temp files


def test_export_refuses_unknown_suffix_and_missing_dir(small, tmp_path):
    c, times = small
    eph = c.propagate(times[:2])
    with pytest.raises(InputError, match=".npz, .parquet, .csv"):
        eph.write(tmp_path / "e.json")
    with pytest.raises(InputError, match="does not exist"):
        eph.to_npz(tmp_path / "nope" / "e.npz")


def test_stopping_a_stream_early_stops_the_workers(small):
    import multiprocessing

    c, times = small
    stream = c.iter_propagate(times, workers=2, chunk=5)
    first = next(stream)
    assert first.shape == (len(c), 5)
    assert len(multiprocessing.active_children()) == 2
    stream.close()
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("workers", [1, 2])
def test_kept_blocks_never_change(small, workers):
    # iter_propagate hands out its buffers without copying and reuses a buffer only once
    # every array of the block in it is gone: blocks a caller keeps must stay as computed.
    c, times = small
    one = c.propagate(times, geodetic=True, velocities=True)
    kept = list(c.iter_propagate(times, workers=workers, chunk=7, geodetic=True, velocities=True))
    assert [p.shape[1] for p in kept] == [7] * 13
    for name in ("positions_ecef_km", "velocities_ecef_km_s", "error_codes"):
        stacked = np.concatenate([getattr(p, name) for p in kept], axis=1)
        assert np.array_equal(stacked, getattr(one, name)), name
    for name in ("latitude_deg", "longitude_deg", "altitude_km"):
        stacked = np.concatenate([getattr(p, name) for p in kept], axis=1)
        assert np.array_equal(stacked, getattr(one, name)), name


@pytest.mark.parametrize("workers", [1, 2])
def test_streaming_with_some_blocks_kept(small, workers):
    # Keep every third block (and a view of one array of another): the pool runs short and
    # the later blocks are copied out; nothing kept may change.
    c, times = small
    one = c.propagate(times, geodetic=True)
    kept, views = {}, {}
    for k, part in enumerate(c.iter_propagate(times, workers=workers, chunk=5, geodetic=True)):
        if k % 3 == 0:
            kept[k] = part
        elif k % 3 == 1:
            views[k] = part.altitude_km[:, 1:]  # a view keeps the block's buffer busy too
        assert np.array_equal(part.positions_ecef_km, one.positions_ecef_km[:, 5 * k : 5 * k + 5])
    for k, part in kept.items():
        assert np.array_equal(part.positions_ecef_km, one.positions_ecef_km[:, 5 * k : 5 * k + 5])
        assert np.array_equal(part.latitude_deg, one.latitude_deg[:, 5 * k : 5 * k + 5])
    for k, alt in views.items():
        assert np.array_equal(alt, one.altitude_km[:, 5 * k + 1 : 5 * k + 5])


def test_streamed_blocks_reuse_the_buffer_pool(small):
    # A plain streaming loop (each block dropped when the next arrives) cycles through the
    # pool: no fresh 45 MB arrays per block, no copy out of the workers' shared memory.
    c, times = small
    for workers, pool in ((1, 2), (2, 3)):
        addresses = set()
        for part in c.iter_propagate(times, workers=workers, chunk=5, dtype=np.float64):
            addresses.add(part.positions_ecef_km.__array_interface__["data"][0])
        assert len(addresses) <= pool, (workers, len(addresses))


def test_float32_stream_with_two_workers(small):
    c, times = small
    f64 = c.propagate(times, geodetic=True)
    parts = list(c.iter_propagate(times, workers=2, chunk=9, dtype=np.float32, geodetic=True))
    assert all(p.positions_ecef_km.dtype == np.float32 for p in parts)
    stacked = np.concatenate([p.positions_ecef_km for p in parts], axis=1)
    assert np.array_equal(stacked, f64.positions_ecef_km.astype(np.float32))
    alt = np.concatenate([p.altitude_km for p in parts], axis=1)
    assert np.array_equal(alt, f64.altitude_km.astype(np.float32))


def test_engine_geodetic_matches_ecef_to_geodetic(small):
    # the fused rotation + geodetic pass gives exactly what ecef_to_geodetic gives for the
    # returned positions
    from skyfence.orbits.frames import ecef_to_geodetic

    c, times = small
    eph = c.propagate(times, geodetic=True)
    lat, lon, alt = ecef_to_geodetic(eph.positions_ecef_km)
    assert np.array_equal(lat, eph.latitude_deg)
    assert np.array_equal(lon, eph.longitude_deg)
    assert np.array_equal(alt, eph.altitude_km)
