"""Constellation presets built from public filings, each with its source.

Every preset is a list of :class:`~skyfence.orbits.walker.ShellInfo`; satellites are generated
with :func:`~skyfence.orbits.walker.walker_shell`, so each shell flies at its filed altitude
(mean over one orbit of |r| − 6,378.137 km, within 10 m).

What the filings do not say and skyfence therefore chooses (and says so here):

* the Walker phasing factor F — skyfence uses F = 1 for every shell;
* RAAN of the first plane — 0°; planes are spread over 360° (Walker delta);
* the epoch — :data:`~skyfence.orbits.walker.DEFAULT_EPOCH` unless given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skyfence.errors import NotFoundError
from skyfence.orbits.elements import ElementSet
from skyfence.orbits.walker import FIRST_SYNTHETIC_NORAD_ID, ShellInfo

__all__ = ["Preset", "PRESETS", "preset_names", "get_preset", "preset_elements"]

_STARLINK_GEN1_SOURCE = (
    "FCC modification order of 27 Apr 2021 (FCC 21-48); shells as tabulated "
    "by Bassa et al., A&A 657, A75 (2022), Table 1"
)
_KUIPER_SOURCE = "FCC authorisation of Kuiper Systems LLC, 30 Jul 2020 (FCC 20-102)"


@dataclass(frozen=True)
class Preset:
    """A named constellation: its shells, a one-line description and its source."""

    name: str
    description: str
    source: str
    shells: tuple[ShellInfo, ...]

    @property
    def total(self) -> int:
        """Satellites over all shells."""
        return sum(s.total for s in self.shells)


def _shell(alt: float, inc: float, planes: int, per_plane: int, source: str) -> ShellInfo:
    return ShellInfo(
        name=f"{alt:.0f}km-{inc:.1f}deg",
        altitude_km=alt,
        inclination_deg=inc,
        planes=planes,
        sats_per_plane=per_plane,
        phasing=1,
        raan_spread_deg=360.0,
        source=source,
    )


PRESETS: dict[str, Preset] = {
    "starlink-gen1": Preset(
        name="starlink-gen1",
        description="Starlink first generation as authorised by the FCC in April 2021 "
        "(4,408 satellites in 5 shells)",
        source=_STARLINK_GEN1_SOURCE,
        shells=(
            _shell(550.0, 53.0, 72, 22, _STARLINK_GEN1_SOURCE),
            _shell(540.0, 53.2, 72, 22, _STARLINK_GEN1_SOURCE),
            _shell(570.0, 70.0, 36, 20, _STARLINK_GEN1_SOURCE),
            _shell(560.0, 97.6, 6, 58, _STARLINK_GEN1_SOURCE),
            ShellInfo(
                name="560km-97.6deg-b",
                altitude_km=560.0,
                inclination_deg=97.6,
                planes=4,
                sats_per_plane=43,
                phasing=1,
                raan_spread_deg=360.0,
                source=_STARLINK_GEN1_SOURCE,
            ),
        ),
    ),
    "kuiper": Preset(
        name="kuiper",
        description="Amazon Project Kuiper as authorised by the FCC in July 2020 "
        "(3,236 satellites in 3 shells)",
        source=_KUIPER_SOURCE,
        shells=(
            _shell(630.0, 51.9, 34, 34, _KUIPER_SOURCE),
            _shell(610.0, 42.0, 36, 36, _KUIPER_SOURCE),
            _shell(590.0, 33.0, 28, 28, _KUIPER_SOURCE),
        ),
    ),
}


def preset_names() -> list[str]:
    """Names of the built-in presets.

    Examples
    --------
    >>> preset_names()
    ['kuiper', 'starlink-gen1']
    """
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; raises NotFoundError listing the valid names."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise NotFoundError(
            f"no constellation preset {name!r}; choose one of: {', '.join(preset_names())}"
        )
    return PRESETS[key]


def preset_elements(name: str, epoch: np.datetime64 | str | None = None) -> ElementSet:
    """Generate every satellite of a preset, shells in order, numbered from 90000.

    Examples
    --------
    >>> len(preset_elements("starlink-gen1"))
    4408
    """
    preset = get_preset(name)
    sets = []
    next_id = FIRST_SYNTHETIC_NORAD_ID
    for shell in preset.shells:
        sets.append(shell.elements(epoch, first_norad_id=next_id))
        next_id += shell.total
    return ElementSet.concatenate(sets, source=f"preset {preset.name}")
