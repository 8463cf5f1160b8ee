"""Routing and latency per time step: which satellite serves a terminal, through which gateway
its traffic lands, at which PoP it leaves the network, and the RTT in parts.

One graph per time step: nodes are the ``S`` satellites, the ``G`` gateways and one virtual source
per (landing class, PoP) in use. Edges: lasers (both directions, length km), gateway → satellite
(slant range, for visible pairs) and virtual PoP → gateway (the fibre back-haul expressed as the
vacuum length with the same delay). One ``scipy.sparse.csgraph.dijkstra`` call from the virtual
sources gives, for every satellite, the delay to each PoP through its best gateway. Gateways have
no edges towards satellites' side in reverse, so they are never relays. A terminal's best path is
then ``min over visible satellites (slant range + cost of that satellite)``, vectorised over
terminals. Bent pipe is the zero-laser-hop case.

PoP homing: by default each terminal's traffic leaves at the nearest PoP; a :class:`PopMap`
(the nearest listed location decides, like Starlink's GeoIP table) overrides it. A landing
constraint (:class:`LandingConstraint`) restricts the gateways and PoPs each terminal may use.
"""

from __future__ import annotations

import csv
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from skyfence.errors import ConfigurationError, InputError, NotFoundError, ParseError
from skyfence.geodesy import great_circle_km
from skyfence.ground.sites import GroundSites
from skyfence.links.isl import (
    IslTopology,
    SatelliteLayout,
    active_links,
    inter_shell_links,
    plus_grid,
)
from skyfence.links.latency import LatencyModel
from skyfence.links.visibility import SiteIndex, VisiblePairs, visible_pairs

__all__ = [
    "STATUS_OK",
    "STATUS_NO_SATELLITE",
    "STATUS_NO_ROUTE",
    "PopMap",
    "LandingConstraint",
    "StepResult",
    "MeshRoute",
    "NetworkModel",
    "load_pop_map",
]

STATUS_OK, STATUS_NO_SATELLITE, STATUS_NO_ROUTE = 0, 1, 2
_SELECTIONS = ("min-rtt", "max-elevation")
_RANK_LIMIT_FACTOR = 1.25
"""Bound widening for rules that do not pick the cheapest satellite (tuned on Gen1: fewer
searches redone than at 1.0, less searched than at 1.5)."""
_MAX_RESTRICTED_SEARCHES = 8
"""Above this many laser-mesh components to search again, search the whole graph instead."""


@dataclass(frozen=True)
class PopMap:
    """Home PoP by place: each terminal is homed on the PoP of the nearest listed location.

    Attributes
    ----------
    latitude_deg, longitude_deg : (M,) float64
    pop : (M,) str
        PoP code (matched case-insensitively to the model's PoP ids).
    """

    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    pop: np.ndarray
    source: str = ""

    def home(
        self, pops: GroundSites, latitude_deg: np.ndarray, longitude_deg: np.ndarray
    ) -> np.ndarray:
        """(N,) row in ``pops`` of each point's home PoP; ``-1`` where the code is not in ``pops``."""
        ids = {str(v).lower(): i for i, v in enumerate(pops.id)}
        code_row = np.asarray([ids.get(str(c).lower(), -1) for c in self.pop], dtype=np.int64)
        if np.all(code_row < 0):
            raise ConfigurationError(
                f"none of the PoP codes in {self.source or 'the PoP map'} (e.g. {self.pop[0]!r}) is a "
                f"PoP id of the PoP table ({', '.join(map(str, pops.id[:6]))} ...); load the PoP file "
                "the map refers to (e.g. --pops starlink-pops-2026.csv)"
            )
        table = GroundSites.from_arrays(self.latitude_deg, self.longitude_deg)
        return code_row[table.nearest(latitude_deg, longitude_deg)]


def load_pop_map(path: str | Path) -> PopMap:
    """Read a PoP map CSV with columns ``latitude_deg, longitude_deg, pop`` (as Starlink's GeoIP
    city table: ``country, region, city, latitude_deg, longitude_deg, pop, pops``).

    Rows with an empty ``pop`` are skipped (the nearest listed place with a PoP decides)."""
    p = Path(path)
    try:
        rows = list(csv.DictReader(p.read_text(encoding="utf-8-sig").splitlines()))
    except FileNotFoundError:
        raise NotFoundError(f"PoP map {p} does not exist") from None
    if not rows:
        raise ParseError("no rows", source=str(p))
    for col in ("latitude_deg", "longitude_deg", "pop"):
        if col not in rows[0]:
            raise ParseError(
                f"missing column {col!r}; expected latitude_deg, longitude_deg, pop",
                source=str(p),
                line=1,
            )
    lat, lon, pop = [], [], []
    for n, r in enumerate(rows, start=2):
        try:
            la, lo = float(r["latitude_deg"]), float(r["longitude_deg"])
        except (TypeError, ValueError):
            raise ParseError(
                "latitude_deg/longitude_deg is not a number", source=str(p), line=n
            ) from None
        if not (abs(la) <= 90 and abs(lo) <= 180):
            raise ParseError(f"coordinates {la}, {lo} out of range", source=str(p), line=n)
        if not (r["pop"] or "").strip():
            continue  # a listed place without a known PoP: homed like unlisted places
        lat.append(la)
        lon.append(lo)
        pop.append(r["pop"].strip())
    if not pop:
        raise ParseError("no row has a PoP code", source=str(p))
    return PopMap(np.asarray(lat), np.asarray(lon), np.asarray(pop, dtype=object), source=p.name)


@dataclass(frozen=True)
class LandingConstraint:
    """Which gateways and PoPs each terminal may use ("traffic from X must land in X").

    Terminals are grouped in classes: ``terminal_class`` (N,) int64 indexes rows of
    ``gateway_mask`` (C, G) bool and ``pop_mask`` (C, P) bool. Use :meth:`by_country`.
    """

    terminal_class: np.ndarray
    gateway_mask: np.ndarray
    pop_mask: np.ndarray

    @classmethod
    def by_country(
        cls,
        terminals: GroundSites,
        gateways: GroundSites,
        pops: GroundSites,
        countries: list[str] | None = None,
    ) -> LandingConstraint:
        """Terminals in ``countries`` (default: every country) must land at a gateway and a PoP of
        their own country; others are unconstrained."""
        tc = np.asarray(terminals.country, dtype=str)
        codes = (
            sorted(set(tc.tolist()) - {""})
            if countries is None
            else sorted({c.upper() for c in countries})
        )
        classes = ["*", *codes]
        lookup = {c: i for i, c in enumerate(classes)}
        cls_idx = np.asarray([lookup.get(c.upper(), 0) for c in tc], dtype=np.int64)
        gc = np.asarray(gateways.country, dtype=str)
        pc = np.asarray(pops.country, dtype=str)
        gm = np.stack([np.ones(len(gateways), bool)] + [np.char.upper(gc) == c for c in codes])
        pm = np.stack([np.ones(len(pops), bool)] + [np.char.upper(pc) == c for c in codes])
        return cls(cls_idx, gm, pm)

    @classmethod
    def from_masks(
        cls, allowed_gateways: np.ndarray, allowed_pops: np.ndarray | None = None
    ) -> LandingConstraint:
        """From dense per-terminal masks (N, G) and optionally (N, P)."""
        ag = np.asarray(allowed_gateways, dtype=bool)
        ap = (
            np.ones((len(ag), 0), bool)
            if allowed_pops is None
            else np.asarray(allowed_pops, dtype=bool)
        )
        both = np.concatenate([ag, ap], axis=1)
        uniq, inv = np.unique(both, axis=0, return_inverse=True)
        g = uniq[:, : ag.shape[1]]
        p = uniq[:, ag.shape[1] :] if allowed_pops is not None else None
        return cls(
            inv.reshape(-1).astype(np.int64),
            g,
            p if p is not None else np.ones((len(uniq), 0), bool),
        )


@dataclass(frozen=True)
class StepResult:
    """The network at one instant and every terminal's best path.

    Per terminal (N,) arrays: ``serving_sat``, ``gateway``, ``pop`` (rows; ``-1`` = none),
    ``isl_hops``, ``elevation_deg``, ``range_km`` (to the serving satellite), ``rtt_ms`` and its
    parts ``rtt_space_ms``, ``rtt_fibre_ms``, ``rtt_overhead_ms`` (NaN without a route),
    ``status`` (:data:`STATUS_OK`, :data:`STATUS_NO_SATELLITE`, :data:`STATUS_NO_ROUTE`).
    Network state: ``visible`` (terminal pairs), ``gsl`` (gateway pairs), ``isl_edges`` (E, 2) and
    ``isl_length_km`` of the links up.
    """

    time: np.datetime64 | None
    serving_sat: np.ndarray
    gateway: np.ndarray
    pop: np.ndarray
    isl_hops: np.ndarray
    elevation_deg: np.ndarray
    range_km: np.ndarray
    rtt_ms: np.ndarray
    rtt_space_ms: np.ndarray
    rtt_fibre_ms: np.ndarray
    rtt_overhead_ms: np.ndarray
    status: np.ndarray
    visible: VisiblePairs
    gsl: VisiblePairs
    isl_edges: np.ndarray
    isl_length_km: np.ndarray
    _source: np.ndarray = field(repr=False)
    _pred: np.ndarray = field(repr=False)
    _n_sats: int = field(repr=False, default=0)

    def path(self, terminal: int) -> list[tuple[str, int]]:
        """Hops of a terminal's path: ``[("terminal", i), ("sat", s), ..., ("gateway", g), ("pop", p)]``."""
        s = int(self.serving_sat[terminal])
        if s < 0:
            return [("terminal", terminal)]
        hops: list[tuple[str, int]] = [("terminal", terminal)]
        src = int(self._source[terminal])
        node = s
        while node < self._n_sats:
            hops.append(("sat", node))
            node = int(self._pred[src, node])
            if node < 0:
                break
        hops.append(("gateway", int(self.gateway[terminal])))
        hops.append(("pop", int(self.pop[terminal])))
        return hops


@dataclass(frozen=True)
class MeshRoute:
    """A ground-to-ground route over the laser mesh: ``rtt_ms`` (space only), ``length_km`` (one
    way), ``sats`` (hops in order), ``up_range_km`` / ``down_range_km``; ``sats`` empty and NaN
    RTT when no route exists."""

    rtt_ms: float
    length_km: float
    sats: list[int]
    up_range_km: float
    down_range_km: float


class NetworkModel:
    """The network at any instant: visibility, lasers, routing and latency.

    Parameters
    ----------
    layout : SatelliteLayout or Constellation
        Shell/plane/slot of every satellite (a Constellation is converted).
    gateways, pops : GroundSites
    terminal_min_elevation_deg : float
        User-terminal elevation mask (25°, FCC modification of April 2021).
    gateway_min_elevation_deg : float or (G,) array
        Gateway elevation mask.
    latency : LatencyModel
        Fibre factors and the fixed overhead.
    use_isls : bool
        False = bent pipe only (terminal and gateway must see the same satellite).
    max_lasers : int
        Laser terminals per satellite.
    grazing_altitude_km, max_isl_length_km
        Laser line of sight must stay above this altitude; optional length cap.
    inter_shell : bool
        Also link free lasers to the nearest satellite of the neighbouring shell.
    pop_map : PopMap, optional
        Home PoP by place (default: nearest PoP).
    max_backhaul_km : float, optional
        Gateways farther than this (great circle) from a PoP cannot back-haul to it.
    topology : IslTopology, optional
        Planned lasers; default: +Grid from the first positions stepped.
    cluster_km : float, optional
        Kept for compatibility; no longer used. Terminal visibility uses a :class:`SiteIndex`
        of the terminals kept across steps, which gives the same result as the clustered
        tree query and is faster, also for dense terminal sets such as H3 cell centres.
    search_limit : bool
        Bound each PoP's Dijkstra by 1.5 × the farthest homed terminal's great-circle distance
        + 2,500 km, and redo without a bound any PoP whose terminals need more: a best cost
        beyond the bound (``min-rtt``), or any visible satellite left unreached (other rules).
        Exact either way; ``False`` always searches the whole graph.

    Examples
    --------
    See ``docs/network.md``; in short::

        model = NetworkModel(constellation, gateways, pops)
        res = model.step(eph, 0, terminals)
        res.rtt_ms, res.serving_sat, res.gateway, res.pop
    """

    def __init__(
        self,
        layout: SatelliteLayout | Any,
        gateways: GroundSites,
        pops: GroundSites,
        *,
        terminal_min_elevation_deg: float = 25.0,
        gateway_min_elevation_deg: float | np.ndarray = 25.0,
        latency: LatencyModel | None = None,
        use_isls: bool = True,
        max_lasers: int = 4,
        grazing_altitude_km: float = 80.0,
        max_isl_length_km: float | None = None,
        inter_shell: bool = False,
        pop_map: PopMap | None = None,
        max_backhaul_km: float | None = None,
        topology: IslTopology | None = None,
        cluster_km: float | None = None,
        search_limit: bool = True,
    ) -> None:
        self.layout = (
            layout
            if isinstance(layout, SatelliteLayout)
            else SatelliteLayout.from_constellation(layout)
        )
        if len(pops) == 0:
            raise ConfigurationError(
                "the network needs at least one PoP (pass pops=default_pops())"
            )
        if len(gateways) == 0:
            raise ConfigurationError(
                "the network needs at least one gateway (pass a gateway file or a plan)"
            )
        self.gateways = gateways
        self.pops = pops
        self.terminal_min_elevation_deg = float(terminal_min_elevation_deg)
        self.gateway_min_elevation_deg = np.broadcast_to(
            np.asarray(gateway_min_elevation_deg, dtype=np.float64), (len(gateways),)
        )
        self.latency = latency or LatencyModel()
        self.use_isls = use_isls
        self.max_lasers = int(max_lasers)
        self.grazing_altitude_km = float(grazing_altitude_km)
        self.max_isl_length_km = max_isl_length_km
        self.inter_shell = inter_shell
        self.pop_map = pop_map
        gc = great_circle_km(
            gateways.latitude_deg[:, None], gateways.longitude_deg[:, None],
            pops.latitude_deg[None, :], pops.longitude_deg[None, :],
        )  # fmt: skip
        self.backhaul_gc_km = gc  # (G, P)
        self.backhaul_equiv_km = self.latency.fibre_equivalent_km(gc)
        self.backhaul_ok = (
            np.ones_like(gc, dtype=bool) if max_backhaul_km is None else gc <= max_backhaul_km
        )
        self._topology: IslTopology | None = topology
        self.cluster_km = cluster_km
        self.search_limit = search_limit
        self._terminal_index: SiteIndex | None = None  # kept while the terminals stay the same
        self._gateway_index: SiteIndex | None = None

    @property
    def n_sats(self) -> int:
        return len(self.layout)

    def topology(self, positions_ecef_km: np.ndarray) -> IslTopology:
        """The planned +Grid (built on first use from these reference positions, then kept)."""
        if self._topology is None:
            self._topology = plus_grid(self.layout, positions_ecef_km, max_lasers=self.max_lasers)
        return self._topology

    def home_pops(
        self, terminals: GroundSites, constraint: LandingConstraint | None = None
    ) -> np.ndarray:
        """(N,) home PoP row of each terminal (PoP map, else nearest PoP; within allowed PoPs)."""
        home = self.pops.nearest(terminals.latitude_deg, terminals.longitude_deg)
        if self.pop_map is not None:
            mapped = self.pop_map.home(self.pops, terminals.latitude_deg, terminals.longitude_deg)
            home = np.where(mapped >= 0, mapped, home)
        if constraint is not None and constraint.pop_mask.shape[1] == len(self.pops):
            allowed = constraint.pop_mask[constraint.terminal_class, home]
            bad = np.flatnonzero(~allowed)
            if len(bad):
                d = great_circle_km(
                    terminals.latitude_deg[bad, None], terminals.longitude_deg[bad, None],
                    self.pops.latitude_deg[None, :], self.pops.longitude_deg[None, :],
                )  # fmt: skip
                d = np.where(constraint.pop_mask[constraint.terminal_class[bad]], d, np.inf)
                best = np.argmin(d, axis=1)
                home[bad] = np.where(np.isfinite(d[np.arange(len(bad)), best]), best, -1)
        return home

    def links(self, positions_ecef_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Laser links up at one instant: ``(edges (E, 2), length_km (E,))``."""
        if not self.use_isls:
            return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
        topo = self.topology(positions_ecef_km)
        up, length = active_links(
            topo.edges, positions_ecef_km,
            grazing_altitude_km=self.grazing_altitude_km, max_length_km=self.max_isl_length_km,
        )  # fmt: skip
        edges, length = topo.edges[up], length[up]
        if self.inter_shell:
            used = np.bincount(edges.ravel(), minlength=self.n_sats)
            extra = inter_shell_links(
                self.layout, positions_ecef_km, used, max_lasers=self.max_lasers,
                grazing_altitude_km=self.grazing_altitude_km, max_length_km=self.max_isl_length_km,
            )  # fmt: skip
            if len(extra):
                edges = np.concatenate([edges, extra])
                length = np.concatenate(
                    [
                        length,
                        np.linalg.norm(
                            positions_ecef_km[extra[:, 0]] - positions_ecef_km[extra[:, 1]], axis=1
                        ),
                    ]
                )
        return edges, length

    def gateway_links(self, positions_ecef_km: np.ndarray) -> VisiblePairs:
        """Gateway–satellite pairs within the gateway masks (a :class:`SiteIndex` of the gateways
        is kept across steps)."""
        index = self._gateway_index
        if index is None or not index.matches(
            self.gateways.ecef_km, self.gateways.up, self.gateway_min_elevation_deg
        ):
            index = SiteIndex(
                self.gateways.ecef_km, self.gateways.up, self.gateway_min_elevation_deg
            )
            self._gateway_index = index
        return index.visible_pairs(positions_ecef_km)

    def terminal_visibility(
        self, positions_ecef_km: np.ndarray, terminals: GroundSites
    ) -> VisiblePairs:
        """Terminal–satellite pairs within the terminal mask.

        The terminals' :class:`SiteIndex` is built on first use and kept for as long as the
        same terminal positions are passed (checked by value at each call).
        """
        index = self._terminal_index
        if index is None or not index.matches(
            terminals.ecef_km, terminals.up, self.terminal_min_elevation_deg
        ):
            index = SiteIndex(terminals.ecef_km, terminals.up, self.terminal_min_elevation_deg)
            self._terminal_index = index
        return index.visible_pairs(positions_ecef_km)

    def step(
        self,
        eph: Any,
        t_index: int | None,
        terminals: GroundSites,
        *,
        constraint: LandingConstraint | None = None,
        home_pop: np.ndarray | None = None,
        selection: Literal["min-rtt", "max-elevation"] = "min-rtt",
        force_sat: np.ndarray | None = None,
        visible: VisiblePairs | None = None,
        pair_score: Callable[[VisiblePairs, np.ndarray], np.ndarray] | None = None,
        pair_rank: np.ndarray | None = None,
        timings: dict[str, float] | None = None,
    ) -> StepResult:
        """The network state at ``eph.times[t_index]`` and every terminal's best path.

        Parameters
        ----------
        eph : Ephemeris or (S, 3) array
            An ``Ephemeris`` (with ``t_index``) or Earth-fixed positions at one instant (``t_index=None``).
        terminals : GroundSites
        constraint : LandingConstraint, optional
            Allowed gateways / PoPs per terminal.
        home_pop : (N,) int64, optional
            Precomputed :meth:`home_pops` (saves work when stepping through time).
        selection : {"min-rtt", "max-elevation"}
            Which visible satellite with a route serves the terminal.
        force_sat : (N,) int64, optional
            Serve terminal ``i`` by satellite ``force_sat[i]`` only (``-1`` = free choice).
        visible : VisiblePairs, optional
            Terminal visibility at this instant if already computed.
        pair_score : callable, optional
            ``(visible, cost_km) -> score`` per visible pair; the smallest score with a finite
            cost serves (overrides ``selection``).
        pair_rank : (V,) float array, optional
            A score per visible pair (aligned with ``visible``) that does not depend on the
            route: the smallest among pairs with a route serves (overrides ``selection``;
            cheaper than an equivalent ``pair_score``, see Notes).

        Notes
        -----
        Each PoP's Dijkstra is bounded (``search_limit``). For ``min-rtt`` a best cost within
        the bound is exact. For rules that do not rank by cost (``max-elevation``,
        ``pair_rank``) the serving satellite is chosen among the satellites *reachable* from
        the PoP — the laser-mesh components that an allowed gateway sees, which is exact
        whatever the bound — and only a PoP whose chosen satellite lies beyond the bound is
        searched again without it. A ``pair_score`` callable may use the cost, so any PoP
        with a visible satellite left unreached is searched again.
        timings : dict, optional
            If given, CPU seconds per stage are added to it (``lasers``, ``gateway_visibility``,
            ``terminal_visibility``, ``routing``, ``best_path``).
        """
        if selection not in _SELECTIONS:
            raise InputError(f"selection {selection!r} is not one of {', '.join(_SELECTIONS)}")
        if t_index is None:
            pos = np.asarray(eph, dtype=np.float64)
            time = None
        else:
            pos = np.asarray(eph.positions_ecef_km[:, t_index, :], dtype=np.float64)
            time = eph.times[t_index]
        if pos.shape != (self.n_sats, 3):
            raise InputError(f"positions must be (S, 3) = ({self.n_sats}, 3), got {pos.shape}")
        S, G, P = self.n_sats, len(self.gateways), len(self.pops)
        N = len(terminals)
        clock = _Clock(timings)
        edges, isl_len = self.links(pos)
        clock("lasers")
        gsl = self.gateway_links(pos)
        clock("gateway_visibility")
        vis = visible if visible is not None else self.terminal_visibility(pos, terminals)
        clock("terminal_visibility")
        if home_pop is None:
            home_pop = self.home_pops(terminals, constraint)
        home = np.asarray(home_pop, dtype=np.int64)
        tclass = (
            np.zeros(N, np.int64)
            if constraint is None
            else np.asarray(constraint.terminal_class, np.int64)
        )
        gmask = (
            np.ones((1, G), bool)
            if constraint is None
            else np.asarray(constraint.gateway_mask, bool)
        )
        if pair_rank is not None:
            pair_rank = np.asarray(pair_rank, dtype=np.float64)
            if pair_rank.shape != (len(vis),):
                raise InputError(
                    f"pair_rank has shape {pair_rank.shape}; expected one score per visible "
                    f"pair ({len(vis)},)"
                )
        if force_sat is not None:
            fs = np.asarray(force_sat, dtype=np.int64)
            keep = (fs[vis.site] < 0) | (fs[vis.site] == vis.sat)
            vis = VisiblePairs(
                vis.site[keep], vis.sat[keep], vis.elevation_deg[keep], vis.range_km[keep]
            )
            if pair_rank is not None:
                pair_rank = pair_rank[keep]
        # one virtual source per (class, pop) in use
        has_vis = np.zeros(N, bool)
        has_vis[vis.site] = True
        need = has_vis & (home >= 0)
        key = tclass * P + np.maximum(home, 0)
        combos, inv = np.unique(key[need], return_inverse=True)
        source = np.full(N, -1, np.int64)
        source[need] = inv
        K = len(combos)
        c_class, c_pop = combos // P, combos % P
        # graph
        rows = [edges[:, 0], edges[:, 1], S + gsl.site]
        cols = [edges[:, 1], edges[:, 0], gsl.sat]
        wts = [isl_len, isl_len, gsl.range_km]
        ok = np.zeros((0, G), bool)
        if K:
            ok = gmask[c_class] & self.backhaul_ok[:, c_pop].T  # (K, G)
            kk, gg = np.nonzero(ok)
            rows.append(S + G + kk)
            cols.append(S + gg)
            wts.append(self.backhaul_equiv_km[gg, c_pop[kk]])
        n_nodes = S + G + K
        all_rows, all_cols, all_wts = (
            np.concatenate(rows),
            np.concatenate(cols),
            np.concatenate(wts),
        )
        # Search radius per source: far enough for the terminals homed there in almost every
        # case; a terminal whose best cost exceeds it is recomputed without a limit below, so
        # the result is exact (a path of cost <= limit only visits nodes within the limit).
        limit = np.full(K, np.inf)
        if K and self.search_limit:
            gc_home = great_circle_km(
                terminals.latitude_deg[need], terminals.longitude_deg[need],
                self.pops.latitude_deg[home[need]], self.pops.longitude_deg[home[need]],
            )  # fmt: skip
            far = np.zeros(K)
            np.maximum.at(far, inv, gc_home)
            limit = 1.5 * far + 2500.0
        dist = np.full((K, n_nodes), np.inf)
        pred = np.full((K, n_nodes), -9999, dtype=np.int32)
        src_pair = source[vis.site]
        valid = src_pair >= 0
        rank: np.ndarray | None = None  # route-independent score, if the rule has one
        if pair_rank is not None:
            rank = pair_rank
        elif pair_score is None and selection == "max-elevation":
            rank = -vis.elevation_deg
        search = _Search(S, G, n_nodes, all_rows, all_cols, all_wts, dist, pred)
        if rank is not None and K:
            # The serving satellite does not depend on the route, only on whether one exists:
            # choose it among the satellites reachable from the home PoP (exact, no search
            # needed), then search only the laser-mesh component of each chosen satellite
            # (a path to a satellite never leaves its component).
            reachable, comp = _reachable_pairs(S, edges, gsl, ok, src_pair, vis.sat)
            reach = valid & reachable
            pick = _argmin_per_group(vis.site, np.where(reach, rank, np.inf), N)
            picked = pick[pick >= 0]
            picked = picked[reach[picked]]
            search.run(np.arange(K), limit * _RANK_LIMIT_FACTOR)
            beyond = ~np.isfinite(dist[src_pair[picked], vis.sat[picked]])
            pk, pc = src_pair[picked[beyond]], comp[vis.sat[picked[beyond]]]
            comps = np.unique(pc)
            if len(comps) > _MAX_RESTRICTED_SEARCHES:  # many small components (bent pipe)
                ks = np.unique(pk)
                search.run(ks[np.isfinite(limit[ks])], None)
            else:
                for c_ in comps:
                    ks = np.unique(pk[pc == c_])
                    ks = ks[np.isfinite(limit[ks])]
                    search.restricted(comp == c_, ks).run(ks, None)
        else:
            search.run(np.arange(K), limit)
        cost = np.full(len(vis), np.inf)
        cost[valid] = dist[src_pair[valid], vis.sat[valid]] + vis.range_km[valid]
        if rank is None and K and np.isfinite(limit).any():
            best_cost = np.full(N, np.inf)
            if len(vis):
                starts = np.flatnonzero(np.r_[True, vis.site[1:] != vis.site[:-1]])
                best_cost[vis.site[starts]] = np.minimum.reduceat(cost, starts)
            redo_t = need & ~(best_cost <= limit[np.maximum(source, 0)])
            if pair_score is not None:
                # the score may prefer a pair whose cost the bounded search left unknown
                redo_t[vis.site[valid & ~np.isfinite(cost)]] = True
            redo = np.unique(source[redo_t])
            redo = redo[np.isfinite(limit[redo])]
            search.run(redo, None)
            if len(redo):
                again = valid & np.isin(src_pair, redo)
                cost[again] = dist[src_pair[again], vis.sat[again]] + vis.range_km[again]
        clock("routing")
        # score every visible pair; the smallest score with a finite cost serves
        if rank is not None:
            score = np.where(np.isfinite(cost), rank, np.inf)
        elif pair_score is not None:
            score = np.where(
                np.isfinite(cost), np.asarray(pair_score(vis, cost), dtype=np.float64), np.inf
            )
        else:
            score = cost
        best = _argmin_per_group(vis.site, score, N)
        serving = np.full(N, -1, np.int64)
        routed = best >= 0
        routed[routed] = np.isfinite(cost[best[routed]])
        bi = best[routed]
        serving[routed] = vis.sat[bi]
        # gateway and laser hops by walking predecessors (vectorised over terminals)
        gw = np.full(N, -1, np.int64)
        hops = np.zeros(N, np.int64)
        tr = np.flatnonzero(routed)
        node = serving[tr].copy()
        src = source[tr]
        active = np.ones(len(tr), bool)
        for _ in range(S + 1):
            if not active.any():
                break
            prev = pred[src[active], node[active]].astype(np.int64)
            is_sat = prev < S
            idx_active = np.flatnonzero(active)
            hops[tr[idx_active[is_sat]]] += 1
            node[idx_active] = prev
            active[idx_active[~is_sat]] = False
        gw[tr] = node - S
        status = np.full(N, STATUS_NO_SATELLITE, np.int8)
        status[has_vis] = STATUS_NO_ROUTE
        status[routed] = STATUS_OK
        nan = np.full(N, np.nan)
        elev, rng_km, rtt, rs, rf, ro = (nan.copy() for _ in range(6))
        elev[routed] = vis.elevation_deg[bi]
        rng_km[routed] = vis.range_km[bi]
        pops_out = np.where(routed, home, -1)
        fibre_equiv = self.backhaul_equiv_km[gw[routed], home[routed]]
        space_km = cost[bi] - fibre_equiv
        rs[routed] = self.latency.space_rtt_ms(space_km)
        rf[routed] = self.latency.fibre_rtt_ms(self.backhaul_gc_km[gw[routed], home[routed]])
        ro[routed] = self.latency.overhead_ms
        rtt[routed] = rs[routed] + rf[routed] + ro[routed]
        clock("best_path")
        return StepResult(
            time=time, serving_sat=serving, gateway=gw, pop=pops_out, isl_hops=np.where(routed, hops, -1),
            elevation_deg=elev, range_km=rng_km, rtt_ms=rtt, rtt_space_ms=rs, rtt_fibre_ms=rf,
            rtt_overhead_ms=ro, status=status, visible=vis, gsl=gsl, isl_edges=edges,
            isl_length_km=isl_len, _source=source, _pred=pred, _n_sats=S,
        )  # fmt: skip

    def mesh_route(
        self,
        positions_ecef_km: np.ndarray,
        a: GroundSites,
        b: GroundSites,
    ) -> MeshRoute:
        """Ground-to-ground route over lasers only: up from the first site of ``a``, across the
        mesh, down to the first site of ``b``; the shortest one-way length, RTT at c both ways."""
        pos = np.asarray(positions_ecef_km, dtype=np.float64)
        S = self.n_sats
        edges, length = self.links(pos)
        va = visible_pairs(a.ecef_km[:1], a.up[:1], pos, self.terminal_min_elevation_deg)
        vb = visible_pairs(b.ecef_km[:1], b.up[:1], pos, self.terminal_min_elevation_deg)
        total_km, sats = shortest_ground_path(
            S, edges, length, va.sat, va.range_km, vb.sat, vb.range_km
        )
        if not sats:
            return MeshRoute(float("nan"), float("nan"), [], float("nan"), float("nan"))
        up = float(va.range_km[va.sat == sats[0]][0])
        down = float(vb.range_km[vb.sat == sats[-1]][0])
        return MeshRoute(float(self.latency.space_rtt_ms(total_km)), total_km, sats, up, down)


def shortest_ground_path(
    n_sats: int,
    edges: np.ndarray,
    length_km: np.ndarray,
    up_sats: np.ndarray,
    up_km: np.ndarray,
    down_sats: np.ndarray,
    down_km: np.ndarray,
) -> tuple[float, list[int]]:
    """Shortest ground-to-ground path over the laser mesh: up to one of ``up_sats`` (slant
    ranges ``up_km``), across ``edges`` (E, 2) of ``length_km``, down from one of ``down_sats``.

    Returns ``(one-way length km, satellites in order)``; ``(nan, [])`` when unreachable.
    """
    S = n_sats
    rows = np.concatenate([edges[:, 0], edges[:, 1], np.full(len(up_sats), S)])
    cols = np.concatenate([edges[:, 1], edges[:, 0], up_sats])
    w = np.concatenate([length_km, length_km, up_km])
    graph = coo_matrix((w, (rows, cols)), shape=(S + 1, S + 1)).tocsr()
    dist, pred = dijkstra(graph, directed=True, indices=S, return_predecessors=True)
    if len(down_sats) == 0:
        return float("nan"), []
    total = dist[down_sats] + down_km
    j = int(np.argmin(total))
    if not np.isfinite(total[j]):
        return float("nan"), []
    sats = [int(down_sats[j])]
    while True:
        p = int(pred[sats[-1]])
        if p < 0 or p >= S:
            break
        sats.append(p)
    sats.reverse()
    return float(total[j]), sats


class _Clock:
    """Adds process CPU time since the last call to ``timings[stage]`` (no-op without a dict)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time_module.process_time() if timings is not None else 0.0

    def __call__(self, stage: str) -> None:
        if self.timings is None:
            return
        now = time_module.process_time()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
        self.last = now


class _Search:
    """Dijkstra from virtual PoP sources over the step's graph (or part of it), writing the
    distances and predecessors (in full-graph node numbers) into rows of ``dist`` / ``pred``."""

    def __init__(
        self,
        n_sats: int,
        n_gateways: int,
        n_nodes: int,
        rows: np.ndarray,
        cols: np.ndarray,
        wts: np.ndarray,
        dist: np.ndarray,
        pred: np.ndarray,
        nodes: np.ndarray | None = None,
    ) -> None:
        self.S, self.G, self.n_nodes = n_sats, n_gateways, n_nodes
        self.rows, self.cols, self.wts = rows, cols, wts
        self.dist, self.pred = dist, pred
        self.nodes = nodes  # full-graph numbers of this graph's nodes (None = all)
        if nodes is None:
            self.graph = coo_matrix((wts, (rows, cols)), shape=(n_nodes, n_nodes)).tocsr()
            self.local = None
        else:
            local = np.full(n_nodes, -1, np.int64)
            local[nodes] = np.arange(len(nodes))
            keep = (local[rows] >= 0) & (local[cols] >= 0)
            m = len(nodes)
            self.graph = coo_matrix(
                (wts[keep], (local[rows[keep]], local[cols[keep]])), shape=(m, m)
            ).tocsr()
            self.local = local

    def restricted(self, sats: np.ndarray, sources: np.ndarray) -> _Search:
        """The subgraph of the satellites where ``sats`` (S,) is true, every gateway and the
        given virtual sources."""
        S, G = self.S, self.G
        nodes = np.concatenate([np.flatnonzero(sats), np.arange(S, S + G), S + G + sources])
        return _Search(
            S, G, self.n_nodes, self.rows, self.cols, self.wts, self.dist, self.pred, nodes
        )

    def run(self, sources: np.ndarray, limit: np.ndarray | None) -> None:
        """Search from each source ``k`` (bounded by ``limit[i]``; None = unbounded)."""
        first = self.S + self.G
        for i, k in enumerate(np.asarray(sources, dtype=np.int64)):
            node = first + k if self.local is None else self.local[first + k]
            d, p = dijkstra(
                self.graph,
                directed=True,
                indices=node,
                return_predecessors=True,
                limit=np.inf if limit is None else limit[i],
            )
            if self.nodes is None:
                self.dist[k], self.pred[k] = d, p
            else:
                self.dist[k, self.nodes] = d
                self.pred[k, self.nodes] = np.where(p >= 0, self.nodes[np.maximum(p, 0)], -9999)


def _reachable_pairs(
    n_sats: int,
    edges: np.ndarray,
    gsl: VisiblePairs,
    allowed: np.ndarray,
    src_pair: np.ndarray,
    sat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether satellite ``sat[i]`` can be reached at all from source ``src_pair[i]``, and the
    laser-mesh component of every satellite.

    Gateways never relay, so from source ``k`` exactly the laser-mesh components holding a
    satellite seen by one of its allowed gateways (``allowed`` (K, G)) are reachable; this
    does not depend on any search bound.
    """
    if len(edges):
        mesh = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_sats, n_sats))
        n_comp, comp = connected_components(mesh, directed=False)
    else:
        n_comp, comp = n_sats, np.arange(n_sats)
    # seen[g, c]: gateway g sees a satellite of component c (sparse: bent pipe has S components)
    seen = coo_matrix(
        (np.ones(len(gsl)), (gsl.site, comp[gsl.sat])), shape=(allowed.shape[1], n_comp)
    ).tocsr()
    reach = np.asarray(seen.T @ allowed.T.astype(np.float64)).T > 0  # (K, n_comp)
    out = np.zeros(len(src_pair), bool)
    v = src_pair >= 0
    out[v] = reach[src_pair[v], comp[sat[v]]]
    return out, comp


def _argmin_per_group(group: np.ndarray, score: np.ndarray, n_groups: int) -> np.ndarray:
    """For rows grouped (sorted) by ``group``, the row index of the smallest score per group
    (first on ties); ``-1`` for groups without rows. Infinite scores are kept (caller checks)."""
    out = np.full(n_groups, -1, np.int64)
    if len(group) == 0:
        return out
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    mins = np.minimum.reduceat(score, starts)
    gid = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(group)]))
    hit = np.flatnonzero(score == mins[gid])
    first_hit = hit[np.r_[True, gid[hit][1:] != gid[hit][:-1]]]
    # groups whose min is NaN have no hit; leave them at their first row
    found = np.full(len(starts), -1, np.int64)
    found[gid[first_hit]] = first_hit
    found = np.where(found < 0, starts, found)
    out[group[starts]] = found
    return out
