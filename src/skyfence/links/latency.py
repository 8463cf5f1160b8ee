"""Latency model: the constants and conversions every RTT in skyfence uses.

* Space segment (terminal ↔ satellite, lasers, satellite ↔ gateway): straight lines at the speed
  of light in vacuum, :data:`SPEED_OF_LIGHT_KM_S`.
* Terrestrial fibre (gateway → PoP, and the fibre baseline between cities): great-circle distance
  × ``route_factor`` (default 1.5: fibre routes are longer than the great circle; 1.5 is a
  common planning factor, in line with measured Internet path inflation) at c / 1.47 (group
  index of standard single-mode fibre, ITU-T G.652, ≈ 1.467). With ``backbone=True`` a
  gateway's traffic first reaches the PoP nearest to the gateway and then rides the PoP-to-PoP
  backbone to the home PoP (both legs great circle × ``route_factor``); without it, the fibre
  runs straight from the gateway to the home PoP.
* A fixed ``overhead_ms`` per round trip (default 4 ms) for processing in dish, satellites,
  gateway and PoP, and ``laser_hop_ms`` per laser hop (switching in each satellite; default 0).
* A per-slot scheduling delay (:class:`~skyfence.links.delay.SchedulingDelay`; default none):
  the 15-s reassignment and MAC scheduling, one log-normal draw per slot. A slot's RTT
  (``rtt_ms`` of a step or a schedule) carries its median; percentiles over a window
  (:meth:`LatencyModel.rtt_percentiles`) carry its whole distribution.

The defaults are skyfence's uncalibrated model (the latency model ``none``). The model fitted
to Starlink's published latency ships as a model file (:mod:`skyfence.links.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skyfence.errors import InputError
from skyfence.geodesy import SPEED_OF_LIGHT_KM_S, great_circle_km
from skyfence.links.delay import SchedulingDelay, mixture_quantiles

__all__ = ["SPEED_OF_LIGHT_KM_S", "FIBRE_INDEX", "LatencyModel", "SchedulingDelay"]

FIBRE_INDEX = 1.47
"""Group index of single-mode fibre: light travels at c / 1.47 in it."""


@dataclass(frozen=True)
class LatencyModel:
    """Parameters of the RTT model (see the module docs for where the defaults come from).

    Examples
    --------
    >>> m = LatencyModel()
    >>> round(float(m.space_rtt_ms(1000.0)), 4)  # 1000 km one way, both directions at c
    6.6713
    >>> round(float(m.hop_equivalent_km), 3)  # no delay per laser hop by default
    0.0
    """

    route_factor: float = 1.5
    fibre_index: float = FIBRE_INDEX
    overhead_ms: float = 4.0
    laser_hop_ms: float = 0.0
    backbone: bool = False
    scheduling: SchedulingDelay = field(default_factory=SchedulingDelay)

    def __post_init__(self) -> None:
        if not self.route_factor >= 1.0:
            raise InputError(
                f"route_factor must be >= 1 (fibre is never shorter than the great circle), got {self.route_factor}"
            )
        if not self.fibre_index >= 1.0:
            raise InputError(f"fibre_index must be >= 1, got {self.fibre_index}")
        if not self.overhead_ms >= 0.0:
            raise InputError(f"overhead_ms must be >= 0, got {self.overhead_ms}")
        if not (np.isfinite(self.laser_hop_ms) and self.laser_hop_ms >= 0.0):
            raise InputError(f"laser_hop_ms must be >= 0, got {self.laser_hop_ms}")
        if not isinstance(self.scheduling, SchedulingDelay):
            raise InputError("scheduling must be a SchedulingDelay")

    def space_rtt_ms(self, one_way_km: np.ndarray | float) -> np.ndarray:
        """Round trip over a one-way space path length, ms."""
        return 2.0 * np.asarray(one_way_km, dtype=np.float64) / SPEED_OF_LIGHT_KM_S * 1000.0

    def fibre_km(self, great_circle_km: np.ndarray | float) -> np.ndarray:
        """Fibre route length for a great-circle distance."""
        return np.asarray(great_circle_km, dtype=np.float64) * self.route_factor

    def fibre_equivalent_km(self, great_circle_km: np.ndarray | float) -> np.ndarray:
        """The vacuum path length with the same delay as the fibre route (adds to space km)."""
        return self.fibre_km(great_circle_km) * self.fibre_index

    def fibre_rtt_ms(self, great_circle_km: np.ndarray | float) -> np.ndarray:
        """Round trip over fibre between points ``great_circle_km`` apart, ms (no overhead)."""
        return self.space_rtt_ms(self.fibre_equivalent_km(great_circle_km))

    @property
    def hop_equivalent_km(self) -> float:
        """The one-way vacuum length with the delay of one laser hop's switching (``laser_hop_ms``
        as a round trip), added to every laser link's length when routing."""
        return self.laser_hop_ms / 1000.0 * SPEED_OF_LIGHT_KM_S / 2.0

    @property
    def slot_delay_ms(self) -> float:
        """What a slot's RTT adds besides the path: the overhead and the scheduling median."""
        return self.overhead_ms + self.scheduling.median_ms

    def backhaul_km(
        self,
        gateway_lat_deg: np.ndarray,
        gateway_lon_deg: np.ndarray,
        pop_lat_deg: np.ndarray,
        pop_lon_deg: np.ndarray,
        hubs: np.ndarray | None = None,
    ) -> np.ndarray:
        """(G, P) great-circle ground distance from each gateway to each PoP along the fibre.

        Without ``backbone``: straight from the gateway to the PoP. With it: to the nearest
        hub PoP (``hubs``, (P,) bool, default every PoP), then PoP to PoP; a gateway's own hub
        reaches itself directly.
        """
        g_lat = np.asarray(gateway_lat_deg, dtype=np.float64)[:, None]
        g_lon = np.asarray(gateway_lon_deg, dtype=np.float64)[:, None]
        p_lat = np.asarray(pop_lat_deg, dtype=np.float64)
        p_lon = np.asarray(pop_lon_deg, dtype=np.float64)
        direct = great_circle_km(g_lat, g_lon, p_lat[None, :], p_lon[None, :])
        if not self.backbone or direct.size == 0:
            return direct
        hub = np.ones(len(p_lat), bool) if hubs is None else np.asarray(hubs, dtype=bool)
        if not hub.any():
            return direct
        to_hub = np.where(hub[None, :], direct, np.inf)
        local = np.argmin(to_hub, axis=1)  # (G,) the gateway's nearest hub PoP
        pop_pop = great_circle_km(
            p_lat[local][:, None], p_lon[local][:, None], p_lat[None, :], p_lon[None, :]
        )
        return direct[np.arange(len(local)), local][:, None] + pop_pop

    def rtt_percentiles(
        self,
        rtt_ms: np.ndarray,
        levels: tuple[float, ...] = (0.2, 0.5, 0.8),
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """Percentiles of RTT over the slots of each row of ``rtt_ms`` (N, T).

        ``rtt_ms`` are slot RTTs as a step gives them (with the scheduling median); each slot's
        delay is replaced by its whole distribution and the mixture's quantiles are returned,
        (N, len(levels)), NaN for a row without a routed slot.
        """
        base = np.asarray(rtt_ms, dtype=np.float64) - self.scheduling.median_ms
        return mixture_quantiles(base, self.scheduling, levels, weights=weights)
