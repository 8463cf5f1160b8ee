"""app.maplayers without a server: gateways from a real list with the inferred ones told
apart, and footprints against the elevation geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skyfence.app import App
from skyfence.app.maplayers import footprint_radius_km, ground_sites
from skyfence.app.network import NetworkSpec
from skyfence.settings import load_settings


def test_listed_and_inferred_gateways_are_told_apart(shared_data, tmp_path):
    app = App(load_settings(data_dir=tmp_path / "data"))
    spec = NetworkSpec(
        gateways=shared_data / "starlink-gateways.csv",
        pops=shared_data / "starlink-pops-2026.csv",
        pop_map=shared_data / "starlink-city-pops.csv",
    )
    sites = ground_sites(app, network=spec)
    listed = [s for s in sites if s.kind == "gateway" and s.source == "listed"]
    inferred = [s for s in sites if s.kind == "gateway" and s.source == "inferred"]
    pops = [s for s in sites if s.kind == "pop"]
    with open(shared_data / "starlink-gateways.csv", encoding="utf-8") as f:
        rows = sum(1 for line in f if line.strip()) - 1
    assert 0 < len(listed) <= rows  # one site per place (a site may be listed once per band)
    assert inferred, "the list has holes near PoPs that serve customers (Africa, Asia)"
    assert not {(s.latitude_deg, s.longitude_deg) for s in inferred} & {
        (s.latitude_deg, s.longitude_deg) for s in listed
    }
    assert len(pops) == 79


def test_planned_gateways_without_a_list(tmp_path):
    sites = ground_sites(App(load_settings(data_dir=tmp_path / "data")))
    assert {s.source for s in sites if s.kind == "gateway"} == {"planned"}
    assert any(s.kind == "pop" for s in sites)


@pytest.mark.parametrize("altitude_km,mask_deg", [(550.0, 25.0), (1200.0, 35.0), (340.0, 40.0)])
def test_footprint_edge_sees_the_satellite_at_the_mask(altitude_km, mask_deg):
    r = 6371.0
    d = float(footprint_radius_km(np.array([altitude_km]), mask_deg)[0])
    lam = d / r
    # elevation of the satellite seen from the ground point at central angle lam
    el = math.degrees(math.atan2(math.cos(lam) - r / (r + altitude_km), math.sin(lam)))
    assert el == pytest.approx(mask_deg, abs=1e-9)
