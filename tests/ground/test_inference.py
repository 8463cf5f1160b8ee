"""Gateway inference on hand-built cases: where a gateway is inferred, where never, and that
turning inference off gives back the network without it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.errors import InputError
from skyfence.geodesy import great_circle_km
from skyfence.ground import GroundSites
from skyfence.ground.inference import infer_gateways, with_inferred_gateways

# Johannesburg, Frankfurt and Karachi PoPs; a listed gateway 30 km from Frankfurt only
POPS = GroundSites.from_arrays(
    [-26.14, 50.12, 24.86], [28.20, 8.73, 67.00], kind="pop",
    id=["jhngzaf1", "frntdeu1", "krcipak1"], name=["Johannesburg", "Frankfurt", "Karachi"],
    country=["ZA", "DE", "PK"],
)  # fmt: skip
LISTED = GroundSites.from_arrays([50.0], [9.1], kind="gateway", id=["gw-de"], country="DE")


def infer(
    serving=(True, True, True), licensed=("ZA", "DE", "BW"), radius_km=300.0, gateways=LISTED
):
    return infer_gateways(
        gateways, POPS, serving=np.array(serving), licensed_countries=licensed, radius_km=radius_km
    )


def test_a_pop_with_a_listed_gateway_next_to_it_gets_no_inferred_one():
    out = infer()
    assert "inferred-frntdeu1" not in out.id.tolist()


def test_a_serving_pop_without_a_gateway_gets_one_at_the_pop_marked_inferred():
    out = infer()
    assert out.id.tolist() == ["inferred-jhngzaf1"]
    assert out.inferred.tolist() == [True]
    assert out.kind.tolist() == ["gateway"]
    assert (out.latitude_deg[0], out.longitude_deg[0]) == (-26.14, 28.20)
    assert out.country.tolist() == ["ZA"]


def test_never_in_a_country_that_does_not_license_the_service():
    # Karachi serves customers in this table but Pakistan is not a licensed country
    assert "inferred-krcipak1" not in infer().id.tolist()
    assert "inferred-krcipak1" in infer(licensed=("ZA", "PK")).id.tolist()
    assert len(infer(licensed=())) == 0


def test_a_pop_without_customers_gets_none():
    assert len(infer(serving=(False, True, True))) == 0


def test_radius_decides():
    d = float(great_circle_km(50.12, 8.73, 50.0, 9.1))
    assert "inferred-frntdeu1" in infer(radius_km=d * 0.99).id.tolist()
    assert "inferred-frntdeu1" not in infer(radius_km=d * 1.01).id.tolist()


def test_inferred_gateways_do_not_count_as_listed():
    first = infer()
    both = with_inferred_gateways(LISTED, first)
    assert infer(gateways=both).id.tolist() == first.id.tolist()
    assert both.inferred.tolist() == [False, True]
    assert both.source == LISTED.source


def test_two_codes_at_one_site_get_one_gateway():
    pops = GroundSites.from_arrays(
        [-6.24, -6.24], [106.82, 106.82], kind="pop", id=["jtnaidn1", "jtnaidn2"], country="ID"
    )
    out = infer_gateways(
        LISTED, pops, serving=np.array([True, True]), licensed_countries=["ID"], radius_km=300.0
    )
    assert out.id.tolist() == ["inferred-jtnaidn1"]


def test_bad_arguments():
    with pytest.raises(InputError, match="radius"):
        infer(radius_km=0.0)
    with pytest.raises(InputError, match="one flag per PoP"):
        infer(serving=(True,))


@settings(max_examples=60, deadline=None)
@given(
    n_pops=st.integers(1, 8),
    data=st.data(),
)
def test_property_inferred_only_at_serving_pops_of_licensed_countries(n_pops, data):
    lat = data.draw(st.lists(st.floats(-60, 70), min_size=n_pops, max_size=n_pops))
    lon = data.draw(st.lists(st.floats(-179, 179), min_size=n_pops, max_size=n_pops))
    ctry = data.draw(
        st.lists(st.sampled_from(["AA", "BB", "CC", ""]), min_size=n_pops, max_size=n_pops)
    )
    serving = np.array(data.draw(st.lists(st.booleans(), min_size=n_pops, max_size=n_pops)))
    licensed = set(data.draw(st.lists(st.sampled_from(["AA", "BB", "CC"]), max_size=3)))
    n_gw = data.draw(st.integers(0, 4))
    g_lat = data.draw(st.lists(st.floats(-60, 70), min_size=n_gw, max_size=n_gw))
    g_lon = data.draw(st.lists(st.floats(-179, 179), min_size=n_gw, max_size=n_gw))
    radius = data.draw(st.floats(10.0, 3000.0))
    pops = GroundSites.from_arrays(
        lat, lon, kind="pop", id=[f"p{i}" for i in range(n_pops)], country=ctry
    )
    gws = GroundSites.from_arrays(g_lat, g_lon, kind="gateway")
    out = infer_gateways(gws, pops, serving=serving, licensed_countries=licensed, radius_km=radius)
    assert out.inferred.all()
    for gid, c in zip(out.id, out.country, strict=True):
        row = int(str(gid).removeprefix("inferred-p"))
        assert serving[row] and c in licensed and pops.country[row] == c
        if n_gw:
            assert gws.distance_km(pops.latitude_deg[row], pops.longitude_deg[row]).min() > radius
    # every serving, licensed PoP far from all gateways got one (or shares a site with one that did)
    far = np.array([
        n_gw == 0 or gws.distance_km(pops.latitude_deg[i], pops.longitude_deg[i]).min() > radius
        for i in range(n_pops)
    ])  # fmt: skip
    expected = serving & far & np.isin(pops.country.astype(str), sorted(licensed))
    covered = {
        (round(a, 4), round(b, 4)) for a, b in zip(out.latitude_deg, out.longitude_deg, strict=True)
    }
    for i in np.flatnonzero(expected):
        assert (round(pops.latitude_deg[i], 4), round(pops.longitude_deg[i], 4)) in covered


def test_ground_sites_carry_the_inferred_flag():
    both = with_inferred_gateways(LISTED, infer())
    assert both.subset([1]).inferred.tolist() == [True]
    assert both.with_kind("gateway").inferred.tolist() == [False, True]
    recs = both.to_records()
    assert [r["inferred"] for r in recs] == [False, True]
    with pytest.raises(InputError, match="one flag per site"):
        GroundSites.from_arrays([1.0, 2.0], [1.0, 2.0], inferred=[True, False, True])


def test_docstring_examples_run():
    import doctest

    import skyfence.ground.inference as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
