"""Sealed regions: everything that decides is recorded in the policy document.

Before, a rule on ``geojson:/path/zone.geojson`` was applied once, and editing the file
afterwards moved the area with no log entry; a change of the boundary data under a stored
policy went unnoticed too.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import shapely

from skyfence.errors import IntegrityError, ParseError
from skyfence.policy import Policy, diff_policies, load_example, parse_policy, seal_document
from skyfence.policy.testing import SimpleIndex
from skyfence.regions import Region, RegionResolver, Worldview, geometry_sha256
from skyfence.store.canonical import canonical_json

T = "2026-03-01T00:00:00Z"


def boxes_world(aa_east: float = 10.0) -> Worldview:
    return Worldview(
        "boxes v1" if aa_east == 10.0 else "boxes v2",
        [
            Region("AA", "Aland", shapely.box(0, 0, aa_east, 10), kind="country"),
            Region("BB", "Bland", shapely.box(aa_east, 0, 20, 10), kind="country"),
        ],
    )


def write_box(path, x0, y0, x1, y1):
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": shapely.geometry.mapping(shapely.box(x0, y0, x1, y1)),
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))


@pytest.fixture()
def zone(tmp_path):
    path = tmp_path / "zone.geojson"
    write_box(path, 2, 2, 4, 4)
    return path


def document(zone) -> dict:
    return {
        "name": "sealed test",
        "sensitive_regions": [f"geojson:{zone}"],
        "rules": [
            {"id": "aa", "region": "AA", "state": "active"},
            {"id": "bb", "region": "BB", "state": "active"},
            {"id": "zone", "region": f"geojson:{zone}", "state": "suspended"},
            {
                "id": "ring",
                "region": f"buffer(geojson:{zone}, 50km) - geojson:{zone}",
                "state": "waitlist",
            },
        ],
        "terminal_rules": [
            {"id": "wl", "kind": "whitelist_only", "region": f"geojson:{zone}"},
        ],
    }


def states(policy: Policy, w: Worldview, points) -> list[str]:
    cp = policy.compile(
        resolve=RegionResolver(w), countries=SimpleIndex(w.countries), index_factory=SimpleIndex
    )
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    return cp.decide_batch({"lat": lat, "lon": lon, "time": T}).state_names().tolist()


POINTS = [(3.0, 3.0), (7.0, 7.0), (3.0, 4.2), (7.0, 8.2), (5.0, 15.0)]


def test_editing_the_file_after_sealing_changes_nothing(zone):
    w = boxes_world()
    sealed = seal_document(document(zone), resolve=RegionResolver(w))
    before = states(Policy.from_document(sealed, resolve=RegionResolver(w)), w, POINTS)
    assert before == ["suspended", "active", "waitlist", "active", "active"]
    write_box(zone, 6, 6, 8, 8)  # the zone moves on disk
    unsealed = states(Policy.from_document(document(zone)), w, POINTS)
    assert unsealed == ["active", "suspended", "active", "waitlist", "active"]  # it would move
    zone.unlink()  # and a sealed policy does not even need the file
    policy = Policy.from_document(sealed, resolve=RegionResolver(w))
    assert states(policy, w, POINTS) == before
    d = policy.compile(
        resolve=RegionResolver(w), countries=SimpleIndex(w.countries), index_factory=SimpleIndex
    )
    assert d.decide("T1", 3.0, 3.0, T).region == f"geojson:{zone}"  # rule texts unchanged


def test_every_region_carries_the_hash_of_its_geometry(zone):
    w = boxes_world()
    resolve = RegionResolver(w)
    sealed = seal_document(document(zone), resolve=resolve)
    exprs = {r["region"] for r in document(zone)["rules"]} | {f"geojson:{zone}"}
    assert set(sealed["sealed"]["sha256"]) == exprs  # countries included
    for expr in exprs:
        assert sealed["sealed"]["sha256"][expr] == geometry_sha256(resolve(expr).geometry)
    assert list(sealed["sealed"]["geojson"]) == [str(zone)]
    inline = shapely.geometry.shape(sealed["sealed"]["geojson"][str(zone)])
    assert inline.equals(shapely.box(2, 2, 4, 4))
    assert sealed["sealed"]["worldview"] == "boxes v1"
    assert [r["region"] for r in sealed["rules"]] == [r["region"] for r in document(zone)["rules"]]


def test_tampering_is_an_integrity_error_naming_the_region(zone):
    w = boxes_world()
    sealed = seal_document(document(zone), resolve=RegionResolver(w))
    moved = copy.deepcopy(sealed)
    moved["sealed"]["geojson"][str(zone)]["coordinates"][0][0] = [2.0, 1.0]
    moved["sealed"]["geojson"][str(zone)]["coordinates"][0][-1] = [2.0, 1.0]
    with pytest.raises(
        IntegrityError, match=rf"region 'geojson:{zone}' resolves to a geometry whose hash"
    ):
        Policy.from_document(moved, resolve=RegionResolver(w))
    forged = copy.deepcopy(sealed)
    forged["sealed"]["sha256"]["BB"] = "0" * 64
    with pytest.raises(
        IntegrityError, match="region 'BB' resolves to a geometry whose hash"
    ) as err:
        Policy.from_document(forged, resolve=RegionResolver(w), source="policy version 3")
    assert str(err.value).startswith("policy version 3: region 'BB'")
    assert "differs from the sealed 0000000000000000…" in str(err.value)


def test_changed_boundary_data_is_detected(zone):
    sealed = seal_document(document(zone), resolve=RegionResolver(boxes_world()))
    with pytest.raises(IntegrityError) as err:
        Policy.from_document(
            sealed, resolve=RegionResolver(boxes_world(aa_east=11.0)), source="policy version 7"
        )
    text = str(err.value)
    assert text.startswith("policy version 7: region 'AA' resolves to a geometry whose hash")
    assert "the boundary data (or the document) changed since this policy was applied" in text
    assert "sealed with worldview 'boxes v1', now 'boxes v2'" in text
    # a policy read without verification is checked when it is compiled
    loose = parse_policy(json.dumps(sealed), "sealed.json")
    w2 = boxes_world(aa_east=11.0)
    with pytest.raises(IntegrityError, match="region 'AA'"):
        loose.compile(
            resolve=RegionResolver(w2),
            countries=SimpleIndex(w2.countries),
            index_factory=SimpleIndex,
        )


def test_seal_is_idempotent_and_round_trips_exactly(zone):
    w = boxes_world()
    sealed = seal_document(document(zone), resolve=RegionResolver(w))
    zone.unlink()  # sealing again reads no file
    assert seal_document(sealed, resolve=RegionResolver(w)) == sealed
    stored = json.loads(canonical_json(sealed))
    policy = Policy.from_document(stored, resolve=RegionResolver(w))
    assert policy.to_document() == sealed
    assert canonical_json(policy.to_document()) == canonical_json(sealed)
    assert (
        Policy.from_document(
            json.loads(canonical_json(policy.to_document())), resolve=RegionResolver(w)
        )
        == policy
    )


def test_malformed_seals_are_parse_errors(zone):
    w = boxes_world()
    sealed = seal_document(document(zone), resolve=RegionResolver(w))
    cases = []
    missing = copy.deepcopy(sealed)
    del missing["sealed"]["sha256"]["AA"]
    cases.append((missing, "region 'AA' has no hash; seal it again"))
    no_file = copy.deepcopy(sealed)
    no_file["sealed"]["geojson"] = {}
    cases.append((no_file, f"names geojson:{zone}, whose geometry is not sealed"))
    extra = copy.deepcopy(sealed)
    extra["sealed"]["sha256"]["ZZ"] = "a" * 64
    cases.append((extra, "sealed region 'ZZ' is not used"))
    bad_hex = copy.deepcopy(sealed)
    bad_hex["sealed"]["sha256"]["AA"] = "xyz"
    cases.append((bad_hex, "must be 64 lowercase hex digits"))
    point = copy.deepcopy(sealed)
    point["sealed"]["geojson"][str(zone)] = {"type": "Point", "coordinates": [1, 1]}
    cases.append((point, "expected a GeoJSON Polygon or MultiPolygon"))
    for doc, fragment in cases:
        with pytest.raises(ParseError, match=fragment.replace("(", r"\(")):
            Policy.from_document(doc, resolve=RegionResolver(w))


def test_a_changed_sealed_geometry_is_a_changed_rule(zone):
    w = boxes_world()
    old = Policy.from_document(
        seal_document(document(zone), resolve=RegionResolver(w)), resolve=RegionResolver(w)
    )
    write_box(zone, 2, 2, 5, 5)
    new = Policy.from_document(
        seal_document(document(zone), resolve=RegionResolver(w)), resolve=RegionResolver(w)
    )
    d = diff_policies(old, new, cells=False, resolve=RegionResolver(w))
    assert sorted(d.changed) == ["ring", "wl", "zone"]
    assert d.changes[[c.id for c in d.changes].index("zone")].fields == ["region_sha256"]
    assert d.sensitive  # the zone is a sensitive region and its geometry changed


def test_the_example_policy_seals_with_the_built_in_worldview(real_world):
    sealed = seal_document(load_example("ukraine-2026").to_document())
    hashes = sealed["sealed"]["sha256"]
    assert {"UA", "crimea", "PL | SK | HU | RO | MD", "RU | BY"} <= set(hashes)
    assert sealed["sealed"]["geojson"] == {}
    assert sealed["sealed"]["worldview"] == real_world.worldview
    policy = Policy.from_document(json.loads(canonical_json(sealed)), source="policy version 1")
    assert policy.decide("nobody", 44.95, 34.10, T).state == "suspended"  # Crimea


def test_validating_a_sealed_file_reads_no_file(zone):
    from skyfence.policy import check_policy

    w = boxes_world()
    sealed = seal_document(document(zone), resolve=RegionResolver(w))
    zone.unlink()
    policy, problems = check_policy(
        json.dumps(sealed, indent=1), "sealed.json", resolve=RegionResolver(w)
    )
    assert problems == [] and policy is not None and policy.sealed is not None
    _, problems = check_policy(
        json.dumps(document(zone), indent=1), "plain.json", resolve=RegionResolver(w)
    )
    assert problems and "does not exist" in str(problems[0])  # unsealed: the file is needed


def test_no_resolver_can_bypass_the_seal(zone):
    # compile(resolve=...) with a resolver that is not a RegionResolver used to be "used as
    # given": it read the edited file and the zone moved. The seal decides whatever resolves.
    from skyfence.regions import parse_region

    w = boxes_world()
    sealed = seal_document(document(zone), resolve=RegionResolver(w))
    before = states(Policy.from_document(sealed, resolve=RegionResolver(w)), w, POINTS)
    write_box(zone, 6, 6, 8, 8)  # the zone moves on disk

    def honest(expr, geojson=None):  # a plain function that takes the sealed geometries
        return parse_region(expr, w, geojson=geojson)

    policy = Policy.from_document(sealed, resolve=honest)
    cp = policy.compile(
        resolve=honest, countries=SimpleIndex(w.countries), index_factory=SimpleIndex
    )
    lat = np.array([p[0] for p in POINTS])
    lon = np.array([p[1] for p in POINTS])
    got = cp.decide_batch({"lat": lat, "lon": lon, "time": T}).state_names().tolist()
    assert got == before

    def reads_the_file(expr, geojson=None):  # ignores the sealed geometry: caught by the hash
        return parse_region(expr, w)

    with pytest.raises(IntegrityError, match="zone.geojson"):
        policy.compile(
            resolve=reads_the_file, countries=SimpleIndex(w.countries), index_factory=SimpleIndex
        ).decide("T1", 3.0, 3.0, T)


def test_the_seal_records_the_areas_that_rank_rules(zone, monkeypatch):
    # areas decide precedence (the smaller region wins), so they are sealed with the geometry;
    # a sealed policy ranks its rules by them without measuring anything again
    from skyfence.regions import _geo

    w = boxes_world()
    resolve = RegionResolver(w)
    sealed = seal_document(document(zone), resolve=resolve)
    areas = sealed["sealed"]["area_km2"]
    assert set(areas) == set(sealed["sealed"]["sha256"])
    for expr, km2 in areas.items():
        assert km2 == pytest.approx(_geo.geodesic_area_km2(resolve(expr).geometry), rel=1e-12)
    expected = states(Policy.from_document(sealed, resolve=RegionResolver(w)), w, POINTS)

    def no_measuring(*_a, **_k):
        raise AssertionError("a sealed policy measured an area again")

    monkeypatch.setattr(_geo, "geodesic_area_km2", no_measuring)
    fresh = boxes_world()  # regions that have measured nothing yet
    got = states(Policy.from_document(sealed, resolve=RegionResolver(fresh)), fresh, POINTS)
    assert got == expected
    unsealed = Policy.from_document(document(zone))
    with pytest.raises(AssertionError, match="measured an area"):
        states(unsealed, boxes_world(), POINTS)
    bad = copy.deepcopy(sealed)
    bad["sealed"]["area_km2"]["AA"] = -1.0
    with pytest.raises(ParseError, match="sealed area"):
        Policy.from_document(bad, resolve=RegionResolver(w))
