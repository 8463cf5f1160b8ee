"""skyfence.links: visibility, laser links, routing and latency, the 15-s schedule, Hypatia I/O."""

from skyfence.links.delay import SchedulingDelay
from skyfence.links.homing import LandingConstraint, PopMap, load_pop_map
from skyfence.links.hypatia import HypatiaNetwork, HypatiaRoute, read_hypatia, write_hypatia
from skyfence.links.isl import (
    CROSS_PLANE,
    IN_PLANE,
    INTER_SHELL,
    IslTopology,
    SatelliteLayout,
    active_links,
    first_generation,
    inter_shell_links,
    line_of_sight_clear,
    max_isl_length_km,
    plus_grid,
)
from skyfence.links.latency import FIBRE_INDEX, SPEED_OF_LIGHT_KM_S, LatencyModel
from skyfence.links.routing import (
    STATUS_NO_ROUTE,
    STATUS_NO_SATELLITE,
    STATUS_OK,
    MeshRoute,
    NetworkModel,
    StepResult,
)
from skyfence.links.schedule import DEFAULT_RULE, RULES, Schedule, run_schedule
from skyfence.links.visibility import VisiblePairs, elevation_deg, max_slant_range_km, visible_pairs

__all__ = [
    "CROSS_PLANE",
    "DEFAULT_RULE",
    "FIBRE_INDEX",
    "HypatiaNetwork",
    "HypatiaRoute",
    "IN_PLANE",
    "INTER_SHELL",
    "IslTopology",
    "LandingConstraint",
    "LatencyModel",
    "MeshRoute",
    "NetworkModel",
    "PopMap",
    "RULES",
    "SPEED_OF_LIGHT_KM_S",
    "STATUS_NO_ROUTE",
    "STATUS_NO_SATELLITE",
    "STATUS_OK",
    "SatelliteLayout",
    "SchedulingDelay",
    "Schedule",
    "StepResult",
    "VisiblePairs",
    "active_links",
    "elevation_deg",
    "inter_shell_links",
    "line_of_sight_clear",
    "load_pop_map",
    "max_isl_length_km",
    "max_slant_range_km",
    "first_generation",
    "plus_grid",
    "read_hypatia",
    "run_schedule",
    "visible_pairs",
    "write_hypatia",
]
