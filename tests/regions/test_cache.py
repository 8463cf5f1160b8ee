"""The on-disk cache of worldviews and country indexes: same answers, never stale, never
trusted when damaged."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import shapely

from skyfence.regions import RegionIndex, load_worldview
from skyfence.regions.cache import cache_key, load_arrays, save_arrays
from skyfence.regions.worldview import builtin_path


def write_boundaries(path, east: float = 10.0) -> None:
    def feature(a2, a3, name, geom):
        props = {"ISO_A2": a2, "ISO_A3": a3, "NAME": name}
        return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}

    features = [
        feature("AA", "AAA", "Aland", shapely.box(0, 0, east, 10)),
        feature("BB", "BBB", "Bland", shapely.box(east, 0, 20, 10)),
        feature("CC", "CCC", "Cland", shapely.Point(5, 30).buffer(3)),
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def same_regions(a, b) -> None:
    assert [r.id for r in a.countries] == [r.id for r in b.countries]
    for ra, rb in zip(a.countries, b.countries, strict=True):
        assert (ra.name, ra.kind, ra.worldview, ra.attributes) == (
            rb.name,
            rb.kind,
            rb.worldview,
            rb.attributes,
        )
        assert shapely.to_wkb(ra.geometry) == shapely.to_wkb(rb.geometry)
        assert ra.area_km2 == rb.area_km2


def random_points(n=20_000, seed=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(-5, 40, n), rng.uniform(-5, 25, n)


def test_a_cached_worldview_and_index_give_the_same_answers(tmp_path):
    src = tmp_path / "borders.geojson"
    write_boundaries(src)
    cache = tmp_path / "cache"
    built = load_worldview(src, cache_dir=cache)
    built_index = built.index()
    files = sorted(p.name.split("-")[0] for p in cache.iterdir())
    assert files == ["index", "worldview"]
    read = load_worldview(src, cache_dir=cache)  # a new process would do this
    same_regions(built, read)
    index = read.index()
    assert index is not built_index
    lat, lon = random_points()
    assert np.array_equal(index.lookup(lat, lon), built_index.lookup(lat, lon))
    for a, b in zip(index.memberships(lat, lon), built_index.memberships(lat, lon), strict=True):
        assert np.array_equal(a, b)
    assert not [p for p in cache.iterdir() if p.suffix == ".tmp"]  # written atomically


def test_changed_boundaries_are_never_read_from_an_old_cache(tmp_path):
    src = tmp_path / "borders.geojson"
    cache = tmp_path / "cache"
    write_boundaries(src, east=10.0)
    first = load_worldview(src, cache_dir=cache)
    write_boundaries(src, east=12.0)  # new boundary data under the same file name
    second = load_worldview(src, cache_dir=cache)
    assert second.region("AA").bounds[2] == 12.0 and first.region("AA").bounds[2] == 10.0
    assert second.index().lookup([5.0], [11.0]).tolist() == [0]  # AA now reaches 12°E
    assert len([p for p in cache.iterdir() if p.name.startswith("worldview-")]) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other key", "bad arrays"])
def test_a_damaged_cache_is_ignored_and_rebuilt(tmp_path, damage):
    src = tmp_path / "borders.geojson"
    write_boundaries(src)
    cache = tmp_path / "cache"
    good = load_worldview(src, cache_dir=cache)
    lat, lon = random_points(2000)
    want = good.index().lookup(lat, lon)
    for file in sorted(cache.iterdir()):
        data = file.read_bytes()
        if damage == "truncate":
            file.write_bytes(data[: len(data) // 2])
        elif damage == "garbage":
            file.write_bytes(os.urandom(len(data)))
        elif damage == "other key":
            with np.load(file) as npz:
                arrays = {k: npz[k] for k in npz.files if k != "__key__"}
            save_arrays(file, "0" * 64, arrays)
        else:
            with np.load(file) as npz:
                arrays = {k: npz[k] for k in npz.files if k != "__key__"}
                key = str(npz["__key__"])
            for name in ("mix_ptr", "geom_sizes"):
                if name in arrays:
                    arrays[name] = arrays[name][:-1]
            save_arrays(file, key, arrays)
    again = load_worldview(src, cache_dir=cache)
    same_regions(good, again)
    assert np.array_equal(again.index().lookup(lat, lon), want)
    # rebuilt and written again: a third reader finds sound files
    key = again.cache_key
    file = next(cache.glob(f"worldview-{key[:24]}.npz"))
    assert load_arrays(file, key, ["ids"]) is not None


def test_an_unwritable_cache_directory_is_not_an_error(tmp_path):
    src = tmp_path / "borders.geojson"
    write_boundaries(src)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    w = load_worldview(src, cache_dir=blocker / "cache")
    assert w.region("AA").name == "Aland" and w.index().lookup([5.0], [5.0]).tolist() == [0]


def test_cache_keys_cover_the_inputs():
    assert cache_key("a", "b") != cache_key("a", "c") != cache_key("ab", "")
    assert len(cache_key("x")) == 64


def test_index_arrays_round_trip_and_are_checked(tmp_path):
    src = tmp_path / "borders.geojson"
    write_boundaries(src)
    w = load_worldview(src)
    index = RegionIndex(w.countries, maritime_km=50.0)
    again = RegionIndex.from_arrays(w.countries, index.to_arrays())
    lat, lon = random_points(5000)
    assert np.array_equal(again.lookup(lat, lon), index.lookup(lat, lon))
    with pytest.raises(ValueError, match="other regions"):
        RegionIndex.from_arrays(w.countries[::-1], index.to_arrays())


def test_the_built_in_worldview_reads_back_identically(tmp_path):
    cache = tmp_path / "cache"
    built = load_worldview(builtin_path(), cache_dir=cache)
    built_index = built.index()
    read = load_worldview(builtin_path(), cache_dir=cache)
    same_regions(built, read)
    rng = np.random.default_rng(5)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 50_000)))
    lon = rng.uniform(-180, 180, 50_000)
    assert np.array_equal(read.index().lookup(lat, lon), built_index.lookup(lat, lon))
