"""Seal a policy: record every geometry that decides inside the policy document.

:func:`seal_document` is called when a policy is applied. It reads each file a region
expression names (``geojson:PATH``) once, puts its geometry in the document, and records
the SHA-256 of every region expression's resolved geometry, built-in countries included
(see :mod:`skyfence.policy.seal` for the form). Editing the file afterwards changes
nothing; a change of the boundary data is detected when the stored policy is read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import shapely.geometry

from skyfence.errors import ParseError
from skyfence.policy.model import Policy
from skyfence.policy.seal import (
    Seal,
    SealResolver,
    canonical_geojson,
    default_seal_resolver,
    region_sha256,
    worldview_name,
)
from skyfence.policy.validate import check_data
from skyfence.regions import geojson_references
from skyfence.regions.io import inline_geometry, read_geojson_geometry

__all__ = ["seal_document", "seal_policy"]


def seal_policy(policy: Policy, *, resolve: SealResolver | None = None) -> Policy:
    """``policy`` with a fresh seal (see :func:`seal_document`)."""
    resolver = default_seal_resolver() if resolve is None else resolve
    kept = dict(policy.sealed.geojson) if policy.sealed is not None else {}
    expressions = policy.region_expressions
    inline: dict[str, str] = {}
    for expr in expressions:
        for ref in geojson_references(expr):
            if ref in inline:
                continue
            if ref in kept:  # sealed before: the recorded geometry, not the file
                inline[ref] = kept[ref]
                continue
            try:
                path = Path(ref).expanduser()
            except RuntimeError:
                raise ParseError(f"cannot expand the path {ref!r}", source="geojson") from None
            geometry = read_geojson_geometry(path)
            inline[ref] = canonical_geojson(
                json.loads(json.dumps(shapely.geometry.mapping(geometry)))
            )
    # hash what a reader will build: the geometries as read back from the document
    geometries = {
        ref: inline_geometry(json.loads(text), source=f"geojson:{ref}")
        for ref, text in inline.items()
    }
    hashes: dict[str, str] = {}
    areas: dict[str, float] = {}
    regions: dict[str, Any] = {}
    worldview = worldview_name(resolver)
    for expr in expressions:
        region = resolver(expr, geojson=geometries)
        regions[expr] = region
        hashes[expr] = region_sha256(region)
        areas[expr] = float(region.area_km2)
        worldview = worldview or worldview_name(None, region)
    seal = Seal(
        worldview=worldview,
        geojson=tuple(sorted(inline.items())),
        sha256=tuple(sorted(hashes.items())),
        geometries=geometries,
        area_km2=tuple(sorted(areas.items())),
    )
    sealed = dataclasses.replace(policy, sealed=seal)
    object.__setattr__(sealed, "_sealed_regions", (resolver, regions, "policy"))
    return sealed


def seal_document(
    document: Mapping[str, Any], *, resolve: SealResolver | None = None
) -> dict[str, Any]:
    """A sealed copy of a policy document: what the store should keep.

    Every region that reads an external file (``geojson:PATH``, anywhere in an expression) is
    replaced by the geometry itself, inline, under ``sealed.geojson``; every region
    expression the policy uses carries the SHA-256 of its resolved geometry under
    ``sealed.sha256`` (countries and built-in regions too). The rules' texts are unchanged.

    Parameters
    ----------
    document : mapping
        A policy document (as :meth:`Policy.to_document` gives, or parsed from a file);
        validated first (:class:`~skyfence.errors.ParseError`).
    resolve : callable, optional
        ``resolve(expr, geojson=mapping) -> Region``, e.g. a
        :class:`skyfence.regions.RegionResolver`; default the built-in worldview.

    Sealing a sealed document keeps its recorded geometries (no file is read again) and
    records the hashes anew, so sealing is idempotent while the boundary data is unchanged,
    and applying a policy again is how new boundary data is accepted.

    Examples
    --------
    >>> import shapely
    >>> from skyfence.regions import Region, RegionResolver, Worldview
    >>> w = Worldview("boxes", [Region("AA", "Aland", shapely.box(0, 0, 1, 1), kind="country")])
    >>> doc = seal_document({"rules": [{"id": "a", "region": "AA", "state": "active"}]},
    ...                     resolve=RegionResolver(w))
    >>> sorted(doc["sealed"]), list(doc["sealed"]["sha256"])
    (['area_km2', 'geojson', 'sha256', 'version', 'worldview'], ['AA'])
    >>> seal_document(doc, resolve=RegionResolver(w)) == doc
    True
    """
    policy = Policy(*check_data(document, "<document>"))
    return seal_policy(policy, resolve=resolve).to_document()
