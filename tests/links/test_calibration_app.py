"""Calibration and validation end to end: on small fixture files (always run) and on the real
data in ../shared/data (skipped with the reason when absent)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from skyfence.app import App
from skyfence.app.calibration import (
    calibrate,
    load_published,
    representative_places,
    validate,
)
from skyfence.app.network import NetworkSpec, load_network
from skyfence.errors import InputError, ParseError
from skyfence.ground import GroundSites
from skyfence.links import LatencyModel, NetworkModel, SchedulingDelay
from skyfence.links.calibration import NamedLatencyModel, load_latency_model

DATA = Path(__file__).parent / "data" / "calib"
WINDOW = ("2026-02-22T00:00:00Z", 3600.0, 1200.0)  # four sample slots


def spec(
    model: str | None = None, infer: bool = True, constellation: str = "starlink-gen1"
) -> NetworkSpec:
    return NetworkSpec(
        constellation, DATA / "gateways.csv", DATA / "pops.csv", DATA / "city-pops.csv",
        latency_model=model, infer_gateways=infer,
    )  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from skyfence.settings import load_settings

    return App(load_settings(data_dir=str(tmp_path_factory.mktemp("skyfence"))))


def test_published_file_reads_iso3_and_maps_to_iso2():
    rows = load_published(DATA / "metrics.csv")
    assert [r.iso2 for r in rows] == ["GB", "DE", "ZA", "BW", "LS", "FR", "CC"]
    gb = rows[0]
    # Starlink's worse20 is the slow end (our p80), better20 the fast end (our p20)
    assert (gb.p20_ms, gb.p50_ms, gb.p80_ms) == (23.5, 26.0, 29.0)


def test_bad_published_files(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("iso3,latency_ms_p50\nXYZ,20\n")
    with pytest.raises(ParseError, match="m.csv line 2: 'XYZ' is not an ISO 3166-1"):
        load_published(p)
    p.write_text("iso3,latency_ms_p50\nALB,fast\n")
    with pytest.raises(ParseError, match="line 2: latency_ms_p50 'fast' is not a number"):
        load_published(p)
    p.write_text("iso3,latency_ms_p50\nALB,20\nALB,21\n")
    with pytest.raises(ParseError, match="listed twice"):
        load_published(p)
    p.write_text("code,latency\nALB,20\n")
    with pytest.raises(ParseError, match="expected columns iso3"):
        load_published(p)


def test_representative_places(app):
    places, skipped = representative_places(
        ["GB", "BW", "LS", "FR", "CC"], DATA / "city-pops.csv", app.world
    )
    by = {}
    for p in places:
        by.setdefault(p.iso2, []).append(p)
    assert [p.name for p in by["BW"]] == ["Gaborone", "Francistown"]
    assert [p.weight for p in by["BW"]] == [3.0, 1.0]  # subnets
    # Maseru's GeoIP point is in the Atlantic: moved into Lesotho, home PoP kept
    (ls,) = by["LS"]
    assert ls.how == "moved" and ls.pop == "jhngzaf1"
    assert app.world.region("LS").contains(
        np.array([ls.latitude_deg]), np.array([ls.longitude_deg])
    )[0]
    # France has no city in the table: its representative point, homed like any place
    (fr,) = by["FR"]
    assert fr.how == "country" and fr.pop == ""
    assert "CC" in skipped and "CC" not in by


def test_validate_fixture(app, tmp_path):
    rep = validate(
        app, DATA / "metrics.csv", network=spec(), window=WINDOW,
        plot=tmp_path / "scatter.png", world_map=tmp_path / "map.png",
    )  # fmt: skip
    assert rep.model.startswith("starlink-2026-03")
    assert [r.iso3 for r in rep.countries] == ["GBR", "DEU", "ZAF", "BWA", "LSO", "FRA"]
    assert rep.skipped == {"CC": "no city in the customer table and no outline in the worldview"}
    assert rep.summary["p50"]["n"] == 6 and rep.summary["p50"]["missing"] == 0
    for r in rep.countries:
        assert r.predicted_p20_ms < r.predicted_p50_ms < r.predicted_p80_ms
        assert r.error_p50_ms == pytest.approx(r.predicted_p50_ms - r.published_p50_ms, abs=0.011)
    # Johannesburg serves customers and has no listed gateway: one is inferred there, used,
    # and marked; Karachi serves nobody in the table and Pakistan licenses nothing here
    ids = {g["id"]: g for g in rep.inferred_gateways}
    assert "inferred-jhngzaf1" in ids and ids["inferred-jhngzaf1"]["used"]
    assert all(g["inferred"] for g in rep.inferred_gateways)
    assert not any("krcipak1" in i for i in ids)
    za = next(r for r in rep.countries if r.iso2 == "ZA")
    assert za.inferred_gateway_share > 0.5 and any("(inferred)" in g for g in za.gateways)
    for name in ("scatter.png", "map.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="exists"):
        validate(
            app, DATA / "metrics.csv", network=spec(), window=WINDOW, plot=tmp_path / "scatter.png"
        )


def test_inference_off_lands_southern_africa_far_away(app):
    on = validate(app, DATA / "metrics.csv", network=spec(), window=WINDOW)
    off = validate(app, DATA / "metrics.csv", network=spec(infer=False), window=WINDOW)
    assert off.inferred_gateways == [] and not off.infer_gateways
    p50 = {
        r.iso2: (a.predicted_p50_ms, r.predicted_p50_ms)
        for a, r in zip(on.countries, off.countries, strict=True)
    }
    # without an inferred gateway at Johannesburg the traffic lands in Europe and flies back
    for c in ("ZA", "BW", "LS"):
        assert p50[c][1] > p50[c][0] + 40.0
    for c in ("GB", "DE"):
        assert p50[c][1] == pytest.approx(p50[c][0], abs=1e-6)


def test_validation_needs_a_gateway_list(app):
    with pytest.raises(InputError, match="--gateways FILE"):
        validate(app, DATA / "metrics.csv", network=NetworkSpec(), window=WINDOW)


def test_turning_inference_off_restores_todays_numbers(app, gen1):
    """With inference off and the uncalibrated model, the loaded network is the network
    built straight from the files, step for step."""
    c, eph = gen1
    net = load_network(app, spec(model="none", infer=False))
    assert not net.model.gateways.inferred.any() and len(net.inferred_gateways) == 0
    assert net.model.latency == LatencyModel()
    from skyfence.analysis.gateways import with_iso2_countries
    from skyfence.ground import load_sites
    from skyfence.links import load_pop_map

    direct = NetworkModel(
        c, with_iso2_countries(load_sites(DATA / "gateways.csv")),
        with_iso2_countries(load_sites(DATA / "pops.csv", "pop")),
        pop_map=load_pop_map(DATA / "city-pops.csv"),
    )  # fmt: skip
    term = GroundSites.from_arrays([51.5, -25.7, 52.5, -24.7], [-0.1, 28.2, 13.4, 25.9])
    a, b = net.model.step(eph, 0, term), direct.step(eph, 0, term)
    for f in ("serving_sat", "gateway", "pop", "isl_hops", "rtt_ms", "status"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    with_inf = load_network(app, spec(model="none", infer=True))
    assert len(with_inf.inferred_gateways) == 0  # the 'none' model infers nothing
    calibrated = load_network(app, spec())
    assert calibrated.inferred_gateways.id.tolist() == ["inferred-jhngzaf1"]


def test_calibrate_recovers_the_model_that_made_the_data(app, tmp_path):
    truth = NamedLatencyModel(
        "truth", "1",
        LatencyModel(route_factor=1.3, overhead_ms=8.0, laser_hop_ms=1.0, backbone=True,
                     scheduling=SchedulingDelay(9.0, 0.3)),
        infer_radius_km=300.0,
    )  # fmt: skip
    path = truth.save(tmp_path / "truth.json")
    made = validate(app, DATA / "metrics.csv", network=spec(model=str(path)), window=WINDOW)
    metrics = tmp_path / "made.csv"
    with metrics.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iso3", "latency_ms_p50", "latency_ms_worse20", "latency_ms_better20"])
        for r in made.countries:
            w.writerow([r.iso3, r.predicted_p50_ms, r.predicted_p80_ms, r.predicted_p20_ms])
    grid = {"infer_radius_km": [None, 300.0], "route_factor": [1.3], "laser_hop_ms": [0.0, 1.0]}
    run = calibrate(
        app, metrics, network=spec(), out=tmp_path / "fitted.json", name="fitted", version="7",
        folds=3, grid=grid, window=WINDOW,
    )  # fmt: skip
    m = load_latency_model(run.out)
    assert m.label == "fitted@7" and m.infer_radius_km == 300.0
    lat = m.latency
    assert lat.overhead_ms + lat.scheduling.median_ms == pytest.approx(17.0, abs=1.0)
    assert m.cross_validation["in_sample"]["p50"]["mae_ms"] < 0.5
    assert m.cross_validation["folds"] == 3 and len(m.cross_validation["countries"]) == 6
    assert m.fitted_on["metrics"]["countries"] == 6 and m.fitted_on["left_out"] == {}
    with pytest.raises(InputError, match="exists"):
        calibrate(app, metrics, network=spec(), out=run.out, grid=grid, window=WINDOW, folds=3)
    with pytest.raises(InputError, match="--folds"):
        calibrate(app, metrics, network=spec(), out=None, grid=grid, window=WINDOW, folds=40)
    with pytest.raises(InputError, match="route factors"):
        calibrate(
            app, metrics, network=spec(), out=None, grid={"route_factor": [0.5]}, window=WINDOW
        )
    with pytest.raises(InputError, match="gateway elevation masks"):
        calibrate(
            app, metrics, network=spec(), out=None, grid={"gateway_min_elevation_deg": [95.0]},
            window=WINDOW,
        )  # fmt: skip


def test_gateway_mask_decides_which_satellite_can_land_traffic():
    """Hand-worked: a satellite 550 km above (0°, 0°) is seen from a gateway at (0°, 5°) at
    40.9° (equatorial plane: d = (a + 550 - a cos 5°, -a sin 5°), sin e = d·up / |d|), so a
    40° gateway mask lands the terminal's traffic there and a 42° mask leaves it no route."""
    from skyfence.geodesy import WGS84_A_KM
    from skyfence.links import STATUS_OK, SatelliteLayout

    a = WGS84_A_KM
    th = np.radians(5.0)
    d = np.array([a + 550.0 - a * np.cos(th), -a * np.sin(th)])
    elev = np.degrees(np.arcsin(d @ np.array([np.cos(th), np.sin(th)]) / np.linalg.norm(d)))
    assert elev == pytest.approx(40.9, abs=0.05)
    sat = np.array([[a + 550.0, 0.0, 0.0]])
    term = GroundSites.from_arrays([0.0], [0.0])
    gw = GroundSites.from_arrays([0.0], [5.0], kind="gateway")
    pop = GroundSites.from_arrays([0.0], [5.0], kind="pop")
    layout = SatelliteLayout.walker([(1, 1)])
    low = NetworkModel(layout, gw, pop, gateway_min_elevation_deg=elev - 0.5).step(sat, None, term)
    high = NetworkModel(layout, gw, pop, gateway_min_elevation_deg=elev + 0.5).step(sat, None, term)
    assert low.status[0] == STATUS_OK and low.gateway[0] == 0
    assert high.status[0] != STATUS_OK and np.isnan(high.rtt_ms[0])


def test_calibrate_runs_the_network_once_per_gateway_mask(app, tmp_path):
    """Each candidate mask is its own network run (the runs are cached by what changes
    routes), and the chosen mask is written with the model and its parameter rows."""
    grid = {
        "infer_radius_km": [300.0], "route_factor": [1.3], "laser_hop_ms": [1.0],
        "gateway_min_elevation_deg": [25.0, 70.0],
    }  # fmt: skip
    run = calibrate(
        app, DATA / "metrics.csv", network=spec(), out=tmp_path / "fitted.json", folds=3,
        grid=grid, window=WINDOW,
    )  # fmt: skip
    assert run.timing["network_runs"] == 2
    m = load_latency_model(run.out)
    assert m.gateway_min_elevation_deg in (25.0, 70.0)
    assert m.fitted_on["grid"]["gateway_min_elevation_deg"] == [25.0, 70.0]
    rows = {p["name"]: p["value"] for p in m.parameters}
    assert rows["gateway_min_elevation_deg"] == m.gateway_min_elevation_deg


def test_the_model_gateway_mask_reaches_every_network(app, tmp_path):
    masked = NamedLatencyModel("masked", "1", LatencyModel(), gateway_min_elevation_deg=45.0)
    path = masked.save(tmp_path / "masked.json")
    net = load_network(app, spec(model=str(path)))
    assert np.all(net.model.gateway_min_elevation_deg == 45.0)
    plain = load_network(app, spec(model="none"))
    assert np.all(plain.model.gateway_min_elevation_deg == 25.0)  # the network's default
    # an explicit option still wins over the model
    forced = load_network(app, spec(model=str(path)), gateway_min_elevation_deg=30.0)
    assert np.all(forced.model.gateway_min_elevation_deg == 30.0)


# ----------------------------------------------------------------------------- real data
def real_spec(shared_data, model=None, infer=True):
    return NetworkSpec(
        str(shared_data / "starlink-2026-02-22.tle"), shared_data / "starlink-gateways.csv",
        shared_data / "starlink-pops-2026.csv", shared_data / "starlink-city-pops.csv",
        latency_model=model, infer_gateways=infer,
    )  # fmt: skip


@pytest.mark.slow
def test_real_validation_reproduces_the_shipped_figures(app, shared_data):
    """The shipped model, run by ``validate`` on the data it was fitted on, gives the in-sample
    figures its file records; its cross-validated figures are the honest ones."""
    m = load_latency_model()
    rep = validate(
        app, shared_data / "starlink-latency-2026-03.csv", network=real_spec(shared_data)
    )
    assert rep.summary["p50"]["n"] == m.fitted_on["metrics"]["countries"]
    for level in ("p20", "p50", "p80"):
        assert rep.summary[level]["mae_ms"] == pytest.approx(
            m.cross_validation["in_sample"][level]["mae_ms"], abs=0.02
        )
    cv = m.cross_validation["scores"]["p50"]
    assert cv["rank_correlation"] >= 0.7
    assert cv["mae_ms"] <= 6.0  # the target of 5 ms is not reached: see docs/fidelity.md
    ids = {g["id"] for g in rep.inferred_gateways}
    assert "inferred-jhngzaf1" in ids and "inferred-nrbiken1" in ids
    assert not any("krcipak1" in i for i in ids)  # Karachi: Pakistan has no customers
    by = {r.iso3: r for r in rep.countries}
    assert abs(by["BWA"].error_p50_ms) < 8.0 and by["BWA"].inferred_gateway_share == 1.0


def test_a_city_homed_on_several_pops_is_one_place_per_pop(app, tmp_path):
    """The customer table's ``pops`` column splits a city's subnets between PoPs: each PoP
    gets its own place, weighted by its subnets (the majority PoP first)."""
    p = tmp_path / "city-pops.csv"
    p.write_text(
        "country,region,city,latitude_deg,longitude_deg,pop,pops\n"
        "BW,BW-SE,Gaborone,-24.66,25.91,jhngzaf1,lgosnga1:1;jhngzaf1:3\n"
        "BW,BW-NE,Francistown,-21.17,27.51,jhngzaf1,jhngzaf1\n"
    )
    places, _ = representative_places(["BW"], p, app.world)
    assert [(x.name, x.pop, x.weight) for x in places] == [
        ("Gaborone", "jhngzaf1", 3.0),
        ("Gaborone", "lgosnga1", 1.0),
        ("Francistown", "jhngzaf1", 1.0),  # no count in the field: the pop column, weight 1
    ]
    assert places[0].latitude_deg == places[1].latitude_deg
