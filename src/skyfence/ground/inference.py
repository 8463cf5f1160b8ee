"""Gateways inferred where a gateway list has holes.

Public gateway lists lag the network: the community list of Starlink gateways is mostly from
2021–23 filings, and many gateways built since (Africa, South and East Asia) are missing. A
terminal homed on a PoP with no listed gateway nearby then lands at the nearest listed gateway
— often thousands of kilometres away, after several laser hops — and rides fibre back: tens
of milliseconds that the real network does not have.

The rule, :func:`infer_gateways`:

* A PoP that **serves customers** (it is the home PoP of at least one place of the customer
  table, e.g. Starlink's GeoIP city table) is assumed to have gateways within ``radius_km``:
  the operator lands a PoP's traffic near it.
* Where no listed gateway stands within ``radius_km`` of such a PoP, one gateway is inferred
  **at the PoP**.
* Only in a country that **licenses** the service: the PoP's country must be one where the
  network has customers (a country of the customer table). A PoP in any other country (e.g.
  Karachi, a PoP in a country without service) gets none. Without a customer table no country
  is known to license the service and nothing is inferred.

Inferred sites carry ``inferred=True`` and ids ``inferred-<PoP id>``; they are never mixed
silently with listed ones: every output that names a gateway says which it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from skyfence.errors import InputError
from skyfence.geodesy import great_circle_km
from skyfence.ground.sites import GroundSites

__all__ = ["infer_gateways", "with_inferred_gateways"]


def infer_gateways(
    gateways: GroundSites,
    pops: GroundSites,
    *,
    serving: np.ndarray,
    licensed_countries: Iterable[str],
    radius_km: float,
) -> GroundSites:
    """The gateways to infer (only those; see the module docs for the rule).

    Parameters
    ----------
    gateways : GroundSites
        The listed gateways.
    pops : GroundSites
        The PoPs, with ISO alpha-2 countries.
    serving : (P,) bool
        Which PoPs serve customers (e.g. :meth:`skyfence.links.PopMap.serves`).
    licensed_countries : iterable of str
        ISO alpha-2 codes of the countries that license the service.
    radius_km : float
        A serving PoP with no listed gateway within this distance gets one inferred gateway.

    Returns
    -------
    GroundSites
        Kind ``gateway``, ``inferred=True``, one row per PoP that gets one (in PoP order).

    Examples
    --------
    >>> pops = GroundSites.from_arrays([-26.1, 50.1], [28.2, 8.7], kind="pop",
    ...                                id=["jhngzaf1", "frntdeu1"], country=["ZA", "DE"])
    >>> listed = GroundSites.from_arrays([50.0], [8.5], kind="gateway", country="DE")
    >>> inf = infer_gateways(listed, pops, serving=np.array([True, True]),
    ...                      licensed_countries=["ZA", "DE"], radius_km=300.0)
    >>> inf.id.tolist(), inf.inferred.tolist()
    (['inferred-jhngzaf1'], [True])
    """
    if not (np.isfinite(radius_km) and radius_km > 0):
        raise InputError(f"the inference radius must be > 0 km, got {radius_km}")
    serving = np.asarray(serving, dtype=bool)
    if serving.shape != (len(pops),):
        raise InputError(f"serving must have one flag per PoP ({len(pops)}), got {serving.shape}")
    licensed = {str(c).strip().upper() for c in licensed_countries if str(c).strip()}
    country = np.asarray([str(c).strip().upper() for c in pops.country], dtype=object)
    in_licensed = np.asarray([c in licensed for c in country], dtype=bool)
    listed = gateways.subset(~gateways.inferred) if len(gateways) else gateways
    if len(listed):
        d = great_circle_km(
            pops.latitude_deg[:, None], pops.longitude_deg[:, None],
            listed.latitude_deg[None, :], listed.longitude_deg[None, :],
        )  # fmt: skip
        nearest_km = d.min(axis=1)
    else:
        nearest_km = np.full(len(pops), np.inf)
    rows = np.flatnonzero(serving & in_licensed & (nearest_km > radius_km))
    # one gateway per place: two PoP codes at one site (jtnaidn1/2) get one gateway
    _, first = np.unique(
        np.round(np.column_stack([pops.latitude_deg[rows], pops.longitude_deg[rows]]), 4),
        axis=0, return_index=True,
    )  # fmt: skip
    rows = rows[np.sort(first)]
    ids = np.asarray([f"inferred-{pops.id[i]}" for i in rows], dtype=object)
    return GroundSites(
        id=ids, name=np.asarray([f"inferred at {pops.name[i]}" for i in rows], dtype=object),
        kind=np.full(len(rows), "gateway", dtype=object),
        latitude_deg=pops.latitude_deg[rows].copy(), longitude_deg=pops.longitude_deg[rows].copy(),
        altitude_m=np.zeros(len(rows)), country=country[rows].copy(),
        source="inferred", inferred=np.ones(len(rows), bool),
    )  # fmt: skip


def with_inferred_gateways(gateways: GroundSites, inferred: GroundSites) -> GroundSites:
    """The listed gateways followed by the inferred ones (the listed table's source kept)."""
    if len(inferred) == 0:
        return gateways
    both = gateways.concat(inferred.with_kind("gateway"))
    return dataclasses.replace(both, source=gateways.source)
