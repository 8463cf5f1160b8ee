"""The map's data routes over HTTP (no browser): tokens, packed layers checked against the
policy document and single decisions, proofs checked with the store's own verifier and the
public key, static files kept inside their directory."""

from __future__ import annotations

import base64
import hashlib
import json
import math

import numpy as np
import pytest
from tests.web.conftest import KINMEN, LUXEMBOURG, run_whatif_job

httpx = pytest.importorskip("httpx", reason="the route tests use httpx (service extra)")


def auth(server, role="viewer"):
    return {"Authorization": f"Bearer {server.tokens[role]}"}


def get(server, path, **kw):
    return httpx.get(server.url + path, headers=kw.pop("headers", auth(server)), timeout=120, **kw)


def test_the_page_needs_no_token_but_every_data_route_does(map_server):
    page = httpx.get(map_server.url + "/", timeout=30)
    assert page.status_code == 200 and "skyfence map" in page.text
    for path in ("/v1/map/legend", "/v1/map/cells/activation", "/v1/map/schedule"):
        r = httpx.get(map_server.url + path, timeout=30)
        assert r.status_code == 401, path
        assert set(r.json()["error"]) == {"code", "message", "details"}


def test_every_map_route_needs_a_reader_token(map_server, luxembourg_job):
    """Every /v1/map route (from the OpenAPI document): 401 without a token or with an
    unknown one, 403 for a terminal gateway (decisions only), 200 for a viewer."""
    doc = httpx.get(map_server.url + "/openapi.json", timeout=30).json()
    paths = [p for p in doc["paths"] if p.startswith("/v1/map/")]
    assert len(paths) == 11
    fill = {
        "{run}": "whatif-activate-TW-2026-02-22T12-00-00Z-run-test",
        "{name}": "findings-test.geojson",
        "{region}": "TW",
        "{job_id}": luxembourg_job["id"],
    }
    for path in paths:
        url = path
        for k, v in fill.items():
            url = url.replace(k, v)
        assert get(map_server, url, headers={}).status_code == 401, path
        bad = {"Authorization": "Bearer sft_not-a-token"}
        assert get(map_server, url, headers=bad).status_code == 401, path
        gw = get(map_server, url, headers=auth(map_server, "terminal-gateway"))
        assert gw.status_code == 403 and gw.json()["error"]["code"], path
        assert get(map_server, url).status_code == 200, path


def test_static_files_stay_inside_their_directory(map_server):
    ok = httpx.get(map_server.url + "/map/static/vendor/leaflet/leaflet.js", timeout=30)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/javascript")
    csp = httpx.get(map_server.url + "/", timeout=30).headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    for bad in ("/map/static/../routes.py", "/map/static/%2e%2e/routes.py", "/map/static/nope.js"):
        assert httpx.get(map_server.url + bad, timeout=30).status_code == 404, bad


def test_activation_layer_matches_the_policy_and_single_decisions(map_server):
    import h3

    from skyfence.app.decide import decide
    from skyfence.app.identity import Principal
    from skyfence.web.packing import unpack_cells

    r = get(map_server, "/v1/map/cells/activation")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.skyfence.cells"
    layer = unpack_cells(r.content)
    head = layer["header"]
    names, rule_ids = head["names"], head["meta"]["rule_ids"]
    cells = layer["cells"]
    assert head["resolution"] == 5 and head["meta"]["policy_version"] == 1
    assert np.unique(cells).size == cells.size
    index = {int(c): i for i, c in enumerate(cells)}
    # hand truth from the policy document: Taipei waitlist, Tokyo active, Pyongyang denied,
    # Seoul's rule starts in 2030 (so no rule decides it now)
    expect = {
        (25.03, 121.56): ("waitlist", "tw-waitlist"),
        (35.68, 139.69): ("active", "jp-active"),
        (39.03, 125.75): ("denied", "kp-denied"),
        (37.57, 126.98): ("not_licensed", None),
    }
    for (lat, lon), (st, rule) in expect.items():
        i = index[h3.str_to_int(h3.latlng_to_cell(lat, lon, 5))]
        assert names[layer["codes"][i]] == st
        k = int(layer["columns"]["rule"][i])
        assert (rule_ids[k] if k >= 0 else None) == rule
    # a sample of cells agrees with the single-decision path at the cell centres
    viewer = Principal.from_token("viewer", ["viewer"])
    rng = np.random.default_rng(5)
    for i in rng.choice(cells.size, 12, replace=False):
        lat, lon = h3.cell_to_latlng(h3.int_to_str(int(cells[i])))
        d = decide(map_server.app, viewer, "probe", lat, lon).decision
        assert d.state == names[layer["codes"][i]]


def test_the_time_moves_the_layer_to_scheduled_rules(map_server):
    import h3

    from skyfence.web.packing import unpack_cells

    sched = get(map_server, "/v1/map/schedule").json()
    assert sched["times"] == ["2030-01-01T00:00:00Z"]
    assert [r["id"] for r in sched["rules"]] == ["tw-waitlist", "jp-active", "kp-denied", "kr-soon"]
    later = unpack_cells(
        get(map_server, "/v1/map/cells/activation?at=2030-06-01T00:00:00Z").content
    )
    seoul = h3.str_to_int(h3.latlng_to_cell(37.57, 126.98, 5))
    i = int(np.flatnonzero(later["cells"] == seoul)[0])
    assert later["header"]["names"][later["codes"][i]] == "coming_soon"


def test_bad_input_is_one_clear_error(map_server):
    r = get(map_server, "/v1/map/cells/activation?at=not-a-time")
    assert r.status_code == 400 and "time" in r.json()["error"]["message"]
    r = get(map_server, "/v1/map/satellites?min_elevation_deg=95")
    assert r.status_code in (400, 422) and "error" in r.json()
    r = get(map_server, "/v1/map/history/..%2Fx")
    assert r.status_code in (400, 404)
    r = get(map_server, "/v1/map/cells/whatif/..")
    assert r.status_code in (400, 404)


def test_kinmen_is_decided_by_taiwans_rule(map_server):
    lat, lon = KINMEN
    body = {"terminal_id": "map-probe", "latitude_deg": lat, "longitude_deg": lon}
    r = httpx.post(
        map_server.url + "/v1/decisions", json=body, headers=auth(map_server), timeout=60
    )
    d = r.json()
    assert (d["state"], d["region"], d["rule_id"], d["policy_version"]) == (
        "waitlist",
        "TW",
        "tw-waitlist",
        1,
    )
    assert d["allowed"] is False and d["reasons"]


def test_history_proofs_verify_against_the_signed_checkpoint(map_server):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from skyfence.store.c2sp import signed_message
    from skyfence.store.merkle import leaf_hash, verify_inclusion

    h = get(map_server, "/v1/map/history/TW").json()
    cp = h["checkpoint"]
    assert h["entries"], "the apply of the policy names TW"
    key = load_pem_public_key(h["public_key_pem"].encode())
    key.verify(
        base64.b64decode(cp["signature"]),
        signed_message(
            cp["origin"], cp["tree_size"], bytes.fromhex(cp["root_hash"]), cp["time"],
            cp["key_id"],
        ),
    )  # fmt: skip
    for e in h["entries"]:
        leaf = leaf_hash(e["text"].encode())
        assert leaf.hex() == e["leaf_hash"]
        assert verify_inclusion(
            leaf,
            e["index"],
            cp["tree_size"],
            [bytes.fromhex(p) for p in e["path"]],
            bytes.fromhex(cp["root_hash"]),
        )
    # each entry names TW, or is a step (approval, ...) of a change whose request did
    kinds, changes = [], set()
    for e in h["entries"]:
        data = json.loads(e["text"])["data"]
        if '"TW"' in json.dumps(data):
            changes.add(data.get("change_id"))
        else:
            assert data.get("change_id") in changes, data
        kinds.append(json.loads(e["text"])["kind"])
    assert kinds[0] == "policy.request" and "policy.approve" in kinds
    none = get(map_server, "/v1/map/history/FR").json()
    assert none["entries"] == []


def test_satellite_footprints_end_where_the_elevation_is_the_mask(map_server):
    s = get(map_server, "/v1/map/satellites?at=2026-02-22T12:00:00Z").json()
    assert s["count"] == 4408 and len(s["footprint_km"]) == 4408
    r_km = 6371.0
    for h, d in zip(s["altitude_km"][:50], s["footprint_km"][:50], strict=True):
        lam = d / r_km  # central angle to the footprint's edge
        # elevation seen from the ground at that angle (plane triangle Earth centre-site-satellite)
        el = math.degrees(math.atan2(math.cos(lam) - r_km / (r_km + h), math.sin(lam)))
        assert abs(el - 25.0) < 0.2  # the JSON rounds to 0.1 km


def test_sites_tell_gateways_and_pops_apart(map_server):
    sites = get(map_server, "/v1/map/sites").json()["sites"]
    kinds = {(x["kind"], x["source"]) for x in sites}
    assert ("pop", "listed") in kinds and ("gateway", "planned") in kinds


def test_whatif_and_findings_layers(map_server):
    from skyfence.web.packing import unpack_cells

    runs = get(map_server, "/v1/map/whatif").json()["runs"]
    assert [r["run"] for r in runs] == ["whatif-activate-TW-2026-02-22T12-00-00Z-run-test"]
    layer = unpack_cells(get(map_server, f"/v1/map/cells/whatif/{runs[0]['run']}").content)
    names = layer["header"]["names"]
    # served shares 1.0, 0.7, 0.2, 0.0 after the switch
    assert [names[c] for c in layer["codes"]] == [
        "served_95",
        "served_50_95",
        "served_below_50",
        "not_served",
    ]
    assert layer["columns"]["rtt_p50_ms"].tolist() == [30.0, 31.0, 32.0, 33.0]
    assert get(map_server, "/v1/map/findings").json()["files"] == ["findings-test.geojson"]
    f = get(map_server, "/v1/map/findings/findings-test.geojson").json()
    assert f["features"][0]["properties"]["kind"] == "speed"


def _report_of(server, job):
    r = get(server, f"/v1/whatif/{job['id']}/files/report.json", headers=auth(server, "operator"))
    assert r.status_code == 200, r.text
    return r.json()


def test_whatif_job_layer_draws_the_report_and_its_spillover(map_server, luxembourg_job):
    """A what-if run through the API (POST /v1/whatif): its packed layer holds every cell of
    the report by served share after the switch, and the report's spillover cells outside
    the region, each with the country its centre is in."""
    import h3

    from skyfence.web.packing import unpack_cells

    report = _report_of(map_server, luxembourg_job)
    layer = unpack_cells(
        get(map_server, f"/v1/map/cells/whatif-job/{luxembourg_job['id']}").content
    )
    names, meta = layer["header"]["names"], layer["header"]["meta"]
    got = {f"{int(c):x}": names[k] for c, k in zip(layer["cells"], layer["codes"], strict=True)}
    expected = {}
    for row in report["cells"]:
        f = row["served_fraction_after"]
        expected[row["cell"]] = (
            "served_95" if f >= 0.95 else "served_50_95" if f >= 0.5
            else "served_below_50" if f > 0 else "not_served"
        )  # fmt: skip
    outside = set(report["spillover_cells"]) - set(expected)
    assert outside, "Luxembourg's beams light cells beyond its border"
    expected.update({c: "spillover" for c in outside})
    assert got == expected
    assert meta["job"] == luxembourg_job["id"] and meta["spillover_cells_listed"] is True
    assert meta["spillover"] == report["spillover"]
    # each spillover cell names the area its centre is in: one the report measured light in
    areas = meta["spill_areas"]
    measured = {r["region"] for r in report["spillover"]["by_region"]}
    spill = layer["codes"] == names.index("spillover")
    where = layer["columns"]["spill_area"]
    assert (where[~spill] == -1).all() and (where[spill] >= 0).all()
    world = map_server.app.world
    for cell, k in zip(layer["cells"][spill], where[spill], strict=True):
        lat, lon = h3.cell_to_latlng(f"{int(cell):x}")
        area = areas[int(k)]
        assert area["id"] in measured
        if area["id"]:
            assert world.region(area["id"]).contains(np.array([lat]), np.array([lon]))[0]
    # the RTT column is the report's, NaN outside the region
    rtt = {
        f"{int(c):x}": v
        for c, v in zip(layer["cells"], layer["columns"]["rtt_p50_ms"], strict=True)
    }
    for row in report["cells"]:
        if row.get("rtt_p50_ms") is not None:
            assert rtt[row["cell"]] == pytest.approx(row["rtt_p50_ms"], rel=1e-6)
    assert all(math.isnan(rtt[c]) for c in outside)


def test_a_deactivation_draws_the_cells_still_lit_from_outside(map_server):
    """After a switch-off the area is dark, except where the beams serving the cells around
    it still reach: those of its cells are the deactivation's spillover."""
    from skyfence.web.packing import unpack_cells

    job = run_whatif_job(map_server, {**LUXEMBOURG, "action": "deactivate"})
    assert job["status"] == "done", job
    report = _report_of(map_server, job)
    layer = unpack_cells(get(map_server, f"/v1/map/cells/whatif-job/{job['id']}").content)
    names = layer["header"]["names"]
    got = {f"{int(c):x}": names[k] for c, k in zip(layer["cells"], layer["codes"], strict=True)}
    lit = set(report["spillover_cells"])
    assert lit, "the beams around Luxembourg reach into it"
    assert got == {
        r["cell"]: "spillover" if r["cell"] in lit else "not_served" for r in report["cells"]
    }
    assert layer["header"]["meta"]["spillover"]["direction"] == "inside"


def test_whatif_job_layer_refuses_what_is_not_a_finished_job(map_server):
    missing = get(map_server, "/v1/map/cells/whatif-job/0123456789abcdef")
    assert missing.status_code == 404 and "0123456789abcdef" in missing.json()["error"]["message"]
    assert get(map_server, "/v1/map/cells/whatif-job/not-a-job").status_code in (400, 422)
    # a job recorded but not run yet (queued) has no cells: the error says so
    from skyfence.app.identity import Principal
    from skyfence.app.jobs import submit_whatif

    queued = submit_whatif(map_server.app, Principal.local("olga", os_user="olga"), "LU")
    r = get(map_server, f"/v1/map/cells/whatif-job/{queued.job_id}")
    assert r.status_code == 400 and "it is queued" in r.json()["error"]["message"]


def test_the_basemap_is_the_worldviews_countries(map_server):
    """The packed basemap decodes to outlines close to the boundaries skyfence decides with:
    every country, its label inside it, its area within about ten per cent."""
    import shapely

    r = httpx.get(map_server.url + "/map/static/basemap.json", timeout=30)
    assert r.status_code == 200
    data = r.json()
    world = map_server.app.world
    assert {f["id"] for f in data["features"]} == {c.id for c in world.countries}
    k = data["scale"]
    checked = 0
    for f in data["features"]:
        region = world.region(f["id"])
        lat, lon = f["label"]
        # inside (or, rounded to 0.01 degree, within that of a tiny island)
        assert region.geometry.distance(shapely.Point(lon, lat)) < 0.01, f["id"]
        if region.area_km2 < 50_000 or not f["polygons"]:
            continue
        area = 0.0  # in square degrees, as the region's own geometry's
        for rings in f["polygons"]:
            xy = [np.cumsum(np.array(d, dtype=float).reshape(-1, 2), axis=0) / k for d in rings]
            area += shapely.make_valid(shapely.Polygon(xy[0], xy[1:])).area
        # simplified to 0.2 degrees, islands below 0.1 square degree dropped: close, mostly a little less
        assert 0.88 < area / region.geometry.area < 1.06, f["id"]
        checked += 1
    assert checked > 80


def test_packing_refuses_mismatched_columns():
    from skyfence.errors import InputError
    from skyfence.web.packing import pack_cells, unpack_cells

    cells = np.array([0x85BAF443FFFFFFF, 0x85BAF447FFFFFFF], np.uint64)
    with pytest.raises(InputError, match="one code per cell"):
        pack_cells("x", 5, cells, np.array([0], np.uint8), ["a"])
    with pytest.raises(InputError, match="has no name"):
        pack_cells("x", 5, cells, np.array([0, 3], np.uint8), ["a"])
    blob = pack_cells(
        "x",
        5,
        cells,
        np.array([0, 1], np.uint8),
        ["a", "b"],
        {"v": np.array([1.5, -2.0], np.float32), "r": np.array([-1, 7], np.int16)},
    )
    out = unpack_cells(blob)
    assert len(blob) % 8 == 0
    assert out["columns"]["v"].tolist() == [1.5, -2.0] and out["columns"]["r"].tolist() == [-1, 7]
    assert (
        hashlib.sha256(out["cells"].tobytes()).digest() == hashlib.sha256(cells.tobytes()).digest()
    )


def test_sites_from_network_files_in_the_reports_directory(map_server, shared_data):
    import shutil

    names = {
        "gateways": "starlink-gateways.csv",
        "pops": "starlink-pops-2026.csv",
        "pop_map": "starlink-city-pops.csv",
    }
    for name in names.values():  # a user puts their network files in the reports directory
        shutil.copy(shared_data / name, map_server.reports / name)
    q = "&".join(f"{k}={v}" for k, v in names.items())
    sites = get(map_server, f"/v1/map/sites?{q}").json()["sites"]
    sources = {x["source"] for x in sites if x["kind"] == "gateway"}
    assert sources == {"listed", "inferred"}
    assert sum(x["kind"] == "pop" for x in sites) == 79
    bad = get(map_server, "/v1/map/sites?gateways=../etc/passwd")
    assert bad.status_code == 400 and "file" in bad.json()["error"]["message"]
    missing = get(map_server, "/v1/map/sites?gateways=nope.csv")
    assert missing.status_code == 404
