"""Hypatia compatibility: a 72x22 +Grid directory written here the way Hypatia's generator does,
imported and routed; paths checked hop by hop; networkx as the reference; export round trip."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from sgp4.api import WGS72, Satrec, jday
from sgp4.exporter import export_tle

from skyfence.errors import NotFoundError, ParseError
from skyfence.geodesy import SPEED_OF_LIGHT_KM_S
from skyfence.ground import GroundSites, cities, geodetic_to_ecef_km
from skyfence.links import read_hypatia, write_hypatia
from skyfence.orbits import Constellation, ShellInfo

N_ORBITS, N_PER = 72, 22
STATIONS = [("Tokyo", 35.68, 139.69), ("Delhi", 28.70, 77.10), ("Shanghai", 31.23, 121.47),
            ("Sao-Paulo", -23.55, -46.63), ("Mexico-City", 19.43, -99.13), ("Cairo", 30.04, 31.24),
            ("London", 51.51, -0.13), ("New-York", 40.71, -74.01)]  # fmt: skip


def checksum(line: str) -> int:
    return sum(int(ch) if ch.isdigit() else (1 if ch == "-" else 0) for ch in line[:68]) % 10


def write_hypatia_dir(d):
    """Hypatia's Starlink-550 shell: 72x22, 53°, 13.66 rev/day... written like satgenpy does."""
    mean_motion = 15.19
    jd, fr = jday(2000, 1, 1, 0, 0, 0)
    with open(d / "tles.txt", "w") as f:
        f.write(f"{N_ORBITS} {N_PER}\n")
        k = 0
        for orbit in range(N_ORBITS):
            raan = orbit * 360.0 / N_ORBITS
            shift = 360.0 / (N_PER * 2.0) if orbit % 2 == 1 else 0.0
            for n in range(N_PER):
                sat = Satrec()
                sat.sgp4init(WGS72, "i", k + 1, (jd + fr) - 2433281.5, 0.0, 0.0, 0.0, 0.0000001, 0.0,
                             math.radians(53.0), math.radians(shift + n * 360 / N_PER),
                             mean_motion * 60 / 13750.9870831397, math.radians(raan))  # fmt: skip
                l1, l2 = export_tle(sat)
                l1 = l1[:7] + "U 00000ABC 00001.00000000 " + l1[33:]
                l1 = l1[:68] + str(checksum(l1))
                f.write(f"Starlink-550 {k}\n{l1}\n{l2}\n")
                k += 1
    with open(d / "isls.txt", "w") as f:
        for i in range(N_ORBITS):
            for j in range(N_PER):
                sat = i * N_PER + j
                f.write(f"{sat} {i * N_PER + (j + 1) % N_PER}\n")
                f.write(f"{sat} {((i + 1) % N_ORBITS) * N_PER + j}\n")
    with open(d / "ground_stations.txt", "w") as f:
        for gid, (name, lat, lon) in enumerate(STATIONS):
            x, y, z = geodetic_to_ecef_km(lat, lon, 0.0) * 1000.0
            f.write(f"{gid},{name},{lat},{lon},0.0,{x},{y},{z}\n")
    (d / "description.txt").write_text(
        "max_gsl_length_m=1089686.4181956202\nmax_isl_length_m=5016591.2330984278\n"
    )


@pytest.fixture(scope="module")
def hyp_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("starlink_550_isls_plus_grid")
    write_hypatia_dir(d)
    return d


def test_read(hyp_dir):
    net = read_hypatia(hyp_dir)
    assert (net.n_orbits, net.n_sats_per_orbit, net.n_sats) == (72, 22, 1584)
    assert len(net.isls) == 2 * 1584
    assert net.max_gsl_length_km == pytest.approx(1089.6864181956202)
    assert str(net.epoch) == "2000-01-01T00:00:00.000000000"
    assert list(net.stations.name[:2]) == ["Tokyo", "Delhi"]


@pytest.mark.parametrize("at_s", [0.0, 100.0])
def test_routes_are_valid_and_shortest(hyp_dir, at_s):
    net = read_hypatia(hyp_dir)
    S = net.n_sats
    pos = net.positions_ecef_km(at_s)[:, 0, :]
    # independent positions for a few satellites straight from the TLE lines
    for k in (0, 700, 1583):
        sat = Satrec.twoline2rv(*net.tle_lines[k])
        assert np.all(np.isfinite(pos[k])) and sat.satnum == k + 1
    gs = net.stations_ecef_km
    isl = {tuple(sorted(e)) for e in net.isls.tolist()}
    g = nx.Graph()
    for a, b in net.isls:
        g.add_edge(int(a), int(b), weight=float(np.linalg.norm(pos[a] - pos[b])))
    for gid in range(len(gs)):
        d = np.linalg.norm(pos - gs[gid], axis=1)
        for s in np.flatnonzero(d <= net.max_gsl_length_km):
            g.add_edge(("gs", gid), int(s), weight=float(d[s]))
    pairs = [(0, 1), (0, 2), (3, 4), (5, 6), (6, 7), (1, 5)]
    for a, b in pairs:
        r = net.route(a, b, at_s)
        # Hypatia never relays through ground stations: remove the other stations
        h = g.subgraph([n for n in g.nodes if not (isinstance(n, tuple) and n[1] not in (a, b))])
        ref = nx.dijkstra_path_length(h, ("gs", a), ("gs", b))
        assert r.length_km == pytest.approx(ref, rel=1e-12)
        assert r.rtt_ms == pytest.approx(2 * ref / SPEED_OF_LIGHT_KM_S * 1000)
        p = r.path
        assert p[0] == S + a and p[-1] == S + b
        sats = p[1:-1]
        assert all(0 <= s < S for s in sats)
        for x, y in zip(sats[:-1], sats[1:], strict=True):
            assert (min(x, y), max(x, y)) in isl
        assert np.linalg.norm(pos[sats[0]] - gs[a]) <= net.max_gsl_length_km
        assert np.linalg.norm(pos[sats[-1]] - gs[b]) <= net.max_gsl_length_km
        seg = np.linalg.norm(pos[sats[0]] - gs[a]) + np.linalg.norm(pos[sats[-1]] - gs[b])
        seg += sum(
            np.linalg.norm(pos[x] - pos[y]) for x, y in zip(sats[:-1], sats[1:], strict=True)
        )
        assert seg == pytest.approx(r.length_km, rel=1e-12)
    assert net.route("Tokyo", "Delhi", at_s).path == net.route(0, 1, at_s).path


def test_errors(tmp_path, hyp_dir):
    with pytest.raises(NotFoundError, match="tles.txt"):
        read_hypatia(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("tles.txt", "isls.txt", "description.txt"):
        (bad / name).write_text((hyp_dir / name).read_text())
    (bad / "ground_stations.txt").write_text("0,A,1,2\n")
    with pytest.raises(ParseError, match="ground_stations.txt line 1: expected 5 columns"):
        read_hypatia(bad)
    (bad / "ground_stations.txt").write_text("1,A,1,2,0\n")
    with pytest.raises(ParseError, match="gid must count up"):
        read_hypatia(bad)
    (bad / "ground_stations.txt").write_text("0,A,1,2,0\n")
    (bad / "isls.txt").write_text("0 99999\n")
    with pytest.raises(ParseError, match="isls.txt line 1"):
        read_hypatia(bad)
    net = read_hypatia(hyp_dir)
    with pytest.raises(NotFoundError):
        net.route(0, 99)


def test_export_round_trip(tmp_path):
    c = Constellation.from_shells([ShellInfo("s", 550.0, 53.0, 24, 12, 5)])
    table = cities()
    st = table.subset([table.index_of(n) for n in ("London", "Madrid", "Warsaw")])
    out = write_hypatia(c, tmp_path / "net", st, name="sky")
    net = read_hypatia(out)
    assert net.n_sats == 288 and (net.n_orbits, net.n_sats_per_orbit) == (24, 12)
    assert len(net.isls) == 2 * 288
    # the description's limits: slant range at 25° and the 80 km grazing limit
    assert 1050 < net.max_gsl_length_km < 1200
    assert 5000 < net.max_isl_length_km < 5100
    # positions read back agree with the constellation's own propagation (TLE rounding only)
    t = net.epoch + np.timedelta64(60, "s")
    ours = c.propagate(np.array([t])).at(0)
    theirs = net.positions_ecef_km(60.0)[:, 0, :]
    assert np.max(np.linalg.norm(ours - theirs, axis=1)) < 1.0
    r = net.route("London", "Warsaw", 60.0)
    assert np.isfinite(r.rtt_ms) and len(r.path) >= 3
    assert np.allclose(net.stations.latitude_deg, st.latitude_deg, atol=1e-6)
    assert isinstance(net.stations, GroundSites)
