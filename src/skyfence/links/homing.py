"""Where a terminal's traffic leaves the network and which gateways and PoPs it may use.

:class:`PopMap` homes each terminal on the PoP of the nearest listed place (like Starlink's GeoIP
table; without one the nearest PoP is home), :func:`load_pop_map` reads such a table from CSV, and
:class:`LandingConstraint` restricts the gateways and PoPs each class of terminals may use
("traffic from X must land in X").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skyfence.errors import ConfigurationError, NotFoundError, ParseError
from skyfence.ground.sites import GroundSites

__all__ = ["PopMap", "LandingConstraint", "load_pop_map"]


@dataclass(frozen=True)
class PopMap:
    """Home PoP by place: each terminal is homed on the PoP of the nearest listed location.

    Attributes
    ----------
    latitude_deg, longitude_deg : (M,) float64
    pop : (M,) str
        PoP code (matched case-insensitively to the model's PoP ids).
    country : (M,) str, optional
        ISO alpha-2 country of each place (the customers' country), when the table has it.
    """

    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    pop: np.ndarray
    source: str = ""
    country: np.ndarray | None = None

    def serves(self, pops: GroundSites) -> np.ndarray:
        """(P,) bool: which PoPs of ``pops`` are the home of at least one listed place."""
        codes = {str(c).lower() for c in self.pop}
        return np.asarray([str(v).lower() in codes for v in pops.id], dtype=bool)

    def countries(self) -> set[str]:
        """The countries with customers (upper-case ISO alpha-2); empty without a country
        column."""
        if self.country is None:
            return set()
        return {str(c).strip().upper() for c in self.country if str(c).strip()}

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
    city table: ``country, region, city, latitude_deg, longitude_deg, pop, pops``); an optional
    ``country`` column (ISO alpha-2) says where the network has customers.

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
    lat, lon, pop, country = [], [], [], []
    has_country = "country" in rows[0]
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
        country.append((r.get("country") or "").strip().upper())
    if not pop:
        raise ParseError("no row has a PoP code", source=str(p))
    return PopMap(
        np.asarray(lat), np.asarray(lon), np.asarray(pop, dtype=object), source=p.name,
        country=np.asarray(country, dtype=object) if has_country else None,
    )  # fmt: skip


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
