"""skyfence.orbits: element sets, Walker shells and presets, SGP4 propagation, frames, clustering.

>>> from skyfence.orbits import Constellation, preset_names
>>> preset_names()
['kuiper', 'starlink-gen1']
"""

from skyfence.orbits.clustering import ClusterResult, cluster_constellation
from skyfence.orbits.constellation import STATUSES, Constellation, elements_from_satrecs
from skyfence.orbits.elements import ElementSet
from skyfence.orbits.ephemeris import SGP4_ERRORS, Ephemeris
from skyfence.orbits.frames import ecef_to_geodetic, geodetic_to_ecef, gmst_rad, teme_to_ecef
from skyfence.orbits.presets import Preset, get_preset, preset_elements, preset_names
from skyfence.orbits.walker import (
    ShellInfo,
    mean_altitude_km,
    mean_motion_for_altitude,
    walker_shell,
)

__all__ = [
    "ElementSet",
    "Constellation",
    "Ephemeris",
    "SGP4_ERRORS",
    "ShellInfo",
    "STATUSES",
    "walker_shell",
    "mean_altitude_km",
    "mean_motion_for_altitude",
    "Preset",
    "preset_names",
    "get_preset",
    "preset_elements",
    "cluster_constellation",
    "ClusterResult",
    "elements_from_satrecs",
    "gmst_rad",
    "teme_to_ecef",
    "ecef_to_geodetic",
    "geodetic_to_ecef",
]
