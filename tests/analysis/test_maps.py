"""Coverage maps whose colours carry information, read back from the rendered pixels."""

from __future__ import annotations

import subprocess
import sys

import h3
import numpy as np
import pytest

from skyfence.analysis.maps import (
    SERVED_CLASSES,
    coverage_map_figure,
    map_quantity,
    region_map_figure,
)
from skyfence.regions import parse_region


def _cells(lat, lons, res=4):
    return np.asarray([h3.str_to_int(h3.latlng_to_cell(lat, lo, res)) for lo in lons], np.uint64)


def _pixel(fig, ax, lon, lat):
    """RGB of the rendered figure at a (lon, lat) point."""
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    x, y = ax.transData.transform((lon, lat))
    return tuple(int(v) for v in rgba[int(round(rgba.shape[0] - y)), int(round(x)), :3])


def test_map_quantity_picks_what_varies():
    assert map_quantity(np.array([0.0, 0.4, 1.0]), np.array([np.nan, 30, 20])).kind == (
        "served_fraction"
    )
    rtt = map_quantity(np.array([1.0, 1.0]), np.array([20.0, 25.0]))
    assert rtt.kind == "rtt_ms" and rtt.label == "median RTT (ms)" and "median RTT" in rtt.note
    # nothing served at all: the fraction (all zero) is still the honest quantity
    assert map_quantity(np.zeros(3), np.full(3, np.nan)).kind == "served_fraction"


def test_partly_served_cells_have_a_colour_of_their_own():
    # three cells in the Gulf of Guinea: never, half and always served
    cells = _cells(0.0, [1.0, 3.0, 5.0])
    fig = coverage_map_figure(cells, map_quantity(np.array([0.0, 0.5, 1.0]), np.full(3, 20.0)))
    ax = fig.axes[0]
    colours = [
        _pixel(fig, ax, lon, lat)
        for lat, lon in (h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells)
    ]
    sea = _pixel(fig, ax, 3.0, -2.5)
    assert len({*colours, sea}) == 4, (colours, sea)
    bar = fig.axes[1]
    labels = [t.get_text() for t in bar.get_yticklabels()]
    assert labels == [label for _, label in SERVED_CLASSES]
    assert "share of time served" in ax.get_title()


def test_always_served_cells_are_coloured_by_rtt_and_the_map_says_so():
    cells = _cells(0.0, [1.0, 5.0])
    fig = coverage_map_figure(cells, map_quantity(np.ones(2), np.array([15.0, 40.0])), title="t")
    ax = fig.axes[0]
    a, b = (
        _pixel(fig, ax, lon, lat)
        for lat, lon in (h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells)
    )
    assert a != b
    assert "median RTT" in ax.get_title()
    assert fig.axes[1].get_ylabel() == "median RTT (ms)"


def test_basemap_draws_and_names_the_countries_in_view():
    tw = parse_region("TW")
    cells = tw.cells(4)
    fig = coverage_map_figure(cells, map_quantity(np.ones(len(cells)), np.full(len(cells), 12.0)),
                              region_geometry=tw.geometry)  # fmt: skip
    names = {t.get_text() for t in fig.axes[0].texts}
    assert {"Taiwan", "China"} <= names
    ax = fig.axes[0]
    land, sea = _pixel(fig, ax, 117.0, 26.0), _pixel(fig, ax, 122.5, 21.0)  # Fujian, open sea
    assert land != sea


def test_region_map_shows_the_cells():
    lu = parse_region("LU")
    fig = region_map_figure(lu, lu.cells(5), 5)
    assert "LU" in fig.axes[0].get_title() and len(fig.axes[0].collections) == 1


def test_library_maps_leave_pyplot_alone(tmp_path):
    code = f"""
import sys
import matplotlib
backend = dict.__getitem__(matplotlib.rcParams, 'backend')  # get_backend() imports pyplot
import numpy as np
from skyfence.analysis.maps import coverage_map_figure, map_quantity, save_png
from skyfence.app import App
from skyfence.app.regions import show_region
import h3
cells = np.asarray([h3.str_to_int(h3.latlng_to_cell(0.0, 1.0, 4))], np.uint64)
save_png(coverage_map_figure(cells, map_quantity(np.ones(1), np.ones(1))), r"{tmp_path / "a.png"}")
show_region(App(), "LU", png=r"{tmp_path / "b.png"}")
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
assert dict.__getitem__(matplotlib.rcParams, "backend") == backend, "the backend was changed"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("fraction", [0.0, 1e-6, 0.19, 0.5, 0.99, 1.0])
def test_every_fraction_falls_in_one_class(fraction):
    from matplotlib.colors import BoundaryNorm

    edges = [lo for lo, _ in SERVED_CLASSES] + [1.0 + 1e-9]
    k = int(BoundaryNorm(edges, len(SERVED_CLASSES))(fraction))
    assert 0 <= k < len(SERVED_CLASSES)
    assert (k == 0) == (fraction == 0.0) and (k == len(SERVED_CLASSES) - 1) == (fraction == 1.0)
