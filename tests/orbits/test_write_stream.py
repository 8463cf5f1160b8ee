"""Streaming export: writing an ephemeris block by block gives the same file as writing it whole,
with bounded memory, atomically, and refuses blocks that do not make up the run."""

from __future__ import annotations

import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from skyfence.errors import InputError
from skyfence.orbits import Constellation, Ephemeris, ShellInfo
from skyfence.orbits.ephemeris import write_stream
from skyfence.timeutil import time_grid


def walker_shell_info(alt, inc, planes, per_plane):
    return ShellInfo(f"{alt:.0f}-{inc}", alt, inc, planes, per_plane, 1)


@pytest.fixture(scope="module")
def run():
    c = Constellation.from_shells(
        [walker_shell_info(550.0, 53.0, 5, 7), walker_shell_info(1100.0, 87.0, 3, 4)]
    )
    times = time_grid("2026-02-22T00:00:00Z", 13 * 60, 60)  # 14 steps
    return c, times


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("chunk", [1, 4, 14])
def test_streamed_files_equal_the_whole_ephemeris_written_at_once(run, tmp_path, chunk, workers):
    c, times = run
    whole = c.propagate(times, velocities=True)  # geodetic computed on use, from the positions
    whole.error_codes[2, 5:] = 6  # a pretend failure, to check NaN rows and codes
    whole.positions_ecef_km[2, 5:] = np.nan
    whole.velocities_ecef_km_s[2, 5:] = np.nan

    def blocks():
        for b in c.iter_propagate(
            times, chunk=chunk, workers=workers, velocities=True, geodetic=True
        ):
            k0 = int(np.searchsorted(times, b.times[0]))
            k = len(b.times)
            yield Ephemeris(  # the same pretend failure in the streamed blocks
                times=b.times,
                positions_ecef_km=whole.positions_ecef_km[:, k0 : k0 + k],
                error_codes=whole.error_codes[:, k0 : k0 + k],
                norad_ids=b.norad_ids,
                names=b.names,
                velocities_ecef_km_s=whole.velocities_ecef_km_s[:, k0 : k0 + k],
            )

    for suffix in (".csv", ".parquet", ".npz"):
        a = whole.write(tmp_path / f"whole{suffix}")
        b = write_stream(tmp_path / f"stream{suffix}", blocks(), times)
        if suffix == ".csv":
            assert a.read_bytes() == b.read_bytes()
        elif suffix == ".parquet":
            ta, tb = pq.read_table(a), pq.read_table(b)
            assert ta.schema == tb.schema and ta.num_rows == tb.num_rows
            for name in ta.column_names:  # NaN positions compare equal (Table.equals would not)
                xa, xb = ta.column(name).to_numpy(), tb.column(name).to_numpy()
                if xa.dtype.kind == "f":
                    assert np.array_equal(xa, xb, equal_nan=True), name
                else:
                    assert np.array_equal(xa, xb), name
            assert pq.ParquetFile(b).num_row_groups == -(-len(times) // chunk)
        else:
            x, y = Ephemeris.from_npz(a), Ephemeris.from_npz(b)
            assert np.array_equal(x.times, y.times)
            assert np.array_equal(x.positions_ecef_km, y.positions_ecef_km, equal_nan=True)
            assert np.array_equal(x.velocities_ecef_km_s, y.velocities_ecef_km_s, equal_nan=True)
            assert np.array_equal(x.error_codes, y.error_codes)
            assert x.names.tolist() == y.names.tolist()
            assert np.array_equal(x.norad_ids, y.norad_ids)
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{w}{s}" for w in ("whole", "stream") for s in (".csv", ".parquet", ".npz")
    )  # no temporary files or part directories left


def test_float32_streams_keep_their_dtype(run, tmp_path):
    c, times = run
    out = write_stream(
        tmp_path / "e.npz", c.iter_propagate(times, chunk=5, dtype=np.float32), times
    )
    back = Ephemeris.from_npz(out)
    assert back.positions_ecef_km.dtype == np.float32
    ref = c.propagate(times)
    assert np.allclose(back.positions_ecef_km, ref.positions_ecef_km, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_blocks_that_do_not_make_up_the_run_are_refused_and_nothing_is_left(run, tmp_path, suffix):
    c, times = run
    target = tmp_path / f"e{suffix}"
    # a gap: the second block is skipped
    gappy = (b for i, b in enumerate(c.iter_propagate(times, chunk=4)) if i != 1)
    with pytest.raises(InputError, match="does not continue the run at step 4 of 14"):
        write_stream(target, gappy, times)
    # too few blocks
    short = (b for i, b in enumerate(c.iter_propagate(times, chunk=4)) if i < 2)
    with pytest.raises(InputError, match="covered 8 of 14 times"):
        write_stream(target, short, times)
    # other satellites in a later block
    other = Constellation.from_shells([walker_shell_info(600.0, 60.0, 2, 2)])
    mixed = iter([c.propagate(times[:7]), other.propagate(times[7:])])
    with pytest.raises(InputError, match="same satellites"):
        write_stream(target, mixed, times)
    assert os.listdir(tmp_path) == []  # atomic: no partial file, no temporary files
    with pytest.raises(InputError, match="suffix of .npz, .parquet, .csv"):
        write_stream(tmp_path / "e.txt", iter([]), times)
