"""Benchmark the map page: first render of a country-scale cell layer in headless Chromium,
against the same cells sent as GeoJSON polygons and drawn by Leaflet (the baseline, measured
in the same run), and the page's weight.

Policy: Russia, Canada and the United States, one state each (146,793 H3 resolution-5 cells
in the built-in worldview). The server (the map router in a small FastAPI app, uvicorn on
127.0.0.1) computes the layer once before the browser runs, so the figures are the page's:
fetch, unpack, cell outlines (h3-js) and drawing, from navigation start, in a fresh browser
context each time (nothing cached).

    .venv/bin/python bench/map.py                 # 3 runs
    .venv/bin/python bench/map.py --repeat 5 --chromium /usr/bin/chromium
"""

import argparse
import gzip
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

POLICY = {
    "rules": [
        {"id": "ru-denied", "region": "RU", "state": "denied"},
        {"id": "ca-active", "region": "CA", "state": "active"},
        {"id": "us-waitlist", "region": "US", "state": "waitlist"},
    ]
}
TOKEN = "bench-token"


def make_server(app: Any) -> tuple[Any, Any]:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response

    from skyfence.app.identity import Principal
    from skyfence.errors import PermissionDeniedError, SkyfenceError
    from skyfence.web import router

    api = FastAPI()
    viewer = Principal.from_token("bench", ["viewer"])
    geojson_cache: dict[str, bytes] = {}

    def get_app() -> Any:
        return app

    def get_principal(request: Request) -> Any:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            raise PermissionDeniedError("a valid Bearer token is needed")
        return viewer

    @api.exception_handler(SkyfenceError)
    def envelope(request: Request, exc: SkyfenceError) -> JSONResponse:
        body = {"error": {"code": exc.code, "message": str(exc), "details": {}}}
        return JSONResponse(body, status_code=exc.http_status)

    @api.get("/bench/cells.geojson")
    def baseline() -> Response:  # the baseline only: what the map does not do
        return Response(geojson_cache["body"], media_type="application/geo+json")

    api.include_router(router(get_app, get_principal))
    return api, geojson_cache


def geojson_of(layer: Any) -> bytes:
    import h3

    colours = ["#009E73", "#56B4E9", "#0072B2", "#F0E442", "#999999", "#E69F00", "#D55E00"]
    feats = []
    for c, code in zip(layer.cells.tolist(), layer.codes.tolist(), strict=True):
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(h3.int_to_str(c))]
        ring.append(ring[0])
        feats.append(
            {
                "type": "Feature",
                "properties": {"state": layer.names[code], "colour": colours[code % 7]},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def serve(api: Any) -> tuple[str, Any, Any]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


BASELINE_JS = """async () => {
  const t0 = performance.now();
  const data = await (await fetch('/bench/cells.geojson')).json();
  const t1 = performance.now();
  const layer = L.geoJSON(data, {renderer: L.canvas(), interactive: false,
    style: f => ({fillColor: f.properties.colour, fillOpacity: 0.75, weight: 0})});
  layer.addTo(window.skyfenceMap.map);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return {fetch_ms: t1 - t0, total_ms: performance.now() - t0};
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        print(f"no chromium at {args.chromium}: apt-get install -y chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    from skyfence.app import App
    from skyfence.app.changes import propose
    from skyfence.app.identity import Principal
    from skyfence.app.maplayers import activation_layer
    from skyfence.settings import load_settings
    from skyfence.web.packing import pack_layer

    base = Path(tempfile.mkdtemp(prefix="skyfence-bench-map-"))
    app = App(load_settings(data_dir=base / "data", reports_dir=base / "reports"))
    propose(app, Principal.local("bench", os_user="bench"), POLICY, reason="bench")
    viewer = Principal.from_token("bench", ["viewer"])
    t = time.perf_counter()
    layer = activation_layer(app, viewer)
    cold_s = time.perf_counter() - t
    t = time.perf_counter()
    layer = activation_layer(app, viewer)
    packed = pack_layer(layer)
    warm_s = time.perf_counter() - t
    api, cache = make_server(app)
    cache["body"] = geojson_of(layer)
    url, server, thread = serve(api)
    n = len(layer)
    print(
        f"layer: {n:,} cells; server: first {cold_s:.1f} s (covers, centres), then {warm_s:.2f} s"
    )

    runs: list[dict[str, float]] = []
    baseline: list[dict[str, float]] = []
    weights: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True)
        for k in range(args.repeat):
            ctx = browser.new_context(viewport={"width": 1280, "height": 720})
            ctx.add_init_script(f"sessionStorage.setItem('skyfence-token', '{TOKEN}')")
            seen: list[str] = []
            ctx.route(
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url.startswith(url) else route.abort()
                ),
            )
            page = ctx.new_page()
            page.on("requestfinished", lambda r, seen=seen: seen.append(r.url))
            page.goto(url + "/")
            page.on("console", lambda m: print("console:", m.text, file=sys.stderr))
            try:
                page.wait_for_function(
                    "() => window.skyfenceMap && window.skyfenceMap.ready", timeout=120_000
                )
            except Exception:
                print(
                    page.inner_text("#status"),
                    page.evaluate("JSON.stringify(window.skyfenceMap.timing)"),
                    file=sys.stderr,
                )
                raise
            timing = page.evaluate("window.skyfenceMap.timing")
            drawn = int(page.get_attribute("canvas[data-layer=activation]", "data-drawn"))
            row = {**timing["activation"], "first_render_ms": timing["first_render_ms"],
                   "scripts_ms": timing["scripts_ms"], "drawn": drawn}  # fmt: skip
            runs.append(row)
            baseline.append(page.evaluate(BASELINE_JS))
            if k == 0:
                for u in seen:
                    if "/map/static/" in u or u.rstrip("/") == url:
                        path = u[len(url) :].split("?")[0]
                        weights[path] = len(ctx.request.get(u).body())
            ctx.close()
        browser.close()
    server.should_exit = True
    thread.join(10)

    from skyfence.web import STATIC_DIR

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(
        f"\nfirst render of the activation layer, {args.repeat} fresh browser contexts, median ms"
    )
    print("| step | packed binary (the map) | GeoJSON polygons (baseline) | baseline / map |")
    print("|---|---:|---:|---:|")
    gj = len(cache["body"])
    print(
        f"| bytes on the wire (uncompressed) | {len(packed):,} | {gj:,} | {gj / len(packed):.0f}× |"
    )
    gz_p, gz_g = len(gzip.compress(packed, 6)), len(gzip.compress(cache["body"], 6))
    print(f"| bytes gzip -6 | {gz_p:,} | {gz_g:,} | {gz_g / gz_p:.0f}× |")
    layer_ms = med(runs, "fetch_ms") + med(runs, "build_ms") + med(runs, "draw_ms")
    print(f"| fetch | {med(runs, 'fetch_ms'):.0f} | {med(baseline, 'fetch_ms'):.0f} | |")
    print(f"| unpack + h3 outlines | {med(runs, 'build_ms'):.0f} | | |")
    print(f"| draw | {med(runs, 'draw_ms'):.0f} | | |")
    print(f"| layer total | {layer_ms:.0f} | {med(baseline, 'total_ms'):.0f} | "
          f"{med(baseline, 'total_ms') / layer_ms:.1f}× |")  # fmt: skip
    print(f"| from navigation start to the scripts run | {med(runs, 'scripts_ms'):.0f} | | |")
    print(f"| from navigation start to the layer drawn | {med(runs, 'first_render_ms'):.0f} | | |")
    print(f"| cells drawn | {int(med(runs, 'drawn')):,} | | |")

    print("\npage weight (files the page loads before any data)")
    print("| file | bytes | gzip -6 |")
    print("|---|---:|---:|")
    total = total_gz = 0
    for path, size in sorted(weights.items()):
        local = (
            STATIC_DIR / path.replace("/map/static/", "")
            if path.startswith("/map/static/")
            else STATIC_DIR / "index.html"
        )
        gz = len(gzip.compress(local.read_bytes(), 6))
        total, total_gz = total + size, total_gz + gz
        print(f"| {path or '/'} | {size:,} | {gz:,} |")
    print(f"| **total** | **{total:,}** | **{total_gz:,}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
