"""Gateway planner: the coverage guarantee, checked by brute force with a stand-in land test."""

from __future__ import annotations

import numpy as np

from skyfence.ground import GroundSites, fibonacci_lattice, great_circle_km, plan_gateways


def box_country_of(lat, lon):
    """Stand-in: land is two boxes, country 'AA' and 'BB'; everything else is sea."""
    lat, lon = np.asarray(lat), np.asarray(lon)
    out = np.full(lat.shape, "", dtype=object)
    out[(lat > 0) & (lat < 30) & (lon > 0) & (lon < 40)] = "AA"
    out[(lat > -40) & (lat < -10) & (lon > -70) & (lon < -40)] = "BB"
    return out


def test_every_land_sample_has_a_gateway_within_radius():
    pops = GroundSites.from_arrays([10.0], [10.0], kind="pop", country="AA", id=["p"])
    gw = plan_gateways(pops, country_of=box_country_of, coverage_radius_km=400.0, sample_km=80.0)
    assert gw.id[0] == "plan-pop-p"
    assert set(gw.country) == {"AA", "BB"}
    assert set(box_country_of(gw.latitude_deg, gw.longitude_deg)) <= {"AA", "BB"}
    lat, lon = fibonacci_lattice(80.0)
    land = box_country_of(lat, lon) != ""
    d = great_circle_km(
        lat[land, None], lon[land, None], gw.latitude_deg[None], gw.longitude_deg[None]
    )
    assert d.min(axis=1).max() <= 400.0 + 1e-6
    # greedy, not wasteful: fewer gateways than a dense grid would need
    assert len(gw) < land.sum() / 4


def test_country_filter_and_no_land_test():
    pops = GroundSites.from_arrays([10.0], [10.0], kind="pop", country="AA")
    only_bb = plan_gateways(pops, country_of=box_country_of, countries=["bb"], at_pops=False)
    assert set(only_bb.country) == {"BB"}
    assert len(plan_gateways(pops)) == 1  # without country_of: only PoP gateways


def test_lattice_spacing():
    lat, lon = fibonacci_lattice(500.0)
    from scipy.spatial import cKDTree

    from skyfence.ground import up_vectors

    d, _ = cKDTree(up_vectors(lat, lon)).query(up_vectors(lat, lon), k=2)
    nn_km = d[:, 1] * 6371.0
    assert 350 < np.median(nn_km) < 650


def test_avoided_area_gets_no_gateway_and_needs_no_cover():
    # country AA with a PoP inside an area to avoid (its east end, lon > 30): no gateway may
    # stand there, neither the PoP's nor a cover gateway; the rest of AA is still covered
    pops = GroundSites.from_arrays(
        [10.0, 15.0], [10.0, 35.0], kind="pop", country="AA", id=["west", "east"]
    )

    def avoid(lat, lon):
        return np.asarray(lon) > 30.0

    gw = plan_gateways(
        pops, country_of=box_country_of, countries=["AA"], coverage_radius_km=400.0,
        sample_km=80.0, avoid=avoid,
    )  # fmt: skip
    assert "plan-pop-west" in gw.id and "plan-pop-east" not in gw.id
    assert not avoid(gw.latitude_deg, gw.longitude_deg).any()
    lat, lon = fibonacci_lattice(80.0)
    land = (box_country_of(lat, lon) == "AA") & ~avoid(lat, lon)
    d = great_circle_km(
        lat[land, None], lon[land, None], gw.latitude_deg[None], gw.longitude_deg[None]
    )
    assert d.min(axis=1).max() <= 400.0 + 1e-6
    # without the area to avoid, the plan does put gateways there
    free = plan_gateways(
        pops, country_of=box_country_of, countries=["AA"], coverage_radius_km=400.0, sample_km=80.0
    )
    assert avoid(free.latitude_deg, free.longitude_deg).any()


def test_avoid_must_answer_per_point():
    import pytest

    from skyfence.errors import InputError

    pops = GroundSites.from_arrays([10.0], [10.0], kind="pop", country="AA")
    with pytest.raises(InputError, match="one bool per point"):
        plan_gateways(pops, avoid=lambda lat, lon: True)
