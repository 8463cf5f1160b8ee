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

:meth:`NetworkModel.step` runs in named stages (lasers, gateway visibility, terminal
visibility, demand, graph, route, choose, assemble), each a method below or a function of
:mod:`skyfence.links.stages` (which also holds what the stages pass on); the search machinery is
in :mod:`skyfence.links.search`, PoP homing and landing constraints in
:mod:`skyfence.links.homing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from skyfence.errors import ConfigurationError, InputError
from skyfence.geodesy import great_circle_km
from skyfence.ground.sites import GroundSites
from skyfence.links.homing import LandingConstraint, PopMap, load_pop_map
from skyfence.links.isl import (
    IslTopology,
    SatelliteLayout,
    active_links,
    inter_shell_links,
    plus_grid,
)
from skyfence.links.latency import LatencyModel
from skyfence.links.pairfree import step_without_pairs
from skyfence.links.search import (
    PopSearch,
    argmin_per_group,
    reachable_pairs,
    shortest_ground_path,
)
from skyfence.links.stages import (
    STATUS_NO_ROUTE,
    STATUS_NO_SATELLITE,
    STATUS_OK,
    Demand,
    StageClock,
    StepGraph,
    StepResult,
    choose,
    pair_cost,
    sources_of,
    spread,
    unique_small,
    walk_to_gateway,
)
from skyfence.links.visibility import (
    KERNELS,
    SiteIndex,
    SortedSats,
    VisiblePairs,
    visible_pairs,
)

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
    "shortest_ground_path",
]

_SELECTIONS = ("min-rtt", "max-elevation")
_RANK_LIMIT_FACTOR = 1.25
"""Bound widening for rules that do not pick the cheapest satellite (tuned on Gen1: fewer
searches redone than at 1.0, less searched than at 1.5)."""
_MAX_RESTRICTED_SEARCHES = 8
"""Above this many laser-mesh components to search again, search the whole graph instead."""


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
        Fibre factors, the PoP backbone, the fixed overhead, the delay per laser hop (added to
        every laser link's length when routing) and the per-slot scheduling delay.
    use_isls : bool
        False = bent pipe only (terminal and gateway must see the same satellite).
    max_lasers : int
        Laser terminals per satellite.
    no_lasers : (S,) bool array, optional
        Satellites without laser terminals (e.g. :func:`~skyfence.links.isl.first_generation`):
        no laser is planned to or from them; they still serve terminals and gateways as bent
        pipes. Default: every satellite in a shell has lasers.
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
        Kept for compatibility; no longer used (terminal visibility uses a :class:`SiteIndex`
        kept across steps: the same result, faster, also for dense sets like H3 centres).
    search_limit : bool
        Bound each PoP's Dijkstra by 1.5 × the farthest homed terminal's great-circle distance
        + 2,500 km, and redo without a bound any PoP whose terminals need more: a best cost
        beyond the bound (``min-rtt``), or any visible satellite left unreached (other rules).
        Exact either way; ``False`` always searches the whole graph.
    kernel : {"auto", "numpy", "compiled"}
        Terminal visibility kernel (see :class:`SiteIndex`). With the compiled one (numba,
        ``pip install skyfence[fast]``; ``auto`` picks it when installed) a ``min-rtt`` step
        without ``force_sat``, ``visible``, ``pair_score`` or ``pair_rank`` never lists the
        visible pairs: it finds which terminals see a satellite, searches, then takes each
        terminal's best satellite straight from the candidates; ``StepResult.visible`` is
        listed on first use. Same results either way.

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
        no_lasers: np.ndarray | None = None,
        grazing_altitude_km: float = 80.0,
        max_isl_length_km: float | None = None,
        inter_shell: bool = False,
        pop_map: PopMap | None = None,
        max_backhaul_km: float | None = None,
        topology: IslTopology | None = None,
        cluster_km: float | None = None,
        search_limit: bool = True,
        kernel: str = "auto",
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
        self.no_lasers = None if no_lasers is None else np.asarray(no_lasers, dtype=bool)
        # the layout lasers are planned on: satellites without lasers taken out of their shells
        self.laser_layout = (
            self.layout if no_lasers is None else self.layout.without_lasers(self.no_lasers)
        )
        self.grazing_altitude_km = float(grazing_altitude_km)
        self.max_isl_length_km = max_isl_length_km
        self.inter_shell = inter_shell
        self.pop_map = pop_map
        gc = self.latency.backhaul_km(
            gateways.latitude_deg, gateways.longitude_deg, pops.latitude_deg, pops.longitude_deg,
            hubs=None if pop_map is None else pop_map.serves(pops),
        )  # fmt: skip
        self.backhaul_gc_km = gc  # (G, P) ground distance along the fibre (great-circle legs)
        self.backhaul_equiv_km = self.latency.fibre_equivalent_km(gc)
        self.backhaul_ok = (
            np.ones_like(gc, dtype=bool) if max_backhaul_km is None else gc <= max_backhaul_km
        )
        self._topology: IslTopology | None = topology
        self.cluster_km = cluster_km
        self.search_limit = search_limit
        if kernel not in KERNELS:
            raise InputError(f"kernel {kernel!r} is not one of {', '.join(KERNELS)}")
        self.kernel = kernel
        self._terminal_index: SiteIndex | None = None  # kept while the terminals stay the same
        self._gateway_index: SiteIndex | None = None
        self._home_gc: tuple[GroundSites, np.ndarray, np.ndarray] | None = None
        self._terminal_key: tuple[np.ndarray, np.ndarray, float, str] | None = None

    @property
    def n_sats(self) -> int:
        return len(self.layout)

    def topology(self, positions_ecef_km: np.ndarray) -> IslTopology:
        """The planned +Grid (built on first use from these reference positions, then kept)."""
        if self._topology is None:
            self._topology = plus_grid(
                self.laser_layout, positions_ecef_km, max_lasers=self.max_lasers
            )
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
                self.laser_layout, positions_ecef_km, used, max_lasers=self.max_lasers,
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

    def gateway_links(
        self, positions_ecef_km: np.ndarray, sorted_sats: SortedSats | None = None
    ) -> VisiblePairs:
        """Gateway–satellite pairs within the gateway masks (gateways' :class:`SiteIndex` kept;
        ``sorted_sats``: the positions as the terminals' index sorted them)."""
        index = self._gateway_index
        if index is None or not index.matches(
            self.gateways.ecef_km, self.gateways.up, self.gateway_min_elevation_deg
        ):
            index = SiteIndex(
                self.gateways.ecef_km, self.gateways.up, self.gateway_min_elevation_deg,
                kernel=self.kernel,
            )  # fmt: skip
            self._gateway_index = index
        return index.visible_pairs(positions_ecef_km, sorted_sats=sorted_sats)

    def terminal_visibility(
        self, positions_ecef_km: np.ndarray, terminals: GroundSites
    ) -> VisiblePairs:
        """Terminal–satellite pairs within the terminal mask.

        The terminals' :class:`SiteIndex` is built on first use and kept for as long as the
        same terminal positions are passed (checked by value at each call).
        """
        return self.terminal_index(terminals).visible_pairs(positions_ecef_km)

    def terminal_index(self, terminals: GroundSites) -> SiteIndex:
        """The terminals' :class:`SiteIndex` (built on first use, kept while the same terminal
        positions are passed, checked by value)."""
        index, key = self._terminal_index, self._terminal_key
        same = (  # the very same arrays (GroundSites caches them): no need to compare values
            key is not None and key[0] is terminals.ecef_km and key[1] is terminals.up
            and key[2] == self.terminal_min_elevation_deg and key[3] == self.kernel
        )  # fmt: skip
        if index is not None and same:
            return index
        if (
            index is None
            or not index.matches(terminals.ecef_km, terminals.up, self.terminal_min_elevation_deg)
            or (self.kernel != "auto" and index.kernel != self.kernel)
        ):
            index = SiteIndex(
                terminals.ecef_km, terminals.up, self.terminal_min_elevation_deg,
                kernel=self.kernel,
            )  # fmt: skip
            self._terminal_index = index
        self._terminal_key = (
            terminals.ecef_km,
            terminals.up,
            self.terminal_min_elevation_deg,
            self.kernel,
        )
        return index

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
        timings : dict, optional
            If given, CPU seconds per stage are added to it (``lasers``, ``gateway_visibility``,
            ``terminal_visibility``, ``routing``, ``best_path``).

        Notes
        -----
        The step runs in named stages (see the module docstring and ``docs/network.md``).

        Each PoP's Dijkstra is bounded (``search_limit``). For ``min-rtt`` a best cost within
        the bound is exact. For rules that do not rank by cost (``max-elevation``,
        ``pair_rank``) the serving satellite is chosen among the satellites *reachable* from
        the PoP — the laser-mesh components that an allowed gateway sees, which is exact
        whatever the bound — and only a PoP whose chosen satellite lies beyond the bound is
        searched again without it. A ``pair_score`` callable may use the cost, so any PoP
        with a visible satellite left unreached is searched again.
        """
        if selection not in _SELECTIONS:
            raise InputError(f"selection {selection!r} is not one of {', '.join(_SELECTIONS)}")
        pos, time = self._positions(eph, t_index)
        clock = StageClock(timings)
        edges, isl_len = self.links(pos)
        clock("lasers")
        fused = (
            selection == "min-rtt" and visible is None and force_sat is None
            and pair_score is None and pair_rank is None
        )  # fmt: skip
        index = self.terminal_index(terminals) if visible is None else None
        if fused and index is not None and index.kernel == "compiled":
            srt = index.sort_satellites(pos)  # (sorted once for terminals and gateways)
            gsl = self.gateway_links(pos, srt)
            clock("gateway_visibility")
            return step_without_pairs(
                self, time, terminals, index, srt, (edges, isl_len, gsl), constraint, home_pop,
                clock,
            )  # fmt: skip
        gsl = self.gateway_links(pos)
        clock("gateway_visibility")
        vis = visible if visible is not None else self.terminal_index(terminals).visible_pairs(pos)
        clock("terminal_visibility")
        demand = self._demand(terminals, vis, constraint, home_pop, force_sat, pair_rank)
        graph = self._graph(edges, isl_len, gsl, demand)
        rank = demand.pair_rank
        if rank is None and pair_score is None and selection == "max-elevation":
            rank = -demand.vis.elevation_deg
        cost, search = self._route(graph, demand, rank, pair_score, terminals)
        clock("routing")
        best = choose(demand, cost, rank, pair_score)
        res = self._assemble(time, demand, cost, best, search, graph)
        clock("best_path")
        return res

    def _positions(self, eph: Any, t_index: int | None) -> tuple[np.ndarray, np.datetime64 | None]:
        """Stage 0: the (S, 3) satellite positions and the time of the step."""
        if t_index is None:
            pos = np.asarray(eph, dtype=np.float64)
            time = None
        else:
            pos = np.asarray(eph.positions_ecef_km[:, t_index, :], dtype=np.float64)
            time = eph.times[t_index]
        if pos.shape != (self.n_sats, 3):
            raise InputError(f"positions must be (S, 3) = ({self.n_sats}, 3), got {pos.shape}")
        return pos, time

    def _demand(
        self,
        terminals: GroundSites,
        vis: VisiblePairs,
        constraint: LandingConstraint | None,
        home_pop: np.ndarray | None,
        force_sat: np.ndarray | None,
        pair_rank: np.ndarray | None,
    ) -> Demand:
        """Stage 4: who needs a route to where — each terminal's home PoP and landing class,
        its visible pairs (narrowed by ``force_sat``) and one virtual source per (class, PoP)
        in use."""
        N = len(terminals)
        home, tclass, gmask = self._homes(terminals, constraint, home_pop)
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
        # the pairs come grouped by terminal: find the groups once, reuse them below
        starts = (
            np.flatnonzero(np.r_[True, vis.site[1:] != vis.site[:-1]]) if len(vis) else vis.site
        )
        counts = np.diff(np.r_[starts, len(vis)])
        group_site = vis.site[starts]
        has_vis = np.zeros(N, bool)
        has_vis[group_site] = True
        need, source, combos = sources_of(has_vis, home, tclass, len(self.pops))
        src_group = source[group_site]
        P = len(self.pops)
        return Demand(
            vis=vis, pair_rank=pair_rank, home=home, gateway_mask=gmask, has_vis=has_vis,
            need=need, source=source, source_class=combos // P,
            source_pop=combos % P, starts=starts, counts=counts, src_group=src_group,
        )  # fmt: skip

    def _homes(
        self,
        terminals: GroundSites,
        constraint: LandingConstraint | None,
        home_pop: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Each terminal's home PoP and landing class (``None``: every terminal in class 0),
        and the gateway mask per class."""
        G = len(self.gateways)
        if home_pop is None:
            home_pop = self.home_pops(terminals, constraint)
        home = np.asarray(home_pop, dtype=np.int64)
        tclass = None if constraint is None else np.asarray(constraint.terminal_class, np.int64)
        gmask = (
            np.ones((1, G), bool)
            if constraint is None
            else np.asarray(constraint.gateway_mask, bool)
        )
        return home, tclass, gmask

    def _graph(
        self, edges: np.ndarray, isl_len: np.ndarray, gsl: VisiblePairs, demand: Demand
    ) -> StepGraph:
        """Stage 5: the step's graph as edge lists — lasers both ways, gateway → satellite (slant
        range) and virtual source → allowed gateway (back-haul as its vacuum-equivalent length).
        """
        S, G, K = self.n_sats, len(self.gateways), demand.n_sources
        rows = [edges[:, 0], edges[:, 1], S + gsl.site]
        cols = [edges[:, 1], edges[:, 0], gsl.sat]
        hop_km = self.latency.hop_equivalent_km  # a laser hop's switching, as length
        laser_wts = isl_len + hop_km if hop_km else isl_len
        wts = [laser_wts, laser_wts, gsl.range_km]
        allowed = np.zeros((0, G), bool)
        if K:
            allowed = (
                demand.gateway_mask[demand.source_class] & self.backhaul_ok[:, demand.source_pop].T
            )  # (K, G)
            kk, gg = np.nonzero(allowed)
            rows.append(S + G + kk)
            cols.append(S + gg)
            wts.append(self.backhaul_equiv_km[gg, demand.source_pop[kk]])
        return StepGraph(
            S, G, S + G + K, np.concatenate(rows), np.concatenate(cols), np.concatenate(wts),
            edges, isl_len, gsl, allowed,
        )  # fmt: skip

    def _search_limits(self, terminals: GroundSites, demand: Demand) -> np.ndarray:
        """(K,) search radius per source: far enough for the terminals homed there in almost
        every case (1.5 × the farthest one's great-circle distance + 2,500 km); ``inf`` when
        ``search_limit`` is off. A terminal whose best cost exceeds it is recomputed without a
        limit, so the result is exact (a path of cost <= limit only visits nodes within it)."""
        K = demand.n_sources
        if not (K and self.search_limit):
            return np.full(K, np.inf)
        need, home = demand.need, demand.home
        gc_home = self._home_distance_km(terminals, home)[need]
        far = np.zeros(K)
        np.maximum.at(far, demand.source[need], gc_home)
        return self.limits_of(far)

    def limits_of(self, far: np.ndarray) -> np.ndarray:
        """(K,) search radius from each source's farthest homed terminal (km)."""
        return 1.5 * far + 2500.0

    def _home_distance_km(self, terminals: GroundSites, home: np.ndarray) -> np.ndarray:
        """(N,) great-circle distance of each terminal to its home PoP (``home >= 0``), kept
        while the same terminals (object) and homes (by value) come back step after step."""
        cached = self._home_gc
        if cached is not None and cached[0] is terminals and np.array_equal(cached[1], home):
            return cached[2]
        ok = home >= 0
        gc = np.full(len(home), np.nan)
        gc[ok] = great_circle_km(
            terminals.latitude_deg[ok], terminals.longitude_deg[ok],
            self.pops.latitude_deg[home[ok]], self.pops.longitude_deg[home[ok]],
        )  # fmt: skip
        self._home_gc = (terminals, home.copy(), gc)
        return gc

    def _route(
        self,
        graph: StepGraph,
        demand: Demand,
        rank: np.ndarray | None,
        pair_score: Callable[[VisiblePairs, np.ndarray], np.ndarray] | None,
        terminals: GroundSites,
    ) -> tuple[np.ndarray, PopSearch]:
        """Stage 6: bounded Dijkstra from every source, searched again where the bound was too
        tight; returns the cost (km, vacuum-equivalent, terminal to PoP) of every visible pair
        (``inf`` = no route found) and the search holding distances and predecessors."""
        K = demand.n_sources
        limit = self._search_limits(terminals, demand)
        dist = np.full((K, graph.n_nodes), np.inf)
        pred = np.full((K, graph.n_nodes), -9999, dtype=np.int32)
        search = PopSearch(
            graph.n_sats, graph.n_gateways, graph.n_nodes, graph.rows, graph.cols, graph.wts,
            dist, pred,
        )  # fmt: skip
        if rank is not None and K:
            self._search_for_ranked(graph, demand, rank, search, limit)
        else:
            search.run(np.arange(K), limit)
        cost = pair_cost(demand, dist)
        if rank is None and K and np.isfinite(limit).any():
            self._search_again_for_cost(demand, pair_score, search, limit, cost)
        return cost, search

    def _search_for_ranked(
        self,
        graph: StepGraph,
        demand: Demand,
        rank: np.ndarray,
        search: PopSearch,
        limit: np.ndarray,
    ) -> None:
        """Searches for a route-independent rank (``max-elevation``, ``pair_rank``).

        The serving satellite does not depend on the route, only on whether one exists: it is
        chosen among the satellites reachable from the home PoP (exact, no search needed), then
        only the laser-mesh component of each chosen satellite that the bounded search (25 %
        wider) did not reach is searched again (a path to a satellite never leaves its
        component)."""
        vis, src_pair, valid = demand.vis, demand.src_pair, demand.valid
        N, K = len(demand.home), demand.n_sources
        dist = search.dist
        reachable, comp = reachable_pairs(
            graph.n_sats, graph.edges, graph.gsl, graph.allowed, src_pair, vis.sat
        )
        reach = valid & reachable
        pick = argmin_per_group(vis.site, np.where(reach, rank, np.inf), N, demand.starts)
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

    def _search_again_for_cost(
        self,
        demand: Demand,
        pair_score: Callable[[VisiblePairs, np.ndarray], np.ndarray] | None,
        search: PopSearch,
        limit: np.ndarray,
        cost: np.ndarray,
    ) -> None:
        """Rules that rank by cost: search a source again without a bound when one of its
        terminals' best cost exceeds the bound (or, for a ``pair_score``, when any of its
        visible satellites was left unreached); ``cost`` is updated in place."""
        vis, src_pair, valid = demand.vis, demand.src_pair, demand.valid
        need, source, starts = demand.need, demand.source, demand.starts
        dist = search.dist
        best_cost = np.full(len(need), np.inf)
        if len(vis):
            best_cost[vis.site[starts]] = np.minimum.reduceat(cost, starts)
        redo_t = need & ~(best_cost <= limit[np.maximum(source, 0)])
        if pair_score is not None:
            # the score may prefer a pair whose cost the bounded search left unknown
            redo_t[vis.site[valid & ~np.isfinite(cost)]] = True
        redo = np.unique(source[redo_t])
        redo = redo[np.isfinite(limit[redo])]
        search.run(redo, None)
        if len(redo):
            again = valid & np.repeat(np.isin(demand.src_group, redo), demand.counts)
            cost[again] = dist[src_pair[again], vis.sat[again]] + vis.range_km[again]

    def _assemble(
        self,
        time: np.datetime64 | None,
        demand: Demand,
        cost: np.ndarray,
        best: np.ndarray,
        search: PopSearch,
        graph: StepGraph,
    ) -> StepResult:
        """Stage 8: per terminal, the serving pair's gateway and laser hops (walking the
        predecessors, vectorised over terminals), status and the RTT in parts."""
        vis = demand.vis
        serving = np.full(len(demand.home), -1, np.int64)
        routed = best >= 0
        routed[routed] = np.isfinite(cost[best[routed]])
        bi = best[routed]
        serving[routed] = vis.sat[bi]
        return self._finish(
            time, demand, routed, serving, vis.elevation_deg[bi], vis.range_km[bi], cost[bi],
            search, graph,
        )  # fmt: skip

    def _finish(
        self,
        time: np.datetime64 | None,
        demand: Demand,
        routed: np.ndarray,
        serving: np.ndarray,
        elev_routed: np.ndarray,
        range_routed: np.ndarray,
        cost_routed: np.ndarray,
        search: PopSearch,
        graph: StepGraph,
    ) -> StepResult:
        """Stage 8 from each routed terminal's serving satellite, its elevation, slant range
        and cost (km, terminal to PoP): gateway and laser hops, status, the RTT in parts."""
        vis, home, source = demand.vis, demand.home, demand.source
        S, N = graph.n_sats, len(home)
        pred = search.pred
        tr = np.flatnonzero(routed)
        # terminals share (source, serving satellite) pairs: walk each distinct pair once, and
        # take there all that depends on the pair only (the source fixes the home PoP)
        pair, back = unique_small(source[tr] * S + serving[tr], max(demand.n_sources, 1) * S)
        pair_src = pair // S
        pair_gw, pair_hops = walk_to_gateway(pred, pair_src, pair % S, S)
        pair_home = demand.source_pop[pair_src]
        lat = self.latency
        pair_bh = self.backhaul_equiv_km[pair_gw, pair_home]
        pair_rf = lat.fibre_rtt_ms(self.backhaul_gc_km[pair_gw, pair_home])
        pair_ro = lat.slot_delay_ms + pair_hops * lat.laser_hop_ms
        space_km = cost_routed - pair_bh[back]
        if lat.laser_hop_ms:
            space_km = space_km - (pair_hops * lat.hop_equivalent_km)[back]
        rs_r = lat.space_rtt_ms(space_km)
        rf_r, ro_r = pair_rf[back], pair_ro[back]
        status = np.full(N, STATUS_NO_SATELLITE, np.int8)
        status[demand.has_vis] = STATUS_NO_ROUTE
        status[tr] = STATUS_OK
        gw, isl_hops, pops_out = (
            spread(v, tr, N, -1) for v in (pair_gw[back], pair_hops[back], home[tr])
        )
        elev, rng_km, rtt, rs, rf, ro = (
            spread(np.asarray(v, np.float64), tr, N, np.nan)
            for v in (elev_routed, range_routed, rs_r + rf_r + ro_r, rs_r, rf_r, ro_r)
        )
        return StepResult(
            time=time, serving_sat=serving, gateway=gw, pop=pops_out, isl_hops=isl_hops,
            elevation_deg=elev, range_km=rng_km, rtt_ms=rtt, rtt_space_ms=rs, rtt_fibre_ms=rf,
            rtt_overhead_ms=ro, status=status, visible=vis, gsl=graph.gsl, isl_edges=graph.edges,
            isl_length_km=graph.isl_len, _source=source, _pred=pred, _n_sats=S,
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
