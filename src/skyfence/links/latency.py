"""Latency model: the constants and conversions every RTT in skyfence uses.

* Space segment (terminal ↔ satellite, lasers, satellite ↔ gateway): straight lines at the speed
  of light in vacuum, :data:`SPEED_OF_LIGHT_KM_S`.
* Terrestrial fibre (gateway → PoP, and the fibre baseline between cities): great-circle distance
  × ``route_factor`` (default 1.5: fibre routes are longer than the great circle; 1.5 is a
  common planning factor, in line with measured Internet path inflation) at c / 1.47 (group
  index of standard single-mode fibre, ITU-T G.652, ≈ 1.467).
* A fixed ``overhead_ms`` per round trip (default 4 ms) for processing in dish, satellites,
  gateway and PoP. Queuing and MAC scheduling are **not** modelled: measured Starlink idle RTTs
  to the PoP (~25–40 ms) are well above the geometric RTT (~8–15 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skyfence.errors import InputError
from skyfence.geodesy import SPEED_OF_LIGHT_KM_S

__all__ = ["SPEED_OF_LIGHT_KM_S", "FIBRE_INDEX", "LatencyModel"]

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
    """

    route_factor: float = 1.5
    fibre_index: float = FIBRE_INDEX
    overhead_ms: float = 4.0

    def __post_init__(self) -> None:
        if not self.route_factor >= 1.0:
            raise InputError(
                f"route_factor must be >= 1 (fibre is never shorter than the great circle), got {self.route_factor}"
            )
        if not self.fibre_index >= 1.0:
            raise InputError(f"fibre_index must be >= 1, got {self.fibre_index}")
        if not self.overhead_ms >= 0.0:
            raise InputError(f"overhead_ms must be >= 0, got {self.overhead_ms}")

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
