"""Hypatia compatibility: read and write a Hypatia satellite-network directory and compute its
ground-station-to-ground-station RTTs with Hypatia's own rules.

Format (``satgenpy``):

* ``tles.txt``: first line ``<n_orbits> <n_sats_per_orbit>``, then per satellite a name line
  ``<constellation name> <satellite id>`` and TLE lines 1 and 2; all TLEs share one epoch.
* ``isls.txt``: lines ``a b`` (satellite ids, zero-based).
* ``ground_stations.txt``: ``gid,name,latitude,longitude,elevation_m`` (basic, 5 columns) or
  with ``,x,y,z`` in metres appended (extended, 8 columns); gids 0, 1, 2, ... in order.
* ``description.txt``: ``max_gsl_length_m=<m>`` and ``max_isl_length_m=<m>`` lines.

Hypatia's rules, as implemented here: a ground station reaches every satellite whose straight-line
distance is ≤ ``max_gsl_length_m`` (no elevation test); satellites route over the ISLs of
``isls.txt``; the path is the shortest by length; ground stations are never relays; the RTT is the
path length both ways at c. Positions come from SGP4 (Hypatia uses pyephem's SGP4 too, so paths
agree and lengths agree to a few km); the ground stations' Cartesian coordinates are taken from
the extended file when given, otherwise computed on WGS84.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import ConfigurationError, InputError, NotFoundError, ParseError
from skyfence.geodesy import WGS84_A_KM, geodetic_to_ecef_km
from skyfence.ground.sites import GroundSites
from skyfence.links.isl import SatelliteLayout, max_isl_length_km, plus_grid
from skyfence.links.latency import SPEED_OF_LIGHT_KM_S
from skyfence.links.search import shortest_ground_path
from skyfence.links.visibility import max_slant_range_km

__all__ = ["HypatiaNetwork", "HypatiaRoute", "read_hypatia", "write_hypatia"]


@dataclass(frozen=True)
class HypatiaRoute:
    """A GS-to-GS route: ``rtt_ms``, one-way ``length_km``, ``path`` as Hypatia node ids (sats
    ``0..S-1``, ground stations ``S + gid``); ``path`` empty and NaN RTT when unreachable."""

    rtt_ms: float
    length_km: float
    path: list[int]


@dataclass(frozen=True)
class HypatiaNetwork:
    """A Hypatia directory in memory."""

    n_orbits: int
    n_sats_per_orbit: int
    names: list[str]
    tle_lines: list[tuple[str, str]]
    isls: np.ndarray  # (E, 2) int64
    stations: GroundSites
    stations_ecef_km: np.ndarray  # (G, 3)
    max_gsl_length_km: float
    max_isl_length_km: float
    epoch: np.datetime64

    @property
    def n_sats(self) -> int:
        return len(self.tle_lines)

    def positions_ecef_km(self, seconds: np.ndarray | float) -> np.ndarray:
        """Earth-fixed satellite positions ``(S, T, 3)`` at ``seconds`` after the TLE epoch."""
        from sgp4.api import Satrec, SatrecArray

        from skyfence.orbits.frames import gmst_rad, teme_to_ecef
        from skyfence.timeutil import to_jd_pair

        sec = np.atleast_1d(np.asarray(seconds, dtype=np.float64))
        times = self.epoch + np.round(sec * 1e9).astype("int64").astype("timedelta64[ns]")
        jd, fr = to_jd_pair(times)
        arr = SatrecArray([Satrec.twoline2rv(a, b) for a, b in self.tle_lines])
        err, r, _ = arr.sgp4(jd, fr)
        r = np.where((err == 0)[..., None], r, np.nan)
        pos, _ = teme_to_ecef(r, gmst_rad(jd, fr))
        return pos

    def station(self, key: str | int) -> int:
        """Ground-station gid by gid or name."""
        if isinstance(key, int) or str(key).strip().isdigit():
            g = int(key)
            if not 0 <= g < len(self.stations):
                raise NotFoundError(f"no ground station {g}; gids are 0..{len(self.stations) - 1}")
            return g
        return self.stations.index_of(str(key))

    def route(self, src: str | int, dst: str | int, at_s: float = 0.0) -> HypatiaRoute:
        """Shortest GS-to-GS path at ``at_s`` seconds after the epoch, Hypatia's rules."""
        a, b = self.station(src), self.station(dst)
        pos = self.positions_ecef_km(at_s)[:, 0, :]
        S = self.n_sats
        gs = self.stations_ecef_km
        da = np.linalg.norm(pos - gs[a], axis=1)
        db = np.linalg.norm(pos - gs[b], axis=1)
        va = np.flatnonzero(da <= self.max_gsl_length_km)
        vb = np.flatnonzero(db <= self.max_gsl_length_km)
        e = self.isls
        length = np.linalg.norm(pos[e[:, 0]] - pos[e[:, 1]], axis=1)
        ok = np.isfinite(length)
        length_km, sats = shortest_ground_path(S, e[ok], length[ok], va, da[va], vb, db[vb])
        if not sats:
            return HypatiaRoute(float("nan"), float("nan"), [])
        return HypatiaRoute(
            2.0 * length_km / SPEED_OF_LIGHT_KM_S * 1000.0, length_km, [S + a, *sats, S + b]
        )


def _read_description(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or "=" not in line:
            continue
        k, v = line.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise ParseError(
                f"{k.strip()} = {v.strip()!r} is not a number", source=str(path), line=n
            ) from None
    for key in ("max_gsl_length_m", "max_isl_length_m"):
        if key not in out:
            raise ParseError(f"missing {key}=<metres>", source=str(path))
    return out


def read_hypatia(directory: str | Path) -> HypatiaNetwork:
    """Read a Hypatia satellite-network directory (see the module docs for the format)."""
    from sgp4.api import Satrec

    from skyfence.timeutil import parse_time

    d = Path(directory)
    if not d.is_dir():
        raise NotFoundError(f"Hypatia directory {d} does not exist")
    for name in ("tles.txt", "isls.txt", "ground_stations.txt", "description.txt"):
        if not (d / name).exists():
            raise NotFoundError(
                f"{d} has no {name}; a Hypatia network directory needs tles.txt, isls.txt, ground_stations.txt, description.txt"
            )
    lines = (d / "tles.txt").read_text().splitlines()
    src = str(d / "tles.txt")
    try:
        n_orbits, n_per = (int(x) for x in lines[0].split())
    except (ValueError, IndexError):
        raise ParseError(
            "first line must be '<n_orbits> <n_sats_per_orbit>'", source=src, line=1
        ) from None
    body = [ln for ln in lines[1:] if ln.strip()]
    if len(body) % 3:
        raise ParseError("expected name, line 1, line 2 for every satellite", source=src)
    names, tles, epochs = [], [], []
    for k in range(0, len(body), 3):
        name, l1, l2 = body[k], body[k + 1], body[k + 2]
        parts = name.split()
        if len(parts) < 2 or not parts[-1].isdigit() or int(parts[-1]) != k // 3:
            raise ParseError(
                f"name line must end with the satellite id {k // 3}, got {name!r}",
                source=src,
                line=k + 2,
            )
        try:
            sat = Satrec.twoline2rv(l1, l2)
        except ValueError as exc:
            raise ParseError(f"bad TLE: {exc}", source=src, line=k + 3) from None
        names.append(name.strip())
        tles.append((l1, l2))
        epochs.append(sat.jdsatepoch + sat.jdsatepochF)
    if not tles:
        raise ParseError("no satellites", source=src)
    if np.ptp(epochs) > 1e-8:
        raise ParseError("all TLEs must share one epoch (Hypatia's rule)", source=src)
    sat0 = Satrec.twoline2rv(*tles[0])
    epoch_ns = int(round((sat0.jdsatepoch - 2440587.5) * 86400e9 + sat0.jdsatepochF * 86400e9))
    epoch = parse_time(np.datetime64(epoch_ns, "ns"))
    isl_rows = []
    isrc = str(d / "isls.txt")
    for n, ln in enumerate((d / "isls.txt").read_text().splitlines(), start=1):
        if not ln.strip():
            continue
        try:
            a, b = (int(x) for x in ln.split())
        except ValueError:
            raise ParseError(f"expected 'a b', got {ln!r}", source=isrc, line=n) from None
        if not (0 <= a < len(tles) and 0 <= b < len(tles)) or a == b:
            raise ParseError(
                f"satellite ids must be distinct and within 0..{len(tles) - 1}", source=isrc, line=n
            )
        isl_rows.append((a, b))
    isls = np.asarray(isl_rows, dtype=np.int64).reshape(-1, 2)
    gsrc = str(d / "ground_stations.txt")
    lat, lon, elev, nm, xyz = [], [], [], [], []
    for n, ln in enumerate((d / "ground_stations.txt").read_text().splitlines(), start=1):
        if not ln.strip():
            continue
        f = ln.split(",")
        if len(f) not in (5, 8):
            raise ParseError(
                f"expected 5 columns (gid,name,lat,lon,elevation_m) or 8 (+x,y,z), got {len(f)}",
                source=gsrc,
                line=n,
            )
        try:
            gid, la, lo, el = int(f[0]), float(f[2]), float(f[3]), float(f[4])
            if len(f) == 8:
                xyz.append([float(f[5]), float(f[6]), float(f[7])])
        except ValueError:
            raise ParseError(
                "gid, latitude, longitude, elevation (and x, y, z) must be numbers",
                source=gsrc,
                line=n,
            ) from None
        if gid != len(lat):
            raise ParseError(
                f"gid must count up from 0; expected {len(lat)}, got {gid}", source=gsrc, line=n
            )
        if not (abs(la) <= 90 and abs(lo) <= 180):
            raise ParseError(f"latitude {la} / longitude {lo} out of range", source=gsrc, line=n)
        lat.append(la)
        lon.append(lo)
        elev.append(el)
        nm.append(f[1].strip())
    stations = GroundSites.from_arrays(
        np.asarray(lat), np.asarray(lon), kind="terminal", altitude_m=np.asarray(elev),
        name=nm, id=[str(i) for i in range(len(lat))], source=gsrc,
    )  # fmt: skip
    if xyz and len(xyz) == len(lat):
        st_ecef = np.asarray(xyz) / 1000.0
    else:
        st_ecef = geodetic_to_ecef_km(
            stations.latitude_deg, stations.longitude_deg, stations.altitude_m / 1000.0
        )
    desc = _read_description(d / "description.txt")
    return HypatiaNetwork(
        n_orbits, n_per, names, tles, isls, stations, st_ecef.reshape(-1, 3),
        desc["max_gsl_length_m"] / 1000.0, desc["max_isl_length_m"] / 1000.0, epoch,
    )  # fmt: skip


def write_hypatia(
    constellation: Any,
    directory: str | Path,
    stations: GroundSites,
    *,
    name: str = "skyfence",
    min_elevation_deg: float = 25.0,
    grazing_altitude_km: float = 80.0,
    max_lasers: int = 4,
) -> Path:
    """Write ``constellation`` (its operational satellites in shells) as a Hypatia directory.

    ISLs are skyfence's +Grid at the element epoch; ``max_gsl_length_m`` is the slant range at
    ``min_elevation_deg`` for the highest shell and ``max_isl_length_m`` the grazing-altitude
    limit. All element sets must share one epoch (Hypatia's rule). The header line carries the
    first shell's planes and satellites per plane (Hypatia uses it only to generate its own grid).
    """
    from skyfence.orbits.formats import format_elements

    es = constellation.elements
    keep = np.flatnonzero(np.asarray(constellation.shell_id) >= 0)
    if len(keep) == 0:
        raise ConfigurationError("the constellation has no satellites in a shell to export")
    es = es[keep]
    if len(np.unique(es.epochs)) != 1:
        raise ConfigurationError(
            "Hypatia needs one epoch for all TLEs, but these element sets have "
            f"{len(np.unique(es.epochs))}; export a generated constellation (a preset or Walker shells)"
        )
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    text = format_elements(es, "tle").splitlines()
    shells = list(constellation.shells)
    n_orbits = shells[0].planes if shells else 1
    n_per = shells[0].sats_per_plane if shells else len(keep)
    with open(out / "tles.txt", "w") as f:
        f.write(f"{n_orbits} {n_per}\n")
        for i in range(len(keep)):
            f.write(f"{name} {i}\n{text[2 * i]}\n{text[2 * i + 1]}\n")
    # +Grid from positions at the epoch
    net_tles = [(text[2 * i], text[2 * i + 1]) for i in range(len(keep))]
    tmp = HypatiaNetwork(
        n_orbits, n_per, [], net_tles, np.zeros((0, 2), np.int64), stations,
        stations.ecef_km, 0.0, 0.0, np.asarray(es.epochs[0], dtype="datetime64[ns]"),
    )  # fmt: skip
    pos = tmp.positions_ecef_km(0.0)[:, 0, :]
    layout = SatelliteLayout.from_constellation(constellation)
    sub = SatelliteLayout(
        layout.shell_id[keep],
        layout.plane_id[keep],
        layout.slot_id[keep],
        layout.raan_spread_deg,
        layout.names[keep],
    )
    topo = plus_grid(sub, pos, max_lasers=max_lasers)
    np.savetxt(out / "isls.txt", topo.edges, fmt="%d")
    with open(out / "ground_stations.txt", "w") as f:
        for g in range(len(stations)):
            x, y, z = stations.ecef_km[g] * 1000.0
            nm = str(stations.name[g]).replace(",", " ")
            f.write(
                f"{g},{nm},{stations.latitude_deg[g]:.6f},{stations.longitude_deg[g]:.6f},"
                f"{stations.altitude_m[g]:.1f},{x:.3f},{y:.3f},{z:.3f}\n"
            )
    r = np.linalg.norm(pos, axis=1)
    r_max = float(np.nanmax(r))
    gsl = float(max_slant_range_km(min_elevation_deg, WGS84_A_KM, r_max))
    isl = float(max_isl_length_km(r_max, r_max, grazing_altitude_km))
    if not (np.isfinite(gsl) and np.isfinite(isl)):
        raise InputError(
            "could not compute link limits: satellite positions are invalid at the epoch"
        )
    (out / "description.txt").write_text(
        f"max_gsl_length_m={gsl * 1000.0:.10f}\nmax_isl_length_m={isl * 1000.0:.10f}\n"
    )
    return out
