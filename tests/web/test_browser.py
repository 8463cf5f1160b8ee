"""The map in a real browser: Debian's chromium driven by Playwright.

Every request that does not go to the server's own loopback origin is blocked, and the
test asserts from the browser's request log that none was even attempted. Each layer is
toggled, and a screenshot of each is checked for structure (a legend row per state, cells
drawn in the legend's colours), not pixel by pixel.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
from tests.web.conftest import KINMEN

CHROMIUM = Path(os.environ.get("SKYFENCE_CHROMIUM", "/usr/bin/chromium"))

if not CHROMIUM.exists():
    pytest.skip(
        f"no chromium at {CHROMIUM}: install Debian's (apt-get install -y chromium) to run the "
        "map's browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (test extra)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


class Page:
    """A page on the map server with every other origin blocked and every request logged."""

    def __init__(
        self, browser: Any, server: Any, width: int = 1280, height: int = 720, role: str = "viewer"
    ) -> None:
        self.role = role
        self.server = server
        self.origin = urlparse(server.url)
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append(m.text))
        self.page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
        self.context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = urlparse(route.request.url)
        if (
            url.scheme in ("http", "https")
            and url.hostname == "127.0.0.1"
            and url.port == self.origin.port
        ):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def open(self) -> Any:
        self.page.goto(self.server.url + "/")
        self.page.fill("#token", self.server.tokens[self.role])
        self.page.click("#token-form button")
        try:
            self.page.wait_for_function(
                "() => window.skyfenceMap && window.skyfenceMap.ready", timeout=60_000
            )
        except sync_api.TimeoutError:
            status = self.page.inner_text("#status")
            raise AssertionError(
                f"the map did not load: {status!r}; console: {self.console}"
            ) from None
        return self.page

    def assert_only_own_origin(self) -> None:
        assert self.blocked == []
        others = [
            u
            for u in self.requests
            if not u.startswith(self.server.url + "/") and not u.startswith("data:")
        ]
        assert others == [], others

    def close(self) -> None:
        self.context.close()


def set_view(page: Any, lat: float, lon: float, zoom: int) -> None:
    page.evaluate(
        f"window.skyfenceMap.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}); null"
    )
    page.wait_for_timeout(300)


def _rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def _screenshot(page: Any) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(page.screenshot()), format="png")[..., :3] * 255


def _map_pixels_near(img: np.ndarray, box: dict[str, float], colour: str, alpha: float) -> int:
    """Pixels of the map area close to ``colour`` drawn at ``alpha`` over the basemap's land
    (the cells are translucent) or over the ocean."""
    x0, y0 = int(box["x"]), int(box["y"])
    area = img[y0 : y0 + int(box["height"]), x0 : x0 + int(box["width"])]
    c = _rgb(colour)
    n = 0
    for under in (_rgb("#f4f1ea"), _rgb("#cfe0ee")):
        target = alpha * c + (1 - alpha) * under
        n += int((np.abs(area - target).max(axis=-1) < 12).sum())
    return n


def test_map_layers_and_kinmen(browser, map_server):
    p = Page(browser, map_server)
    try:
        page = p.open()
        box = page.locator("#map").bounding_box()
        # -- activation layer: drawn, a legend row per state with the policy's own names
        drawn = int(page.get_attribute("canvas[data-layer=activation]", "data-drawn"))
        assert drawn > 500
        rows = page.locator("#legend [data-state]")
        names = rows.evaluate_all("els => els.map(e => e.dataset.state)")
        assert names[:7] == [
            "active", "coming_soon", "waitlist", "pending_licence", "not_licensed",
            "suspended", "denied",
        ]  # fmt: skip
        legend = page.evaluate("window.skyfenceMap.legend.states")
        colour = {s["name"]: s["colour"] for s in legend}
        set_view(page, 30, 120, 4)
        page.wait_for_timeout(300)
        img = _screenshot(page)
        for state in ("waitlist", "active", "denied"):  # TW, JP, KP are in view
            assert _map_pixels_near(img, box, colour[state], 0.75) > 30, state
        assert _map_pixels_near(img, box, colour["suspended"], 0.75) == 0  # no such rule

        # -- click Kinmen on the map: Taiwan's state, its rule, the policy version, the proof
        lat, lon = KINMEN
        set_view(page, 24.44, 118.35, 8)
        page.wait_for_timeout(300)
        pt = page.evaluate(
            f"(() => {{ const p = window.skyfenceMap.map"
            f".latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }})()"
        )
        page.mouse.click(box["x"] + pt[0], box["y"] + pt[1])
        page.wait_for_selector("[data-testid=history]", timeout=60_000)
        assert page.inner_text("[data-testid=state]") == "waitlist"
        assert page.inner_text("[data-testid=region]") == "TW"
        assert page.inner_text("[data-testid=rule]") == "tw-waitlist"
        assert page.inner_text("[data-testid=policy-version]") == "1"
        assert "Map cell: waitlist (rule tw-waitlist)" in page.inner_text("#place-result")
        cp = page.locator("[data-testid=checkpoint]")
        assert cp.get_attribute("data-ok") == "true" and cp.get_attribute("data-how") == "browser"
        verdicts = page.locator("[data-testid=history] li").evaluate_all(
            "els => els.map(e => e.dataset.verified)"
        )
        assert verdicts and set(verdicts) == {"true"}
        # the log's key is pinned on first use: another key later is called out
        assert page.locator("[data-testid=key-changed]").count() == 0
        page.evaluate("localStorage.setItem('skyfence-log-key', 'another key'); null")
        page.click("#place-form button[type=submit]")
        page.wait_for_selector("[data-testid=key-changed]", timeout=60_000)

        # -- every other layer toggles on (legend row, something drawn) and off again
        set_view(page, 24, 121, 5)
        checks = {
            "#layer-whatif": ("[data-whatif=served_95]", "whatif"),
            "#layer-satellites": ("[data-item=satellite]", "satellites"),
            "#layer-sites": ("[data-item=gateway-inferred]", "sites"),
            "#layer-findings": ("[data-item=finding]", "findings"),
        }
        for toggle, (legend_row, key) in checks.items():
            page.check(toggle)
            page.wait_for_selector(f"#legend {legend_row}", timeout=60_000)
            shown = page.evaluate(
                f"(() => {{ const l = window.skyfenceMap.layers.{key}; "
                "return l.getLayers ? l.getLayers().length : l.drawn; })()"
            )
            assert shown > 0, toggle
            page.screenshot()  # renders without error with the layer on
            page.uncheck(toggle)
            page.wait_for_selector(f"#legend {legend_row}", state="detached", timeout=10_000)
        page.uncheck("#layer-activation")
        assert page.locator("canvas[data-layer=activation]").count() == 0
        assert page.locator("#legend [data-state]").count() == 0
        page.check("#layer-activation")
        page.wait_for_selector("#legend [data-state=waitlist]")
        # -- the time slider: at its last stop (2030-01-01) Korea's scheduled rule is in force
        soon = "#legend [data-state=coming_soon] .count"
        assert page.inner_text(soon) == "0 cells"
        page.focus("#time")
        page.keyboard.press("End")
        page.wait_for_function(
            f"() => document.querySelector('{soon}').textContent !== '0 cells'", timeout=60_000
        )
        assert page.inner_text("#time-label") == "2030-01-01T00:00:00Z"
        p.assert_only_own_origin()
    finally:
        p.close()


def test_keyboard_and_phone_viewport(browser, map_server):
    p = Page(browser, map_server, width=390, height=844)
    try:
        page = p.open()
        # the map is focusable; arrows pan, Enter decides at the centre
        set_view(page, 25.03, 121.56, 7)
        page.focus("#map")
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=state]", timeout=60_000)
        assert page.inner_text("[data-testid=state]") == "waitlist"
        before = page.evaluate("window.skyfenceMap.map.getCenter().lng")
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(400)
        after = page.evaluate("window.skyfenceMap.map.getCenter().lng")
        assert after > before
        # the place form works with the keyboard alone, negative coordinates included
        page.fill("#lat", "-33.87")
        page.fill("#lon", "151.21")
        page.press("#lon", "Enter")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=state]') && "
            "document.querySelector('[data-testid=region]').textContent.includes('no rule')"
        )
        # the panel sits below the map on a phone and nothing overflows sideways
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        map_box, panel_box = (
            page.locator("#map").bounding_box(),
            page.locator("#panel").bounding_box(),
        )
        assert panel_box["y"] >= map_box["y"] + map_box["height"] - 1
        p.assert_only_own_origin()
    finally:
        p.close()


def _click_latlng(page: Any, lat: float, lon: float) -> None:
    box = page.locator("#map").bounding_box()
    x, y = page.evaluate(
        f"(() => {{ const p = window.skyfenceMap.map.latLngToContainerPoint([{lat}, {lon}]); "
        "return [p.x, p.y]; })()"
    )
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_operator_draws_a_polygon_and_a_second_person_approves_it(browser, writable_map_server):
    map_server = writable_map_server
    corners = [(23.6, 120.8), (23.6, 121.2), (24.0, 121.2), (24.0, 120.8)]
    op = Page(browser, map_server, role="operator")
    ap = Page(browser, map_server, role="approver")
    try:
        page = op.open()
        assert page.inner_text("#legend [data-state=suspended] .count") == "0 cells"
        set_view(page, 23.8, 121.0, 8)
        page.click("#draw")
        for lat, lon in corners:
            _click_latlng(page, lat, lon)
        page.click("#draw-done")
        region = page.input_value("#op-region")
        # the same cells as the h3 library computes for the polygon (h3-js vs h3-py)
        import h3

        expected = set(h3.polygon_to_cells(h3.LatLngPoly(corners), 5))
        assert region.startswith("h3:5:") and set(region[5:].split(",")) == expected
        page.select_option("#op-state", "suspended")
        page.fill("#op-rule", "tw-drawn")
        page.fill("#op-reason", "drawn on the map")
        page.click("#propose-form button[type=submit]")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=proposed]') || "
            "/Error|Not allowed/.test(document.getElementById('status').textContent)",
            timeout=60_000,
        )
        assert page.locator("[data-testid=proposed]").count(), page.inner_text("#status")
        assert "pending" in page.inner_text("[data-testid=proposed]")  # Taiwan is sensitive
        change = page.locator("#pending li[data-change]").last.get_attribute("data-change")
        # the proposer may not approve their own change: the service refuses it
        page.click(f"#pending [data-approve='{change}']")
        page.wait_for_function(
            "() => /Not allowed|Error/.test(document.getElementById('status').textContent)"
        )
        assert page.locator(f"#pending li[data-change='{change}']").count() == 1

        second = ap.open()
        second.click("#pending-refresh")
        second.click(f"#pending [data-approve='{change}']")
        second.wait_for_selector("[data-testid=approved]", timeout=60_000)
        second.wait_for_function(
            "() => document.querySelector('#legend [data-state=suspended] .count')"
            ".textContent !== '0 cells'",
            timeout=60_000,
        )
        set_view(second, 23.8, 121.0, 8)
        _click_latlng(second, 23.8, 121.0)
        second.wait_for_selector("[data-testid=history]", timeout=60_000)
        assert second.inner_text("[data-testid=state]") == "suspended"
        assert second.inner_text("[data-testid=rule]") == "tw-drawn"
        assert second.inner_text("[data-testid=policy-version]") == "2"
        op.assert_only_own_origin()
        ap.assert_only_own_origin()
    finally:
        op.close()
        ap.close()


def test_whatif_through_the_api_draws_cells_and_spillover(browser, writable_map_server):
    """An operator runs a what-if from the page (POST /v1/whatif, followed at
    GET /v1/whatif/{id}); the result is drawn from its packed layer, the spillover cells
    outside the area distinctly with a legend row, and one border can be chosen."""
    import h3
    import httpx

    server = writable_map_server
    p = Page(browser, server, role="operator")
    try:
        page = p.open()
        set_view(page, 49.75, 6.1, 8)
        page.fill("#wi-region", "LU")
        page.select_option("#wi-action", "activate")
        page.fill("#wi-minutes", "10")
        page.select_option("#wi-res", "5")
        page.click("#whatif-form button[type=submit]")
        try:
            page.wait_for_selector("#legend [data-whatif=spillover]", timeout=240_000)
        except sync_api.TimeoutError:
            raise AssertionError(
                f"no what-if drawn: {page.inner_text('#wi-status')!r} {p.console}"
            ) from None
        job_id = page.evaluate("window.skyfenceMap.whatifJobs[0].id")
        assert page.input_value("#whatif-run") == f"job:{job_id}"
        assert "done" in page.inner_text("[data-testid=whatif-status]")
        # the independent truth: the job's own report, read through the API
        headers = {"Authorization": f"Bearer {server.tokens['operator']}"}
        report = httpx.get(
            f"{server.url}/v1/whatif/{job_id}/files/report.json", headers=headers, timeout=60
        ).json()
        region = {r["cell"] for r in report["cells"]}
        outside = set(report["spillover_cells"]) - region
        assert outside
        counts = {
            row.get_attribute("data-whatif"): int(
                row.locator(".count").inner_text().split()[0].replace(",", "")
            )
            for row in page.locator("#legend [data-whatif]").all()
        }
        assert counts["spillover"] == len(outside)
        assert sum(v for k, v in counts.items() if k != "spillover") == len(region)
        drawn = int(page.get_attribute("canvas[data-layer=whatif]", "data-drawn"))
        assert drawn == len(region) + len(outside)  # all of it is in view
        legend = {s["name"]: s["colour"] for s in page.evaluate("window.skyfenceMap.legend.whatif")}
        assert "spillover across the border" in page.inner_text("#legend [data-whatif=spillover]")
        # the screenshot: the area's cells and the spillover's, each in its legend colour
        box = page.locator("#map").bounding_box()
        img = _screenshot(page)
        served = max(counts, key=lambda k: counts[k] if k != "spillover" else -1)
        assert _map_pixels_near(img, box, legend[served], 0.85) > 200, served
        assert _map_pixels_near(img, box, legend["spillover"], 0.85) > 200

        # -- one border: only the spillover cells whose centre is in Germany stay drawn
        options = page.locator("#spill-area option").all_inner_texts()
        de = [i for i, t in enumerate(options) if "(DE)" in t]
        assert de, options
        page.select_option("#spill-area", index=de[0])
        germany = server.app.world.region("DE")
        in_de = 0
        for cell in outside:
            lat, lon = h3.cell_to_latlng(cell)
            in_de += bool(germany.contains(np.array([lat]), np.array([lon]))[0])
        assert 0 < in_de < len(outside)
        page.wait_for_function(
            "() => document.querySelector('#legend [data-whatif=spillover]')"
            ".textContent.includes('into Germany')"
        )
        row = page.locator("#legend [data-whatif=spillover] .count").inner_text()
        assert int(row.split()[0]) == in_de
        assert int(page.get_attribute("canvas[data-layer=whatif]", "data-drawn")) == (
            len(region) + in_de
        )
        assert "Spillover into Germany" in page.inner_text("#layer-info")

        # -- the layer toggles off and on again (from the same job)
        page.uncheck("#layer-whatif")
        page.wait_for_selector("#legend [data-whatif]", state="detached", timeout=10_000)
        assert page.locator("canvas[data-layer=whatif]").count() == 0
        page.check("#layer-whatif")
        page.wait_for_selector("#legend [data-whatif=spillover]", timeout=60_000)
        assert int(page.get_attribute("canvas[data-layer=whatif]", "data-drawn")) > 0
        p.assert_only_own_origin()
    finally:
        p.close()


def test_a_viewer_may_not_run_a_whatif(browser, map_server):
    p = Page(browser, map_server)
    try:
        page = p.open()
        page.fill("#wi-region", "LU")
        page.click("#whatif-form button[type=submit]")
        page.wait_for_function(
            "() => /Not allowed/.test(document.getElementById('status').textContent)",
            timeout=30_000,
        )
        assert "operator" in page.inner_text("[data-testid=whatif-status]")
        p.assert_only_own_origin()
    finally:
        p.close()


def test_a_whatif_of_a_drawn_area(browser, writable_map_server):
    """The area of a what-if may be a polygon drawn on the map (sent as the h3: list of its
    cells, longer than any country's name): the job runs and its cells are drawn."""
    import h3

    corners = [(49.0, 5.0), (49.0, 7.0), (50.5, 7.0), (50.5, 5.0)]
    p = Page(browser, writable_map_server, role="operator")
    try:
        page = p.open()
        set_view(page, 49.75, 6.0, 7)
        page.click("#draw")
        for lat, lon in corners:
            _click_latlng(page, lat, lon)
        page.click("#draw-done")
        page.click("#wi-drawn")
        region = page.input_value("#wi-region")
        # the corners as clicked (a pixel off the ones aimed at, at this zoom)
        clicked = page.evaluate(
            "window.skyfenceMap.drawnPolygon.getLatLngs()[0].map(p => [p.lat, p.lng])"
        )
        assert len(clicked) == 4
        for (lat, lon), (want_lat, want_lon) in zip(clicked, corners, strict=True):
            assert abs(lat - want_lat) < 0.05 and abs(lon - want_lon) < 0.05
        drawn = set(h3.polygon_to_cells(h3.LatLngPoly([tuple(c) for c in clicked]), 5))
        assert region.startswith("h3:5:") and set(region[5:].split(",")) == drawn
        assert len(region) > 500
        page.fill("#wi-minutes", "5")
        page.click("#whatif-form button[type=submit]")
        page.wait_for_selector("#legend [data-whatif=spillover]", timeout=240_000)
        meta = page.evaluate("window.skyfenceMap.whatif.header.meta")
        assert meta["expression"] == region and meta["params"]["region"] == region
        assert f"a drawn area ({len(drawn)} cells)" in page.inner_text("#legend")
        counts = page.evaluate("SkyfenceCells.countByCode(window.skyfenceMap.whatif)")
        # the area's cells: every cell the polygon's cells touch, at the what-if's resolution
        assert sum(counts[:4]) >= len(drawn)
        assert counts[4] > 0  # its beams light cells beyond the drawn border
        p.assert_only_own_origin()
    finally:
        p.close()
