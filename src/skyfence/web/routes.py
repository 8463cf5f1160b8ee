"""The map's routes: the page, its static files, and its data under ``/v1/map/``.

Each data route is a thin adapter over one :mod:`skyfence.app.maplayers` (or
:mod:`skyfence.app.decide`) operation: it takes the request's principal from the
``get_principal`` dependency the service provides (a token's principal, never a name from
the request), calls the operation, and packs the typed result — cell layers as packed
binary (:mod:`skyfence.web.packing`), everything else as small JSON.

Errors are :class:`~skyfence.errors.SkyfenceError` subclasses, raised as they come; the
service maps them to its one error envelope.
"""

import mimetypes
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, JSONResponse, Response

from skyfence.errors import NotFoundError
from skyfence.web import STATIC_DIR
from skyfence.web.packing import pack_layer

__all__ = ["make_router", "STATE_COLOURS", "WHATIF_COLOURS", "LAYER_MEDIA_TYPE"]

LAYER_MEDIA_TYPE = "application/vnd.skyfence.cells"

#: One colour per activation state: the Okabe-Ito palette (distinct under the common forms
#: of colour blindness), grey for "not licensed", as the legend shows them.
STATE_COLOURS: dict[str, str] = {
    "active": "#009E73",
    "coming_soon": "#56B4E9",
    "waitlist": "#0072B2",
    "pending_licence": "#F0E442",
    "not_licensed": "#999999",
    "suspended": "#E69F00",
    "denied": "#D55E00",
    "invalid_input": "#CC79A7",
}
WHATIF_COLOURS: dict[str, str] = {
    "served_95": "#009E73",
    "served_50_95": "#F0E442",
    "served_below_50": "#E69F00",
    "not_served": "#D55E00",
    "spillover": "#CC79A7",  # drawn with a dashed outline too: told apart without colour
}
_NO_STORE = {"Cache-Control": "no-store"}


def _json(data: Any) -> JSONResponse:
    from skyfence.jsonable import to_jsonable

    return JSONResponse(to_jsonable(data), headers=_NO_STORE)


def _layer_response(layer: Any) -> Response:
    return Response(pack_layer(layer), media_type=LAYER_MEDIA_TYPE, headers=_NO_STORE)


#: The page may load and call only its own origin (inline style attributes for the legend).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)


def _static_file(path: str) -> FileResponse:
    base = STATIC_DIR.resolve()
    target = (base / path).resolve()
    if base not in target.parents or not target.is_file():
        raise NotFoundError(f"no map file {path!r}")
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".geojson":
        media = "application/geo+json"
    headers = {"Cache-Control": "max-age=3600", "Content-Security-Policy": PAGE_CSP}
    return FileResponse(target, media_type=media, headers=headers)


def make_router(get_app: Any, get_principal: Any) -> APIRouter:
    """The map's router; ``get_app``/``get_principal`` are the service's dependencies."""
    AppDep = Annotated[Any, Depends(get_app)]
    PrincipalDep = Annotated[Any, Depends(get_principal)]
    r = APIRouter()

    @r.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return _static_file("index.html")

    @r.get("/map/static/{path:path}", include_in_schema=False)
    def static(path: str) -> FileResponse:
        return _static_file(path)

    @r.get("/v1/map/legend", operation_id="map_legend", tags=["map"])
    def legend(principal: PrincipalDep) -> JSONResponse:
        """The states of the policy (in their code order) and the colours the map uses."""
        from skyfence.app.maplayers import WHATIF_CLASSES
        from skyfence.policy import SERVING_STATES, STATES

        principal.require("read the map", "viewer")
        names = [*STATES, "invalid_input"]
        return _json(
            {
                "states": [
                    {
                        "code": i,
                        "name": s,
                        "colour": STATE_COLOURS[s],
                        "serving": s in SERVING_STATES,
                    }
                    for i, s in enumerate(names)
                ],  # fmt: skip
                "whatif": [
                    {"code": i, "name": s, "colour": WHATIF_COLOURS[s]}
                    for i, s in enumerate(WHATIF_CLASSES)
                ],
            }
        )

    @r.get("/v1/map/schedule", operation_id="map_schedule", tags=["map"])
    def schedule(app: AppDep, principal: PrincipalDep, at: str | None = None) -> JSONResponse:
        """The policy in force: its version, rules and the times a rule starts or ends."""
        from skyfence.app.maplayers import schedule as op

        return _json(op(app, principal, at=at))

    @r.get("/v1/map/cells/activation", operation_id="map_activation_cells", tags=["map"])
    def activation(
        app: AppDep,
        principal: PrincipalDep,
        at: str | None = None,
        resolution: Annotated[int, Query(ge=0, le=7)] = 5,
    ) -> Response:
        """Activation state per H3 cell at ``at`` (packed binary, see docs/map.md)."""
        from skyfence.app.maplayers import activation_layer

        return _layer_response(activation_layer(app, principal, at=at, resolution=resolution))

    @r.get("/v1/map/whatif", operation_id="map_whatif_runs", tags=["map"])
    def whatif_runs(app: AppDep, principal: PrincipalDep) -> JSONResponse:
        """The what-if reports the map can show."""
        from skyfence.app.maplayers import whatif_runs as op

        return _json({"runs": op(app, principal)})

    @r.get("/v1/map/cells/whatif/{run}", operation_id="map_whatif_cells", tags=["map"])
    def whatif(app: AppDep, principal: PrincipalDep, run: str) -> Response:
        """A what-if report's cells by served share after the switch (packed binary)."""
        from skyfence.app.maplayers import whatif_layer

        return _layer_response(whatif_layer(app, principal, run))

    @r.get("/v1/map/cells/whatif-job/{job_id}", operation_id="map_whatif_job_cells", tags=["map"])
    def whatif_job(
        app: AppDep,
        principal: PrincipalDep,
        job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
    ) -> Response:
        """A finished what-if job's cells (``POST /v1/whatif``): the region's cells by served
        share after the switch and the cells its spillover reaches (packed binary)."""
        from skyfence.app.maplayers import whatif_job_layer

        return _layer_response(whatif_job_layer(app, principal, job_id))

    @r.get("/v1/map/satellites", operation_id="map_satellites", tags=["map"])
    def satellites(
        app: AppDep,
        principal: PrincipalDep,
        at: str | None = None,
        constellation: str = "starlink-gen1",
        min_elevation_deg: Annotated[float, Query(ge=0, lt=90)] = 25.0,
    ) -> JSONResponse:
        """Sub-satellite points and footprint radii at ``at`` (columns, 0.01° precision)."""
        from skyfence.app.maplayers import satellites_at

        principal.require("read the map", "viewer")
        s = satellites_at(
            app, at=at, constellation=constellation, min_elevation_deg=min_elevation_deg
        )
        return _json(
            {
                "time": s.time,
                "constellation": s.constellation,
                "min_elevation_deg": s.min_elevation_deg,
                "count": len(s.names),
                "names": s.names,
                "latitude_deg": np.round(s.latitude_deg, 2),
                "longitude_deg": np.round(s.longitude_deg, 2),
                "altitude_km": np.round(s.altitude_km, 1),
                "footprint_km": np.round(s.footprint_km, 1),
            }  # fmt: skip
        )

    @r.get("/v1/map/sites", operation_id="map_sites", tags=["map"])
    def sites(
        app: AppDep,
        principal: PrincipalDep,
        gateways: str | None = None,
        pops: str | None = None,
        pop_map: str | None = None,
    ) -> JSONResponse:
        """Gateways (listed, planned or inferred) and PoPs: the default network, or one
        from files in the reports directory (``gateways``, ``pops``, ``pop_map``: names)."""
        from skyfence.app.maplayers import ground_sites, network_from_reports

        principal.require("read the map", "viewer")
        spec = network_from_reports(app, principal, gateways=gateways, pops=pops, pop_map=pop_map)
        return _json({"sites": ground_sites(app, network=spec)})

    @r.get("/v1/map/findings", operation_id="map_findings_files", tags=["map"])
    def findings_files(app: AppDep, principal: PrincipalDep) -> JSONResponse:
        """Findings files (detect run GeoJSON) under the reports directory."""
        from skyfence.app.maplayers import findings_files as op

        return _json({"files": op(app, principal)})

    @r.get("/v1/map/findings/{name}", operation_id="map_findings", tags=["map"])
    def findings(app: AppDep, principal: PrincipalDep, name: str) -> JSONResponse:
        """One findings file: points with kind, score and terminals, and evidence tracks."""
        from skyfence.app.maplayers import findings_layer

        return _json(findings_layer(app, principal, name))

    @r.get("/v1/map/history/{region}", operation_id="map_region_history", tags=["map"])
    def history(
        app: AppDep,
        principal: PrincipalDep,
        region: str,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> JSONResponse:
        """Log entries naming ``region``, each with its exact text and inclusion proof
        against the latest signed checkpoint, and the public key to check it with."""
        from skyfence.app.maplayers import place_history

        h = place_history(app, principal, region, limit=limit)
        return _json(
            {
                "region": h.region,
                "tree_size": h.tree_size,
                "checkpoint": h.checkpoint,
                "public_key_pem": h.public_key_pem,
                "entries": [
                    {
                        "index": e.entry.index,
                        "kind": e.entry.kind,
                        "author": e.entry.author,
                        "reason": e.entry.reason,
                        "time": e.entry.time,
                        "text": e.text,
                        "leaf_hash": e.proof.leaf_hash,
                        "path": e.proof.path,
                        "root_hash": e.proof.root_hash,
                    }  # fmt: skip
                    for e in h.entries
                ],
            }
        )

    return r
