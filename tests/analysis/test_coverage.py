"""Coverage per cell against hand computations and physical expectations."""

from concurrent.futures import ThreadPoolExecutor

import h3
import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely

from skyfence.analysis.coverage import Coverage, cell_centres, compute_coverage
from skyfence.analysis.sharding import run_shards, time_shards
from skyfence.geodesy import WGS84_A_KM
from skyfence.ground import GroundSites
from skyfence.links import NetworkModel, SatelliteLayout
from skyfence.orbits import Constellation, Ephemeris
from skyfence.timeutil import time_grid

ALT_KM = 550.0
MASK_DEG = 25.0


class EquatorSatellite:
    """One hand-placed satellite at 550 km over the equator, moving east 0.5° per step."""

    shell_id = np.array([-1])
    plane_id = np.array([-1])
    slot_id = np.array([-1])
    shells: list = []

    def __init__(self, t0, step_s):
        self.t0, self.step_s = np.datetime64(t0, "ns"), step_s

    def __len__(self):
        return 1

    def sub_longitude_deg(self, times):
        k = (np.asarray(times) - self.t0) / np.timedelta64(1, "s") / self.step_s
        return -10.0 + 0.5 * k

    def propagate(self, times):
        lon = np.radians(self.sub_longitude_deg(times))
        r = WGS84_A_KM + ALT_KM
        pos = np.stack([r * np.cos(lon), r * np.sin(lon), np.zeros_like(lon)], axis=-1)
        return Ephemeris(times=times, positions_ecef_km=pos[None, :, :])


def _one_site(kind, lat, lon):
    return GroundSites.from_arrays([lat], [lon], kind=kind, country="XX")


def test_single_satellite_coverage_matches_hand_computation():
    t = time_grid("2026-02-22T00:00:00Z", 40 * 15, 15)  # 41 steps, satellite from -10° to +10°
    sat = EquatorSatellite(t[0], 15)
    model = NetworkModel(
        SatelliteLayout.from_constellation(sat), _one_site("gateway", 0.0, 0.0),
        _one_site("pop", 0.0, 0.0), gateway_min_elevation_deg=0.0, use_isls=False,
    )  # fmt: skip
    # cells along and near the equator between -8° and 8° longitude
    cells = np.unique(
        [
            h3.str_to_int(h3.latlng_to_cell(la, lo, 4))
            for la in (-2.0, 0.0, 1.5)
            for lo in np.arange(-8, 8.1, 1.0)
        ]
    ).astype(np.uint64)
    cov = compute_coverage(cells, t, constellation=sat, model=model, steps_per_shard=7)
    # hand computation on a sphere of the equatorial radius: elevation >= 25° <=> the central
    # angle between the cell centre and the sub-satellite point is <= lambda
    r, h, eps = WGS84_A_KM, ALT_KM, np.radians(MASK_DEG)
    lam = np.arccos(r * np.cos(eps) / (r + h)) - eps
    lat, lon = cell_centres(cells)
    sub = np.radians(sat.sub_longitude_deg(t))
    cosang = np.cos(np.radians(lat))[:, None] * np.cos(np.radians(lon)[:, None] - sub[None, :])
    angle = np.arccos(np.clip(cosang, -1, 1))
    clear = np.abs(angle - lam) > np.radians(
        0.05
    )  # steps not on the mask edge (ellipsoid vs sphere)
    expected = angle <= lam
    assert np.array_equal(cov.served[clear], expected[clear])
    assert clear.mean() > 0.9
    # bent pipe through the gateway at (0, 0): RTT = 2 x (up + down) / c, checked per step
    assert np.all(cov.rtt_ms[cov.served] > 4 * ALT_KM / 299_792.458 * 1000)
    # one satellite: visible count is 0 or 1, and no handovers
    assert set(np.unique(cov.n_visible)) <= {0, 1}
    assert np.all(cov.handovers_per_hour == 0)
    frac = cov.served_fraction
    assert np.allclose(frac[clear.all(axis=1)], expected[clear.all(axis=1)].mean(axis=1))


def _cells_at(lat, lons, res=3):
    return np.asarray(
        [h3.str_to_int(h3.latlng_to_cell(lat, lo, res)) for lo in lons], dtype=np.uint64
    )


def _mean_visible(constellation, lat):
    lons = np.linspace(-180, 170, 36)
    cells = _cells_at(lat, lons)
    model = NetworkModel(constellation, _one_site("gateway", 0.0, 0.0), _one_site("pop", 0.0, 0.0))
    t = time_grid("2026-02-22T00:00:00Z", 20 * 60, 120)
    cov = compute_coverage(cells, t, constellation=constellation, model=model)
    return float(cov.mean_visible.mean())


@pytest.mark.slow
def test_gen1_sees_more_satellites_at_50_degrees_than_at_the_equator():
    gen1 = Constellation.from_preset("starlink-gen1")
    assert _mean_visible(gen1, 50.0) > 1.3 * _mean_visible(gen1, 0.0)


@pytest.mark.slow
def test_kuiper_has_no_satellites_near_the_pole():
    kuiper = Constellation.from_preset("kuiper")
    assert _mean_visible(kuiper, 85.0) == 0.0
    assert _mean_visible(kuiper, 40.0) > 5


def test_shards_merge_identically_with_and_without_executor():
    t = time_grid("2026-02-22T00:00:00Z", 20 * 15, 15)
    sat = EquatorSatellite(t[0], 15)
    model = NetworkModel(
        SatelliteLayout.from_constellation(sat), _one_site("gateway", 0.0, 0.0),
        _one_site("pop", 0.0, 0.0), gateway_min_elevation_deg=0.0, use_isls=False,
    )  # fmt: skip
    cells = _cells_at(0.0, np.arange(-10, 10.1, 2.0), res=4)
    a = compute_coverage(cells, t, constellation=sat, model=model, steps_per_shard=21)
    with ThreadPoolExecutor(2) as pool:
        b = compute_coverage(
            cells, t, constellation=sat, model=model, steps_per_shard=4, executor=pool
        )
    for name in ("served", "n_visible", "serving_sat", "gateway", "pop"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.allclose(a.rtt_ms, b.rtt_ms, equal_nan=True)
    assert np.array_equal(a.times, b.times)


def test_run_shards_order_and_progress():
    seen = []
    out = run_shards(lambda s: int(s.sum()), time_shards(np.arange(10), 3),
                     progress=lambda d, n: seen.append((d, n)))  # fmt: skip
    assert out == [3, 12, 21, 9]
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)


def _toy_coverage():
    cells = _cells_at(0.0, [0.0, 1.0, 2.0], res=4)
    lat, lon = cell_centres(cells)
    served = np.array([[True, True, False, True], [False] * 4, [True] * 4])
    sat = np.array([[1, 2, -1, 2], [-1] * 4, [5, 5, 5, 5]])
    rtt = np.where(served, np.array([[10, 20, 0, 30], [0] * 4, [5, 6, 7, 8]]), np.nan).astype(
        np.float32
    )
    g = GroundSites.from_arrays([0.0, 1.0], [0.0, 1.0], kind="gateway", country=["AA", "BB"])
    gw = np.where(served, np.array([[0, 0, -1, 1], [-1] * 4, [1, 1, 1, 1]]), -1)
    return Coverage(
        cells=cells, latitude_deg=lat, longitude_deg=lon,
        times=time_grid("2026-02-22T00:00:00Z", 45, 15), step_s=15.0, served=served,
        n_visible=served.astype(np.uint16) * 3, rtt_ms=rtt, serving_sat=sat, gateway=gw,
        pop=np.where(served, 0, -1), gateways=g, pops=_one_site("pop", 0.0, 0.0),
    )  # fmt: skip


def test_statistics_on_a_hand_made_table():
    cov = _toy_coverage()
    assert np.allclose(cov.served_fraction, [0.75, 0.0, 1.0])
    assert cov.rtt_p50_ms[0] == pytest.approx(20.0)
    assert np.isnan(cov.rtt_p50_ms[1])
    # 4 steps of 15 s = 1/60 h; cell 0 changes satellite 1 -> 2 once (the gap is not a change)
    assert cov.handovers_per_hour[0] == pytest.approx(60.0)
    assert cov.handovers_per_hour[2] == 0.0
    usage = cov.usage("gateway")
    assert [u["country"] for u in usage] == ["BB", "AA"]
    assert usage[0]["cell_steps"] == 5 and usage[1]["cell_steps"] == 2


def test_geojson_and_geoparquet_outputs(tmp_path):
    import json

    cov = _toy_coverage()
    gj = json.loads(cov.to_geojson(tmp_path / "c.geojson").read_text())
    assert len(gj["features"]) == 3
    pq_path = cov.to_parquet(tmp_path / "c.parquet")
    table = pq.read_table(pq_path)
    assert json.loads(table.schema.metadata[b"geo"])["primary_column"] == "geometry"
    polys = shapely.from_wkb(table.column("geometry").to_pylist())
    assert all(
        shapely.contains_xy(p, lo, la)
        for p, la, lo in zip(polys, cov.latitude_deg, cov.longitude_deg, strict=True)
    )
    assert table.column("served_fraction").to_pylist() == pytest.approx([0.75, 0.0, 1.0])
