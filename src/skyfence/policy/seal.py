"""The seal of a policy: every geometry that decides, recorded in the policy itself.

A sealed policy document carries a ``sealed`` section::

    sealed:
      version: 1
      worldview: Natural Earth 1:10m admin-0, point of view DEU (v5.1.1)
      geojson:                                  # every file a region expression names
        zones/zone.geojson: {type: Polygon, coordinates: [...]}
      sha256:                                   # every region expression a rule uses
        UA: 3f1c...                             #   SHA-256 of its resolved geometry
        UA - geojson:zones/zone.geojson: 9a0b...
      area_km2:                                 # and its geodesic area, which ranks rules
        UA: 603549.6
        UA - geojson:zones/zone.geojson: 603401.2

Rule texts stay as written (``region: geojson:zones/zone.geojson``), so decisions, reasons
and whitelists read the same; but in a sealed policy ``geojson:PATH`` means the geometry
recorded under ``geojson`` and **no file is read**. Each hash is
:func:`skyfence.regions.geometry_sha256` of the region the expression resolves to, built-in
countries included, so a change of the boundary data under a stored policy is detected when
the policy is read (:class:`~skyfence.errors.IntegrityError`) instead of silently moving the
area. :func:`skyfence.policy.seal_document` writes the section.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skyfence.errors import IntegrityError
from skyfence.regions import RegionResolver, geometry_sha256

__all__ = [
    "Seal",
    "SealResolver",
    "default_seal_resolver",
    "verify_seal",
    "sealed_resolve",
    "region_sha256",
]

#: ``resolve(expr, geojson=mapping) -> Region``: a :class:`skyfence.regions.RegionResolver`
#: or :func:`skyfence.regions.parse_region` bound to a worldview (``functools.partial``).
SealResolver = Callable[..., Any]


def canonical_geojson(obj: Any) -> str:
    """The text a sealed geometry is kept as (sorted keys, no spaces; floats exact)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Seal:
    """The ``sealed`` section of a policy (see the module docstring).

    ``geojson`` pairs each ``PATH`` with its GeoJSON geometry as canonical JSON text, and
    ``sha256`` each region expression with its hash, both sorted; ``geometries`` holds the
    parsed inline geometries (not compared).
    """

    worldview: str
    geojson: tuple[tuple[str, str], ...]
    sha256: tuple[tuple[str, str], ...]
    geometries: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    area_km2: tuple[tuple[str, float], ...] = ()

    def hash_of(self, expression: str) -> str | None:
        """The recorded hash of ``expression`` (as written in a rule), or ``None``."""
        return dict(self.sha256).get(expression)

    def area_of(self, expression: str) -> float | None:
        """The recorded geodesic area (km²) of ``expression``'s region, or ``None``.

        Areas rank overlapping rules (the smaller region wins), so they are recorded with the
        geometry: the precedence a sealed policy was approved with is the one it decides by,
        and reading it needs no geodesic computation.
        """
        return dict(self.area_km2).get(expression)

    def to_document(self) -> dict[str, Any]:
        """The JSON-able ``sealed`` section."""
        return {
            "version": 1,
            "worldview": self.worldview,
            "geojson": {path: json.loads(text) for path, text in self.geojson},
            "sha256": dict(self.sha256),
            **({"area_km2": dict(self.area_km2)} if self.area_km2 else {}),
        }


def default_seal_resolver() -> SealResolver:
    """:class:`skyfence.regions.RegionResolver` over the built-in worldview."""
    return RegionResolver()


def worldview_name(resolve: Any, region: Any = None) -> str:
    """The name of the worldview a resolver looks names up in (or a region came from)."""
    if isinstance(resolve, RegionResolver):
        return resolve.worldview.worldview
    return str(getattr(region, "worldview", "") or "")


def _mismatch(
    expression: str, now: str, seal: Seal, region: Any, source: str, resolve: Any
) -> IntegrityError:
    current = worldview_name(resolve, region) or "?"
    return IntegrityError(
        f"{source}: region {expression!r} resolves to a geometry whose hash {now[:16]}… "
        f"differs from the sealed {dict(seal.sha256)[expression][:16]}…; the boundary data "
        f"(or the document) changed since this policy was applied (sealed with worldview "
        f"{seal.worldview!r}, now {current!r}); apply the policy again to accept new boundaries"
    )


def verify_seal(
    seal: Seal, resolve: SealResolver, source: str, expressions: Iterable[str] | None = None
) -> dict[str, Any]:
    """Resolve every sealed expression with the inline geometries and check its hash.

    Returns the regions by expression; raises :class:`~skyfence.errors.IntegrityError`
    naming the first region whose geometry differs from the seal. Reads no file.
    """
    wanted = list(dict(seal.sha256) if expressions is None else expressions)
    regions: dict[str, Any] = {}
    for expression in sorted(wanted, key=lambda e: (len(e), e)):  # plain names first
        region = resolve(expression, geojson=seal.geometries)
        now = region_sha256(region)
        if now != dict(seal.sha256).get(expression):
            raise _mismatch(expression, now, seal, region, source, resolve)
        regions[expression] = region
    return regions


def region_sha256(region: Any) -> str:
    # a Region keeps its hash (its geometry never changes): a country resolves to the
    # worldview's own Region, so it is hashed once per process, not once per reading
    sha = getattr(region, "sha256", None)
    return sha if isinstance(sha, str) else geometry_sha256(region.geometry)


def sealed_resolve(
    seal: Seal,
    resolve: Any,
    verified: Mapping[str, Any],
    source: str = "policy",
) -> Callable[[str], Any]:
    """``expr -> Region`` for compiling a sealed policy: the regions already verified, else
    ``resolve`` (a :class:`~skyfence.regions.RegionResolver`) with the inline geometries,
    each checked against its recorded hash."""
    base: Callable[[str], Any]
    if isinstance(resolve, RegionResolver):
        base = resolve.with_geojson(seal.geometries)
    else:

        def base(expression: str) -> Any:
            return resolve(expression, geojson=seal.geometries)

    def lookup(expression: str) -> Any:
        if expression in verified:
            return verified[expression]
        region = base(expression)
        recorded = seal.hash_of(expression)
        if recorded is not None:
            now = region_sha256(region)
            if now != recorded:
                raise _mismatch(expression, now, seal, region, source, resolve)
        return region

    return lookup
