"""Gateway planner: site candidate gateways on land so that the demo and what-if reports run
without a user's gateway list.

This is a **planning model, not Starlink's real gateway list**. The rule:

1. one gateway at every PoP (real gateways are typically within a few hundred km of their PoP);
2. then a greedy cover of land: sample land points on a Fibonacci lattice (``sample_km`` apart)
   inside the chosen countries and add gateways until every sampled land point has a gateway
   within ``coverage_radius_km`` (the next gateway is the uncovered sample point visited first in
   a fixed west-to-east, north-to-south order, so the plan is deterministic).

Areas to avoid (``avoid(lat, lon) -> (N,) bool``: a region switched off, or one excluded from an
activation) get no gateway at all — neither at a PoP standing there nor from the land cover —
and their land needs no cover.

"On land" and "which country" are a parameter: ``country_of(lat, lon) -> (N,) str`` array of ISO
alpha-2 codes, ``""`` for sea. Pass :func:`regions_country_of` (built on
``skyfence.regions.world()``) or any stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from scipy.spatial import cKDTree

from skyfence.errors import InputError
from skyfence.geodesy import MEAN_EARTH_RADIUS_KM, up_vectors
from skyfence.ground.sites import GroundSites

__all__ = ["Avoid", "CountryOf", "fibonacci_lattice", "plan_gateways", "regions_country_of"]

CountryOf = Callable[[np.ndarray, np.ndarray], np.ndarray]
Avoid = Callable[[np.ndarray, np.ndarray], np.ndarray]


def fibonacci_lattice(spacing_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Near-uniform points on the sphere about ``spacing_km`` apart: ``(latitude_deg, longitude_deg)``."""
    if not spacing_km > 0:
        raise InputError(f"spacing_km must be > 0, got {spacing_km}")
    area = 4.0 * np.pi * MEAN_EARTH_RADIUS_KM**2
    n = max(int(area / (spacing_km**2 * np.sqrt(3) / 2.0)), 2)
    i = np.arange(n) + 0.5
    lat = np.degrees(np.arcsin(1.0 - 2.0 * i / n))
    lon = (np.degrees(np.pi * (1.0 + 5.0**0.5) * i) + 180.0) % 360.0 - 180.0
    return lat, lon


def _chord(km: float) -> float:
    return 2.0 * np.sin(km / (2.0 * MEAN_EARTH_RADIUS_KM))


def plan_gateways(
    pops: GroundSites,
    *,
    country_of: CountryOf | None = None,
    countries: Iterable[str] | None = None,
    coverage_radius_km: float = 500.0,
    sample_km: float = 100.0,
    at_pops: bool = True,
    exclude: Iterable[str] = ("AQ",),
    avoid: Avoid | None = None,
) -> GroundSites:
    """Plan gateways: one at each PoP, then a greedy cover of land within ``coverage_radius_km``.

    Parameters
    ----------
    pops : GroundSites
        PoPs; a gateway is placed at each when ``at_pops``.
    country_of : callable, optional
        ``(lat, lon) -> (N,) str`` ISO2 codes, ``""`` for sea. Without it only PoP gateways are
        planned (there is no land test).
    countries : iterable of str, optional
        Restrict the land cover to these ISO2 codes (default: all land ``country_of`` knows).
    coverage_radius_km : float
        Every sampled land point gets a gateway within this great-circle distance.
    sample_km : float
        Spacing of the land sample lattice (the guarantee holds on these samples).
    exclude : iterable of str
        ISO2 codes never given a cover gateway (default Antarctica).
    avoid : callable, optional
        ``(lat, lon) -> (N,) bool``: places where no gateway may stand (a switched-off or
        excluded region). PoPs there get no gateway and land there is neither a candidate
        site nor in need of cover.

    Returns
    -------
    GroundSites
        Kind ``gateway``; ids ``plan-pop-<pop id>`` and ``plan-<n>``; country from ``country_of``
        (or the PoP's country).

    Examples
    --------
    >>> from skyfence.ground.sites import GroundSites
    >>> pops = GroundSites.from_arrays([0.0], [0.0], kind="pop", country="XX")
    >>> plan_gateways(pops).id.tolist()
    ['plan-pop-pop-0']
    """
    if not coverage_radius_km > 0:
        raise InputError(f"coverage_radius_km must be > 0, got {coverage_radius_km}")
    lat_out: list[np.ndarray] = []
    lon_out: list[np.ndarray] = []
    ids: list[str] = []
    ctry: list[str] = []
    if at_pops and len(pops):
        keep_pop = np.ones(len(pops), dtype=bool)
        if avoid is not None:
            keep_pop = ~_mask(avoid, pops.latitude_deg, pops.longitude_deg)
        lat_out.append(pops.latitude_deg[keep_pop])
        lon_out.append(pops.longitude_deg[keep_pop])
        ids += [f"plan-pop-{i}" for i in np.asarray(pops.id)[keep_pop]]
        pc = np.asarray(pops.country, dtype=object)
        if country_of is not None:
            found = np.asarray(country_of(pops.latitude_deg, pops.longitude_deg), dtype=object)
            pc = np.where(found != "", found, pc)
        ctry += [str(c) for c in pc[keep_pop]]
    if country_of is not None:
        lat, lon = fibonacci_lattice(sample_km)
        cc = np.asarray(country_of(lat, lon), dtype=object)
        keep = (cc != "") & ~np.isin(cc.astype(str), [c.upper() for c in exclude])
        if countries is not None:
            wanted = {c.upper() for c in countries}
            keep &= np.isin(cc.astype(str), sorted(wanted))
        lat, lon, cc = lat[keep], lon[keep], cc[keep]
        if avoid is not None and len(lat):
            ok = ~_mask(avoid, lat, lon)
            lat, lon, cc = lat[ok], lon[ok], cc[ok]
        if len(lat):
            pts = up_vectors(lat, lon)
            tree = cKDTree(pts)
            covered = np.zeros(len(lat), dtype=bool)
            r = _chord(coverage_radius_km)
            if sum(len(a) for a in lat_out):
                seeds = up_vectors(np.concatenate(lat_out), np.concatenate(lon_out))
                for hit in tree.query_ball_point(seeds, r):
                    covered[hit] = True
            order = np.lexsort((-lat, np.round(lon, 0)))
            n_new = 0
            for i in order:
                if covered[i]:
                    continue
                covered[tree.query_ball_point(pts[i], r)] = True
                lat_out.append(lat[i : i + 1])
                lon_out.append(lon[i : i + 1])
                ids.append(f"plan-{n_new}")
                ctry.append(str(cc[i]))
                n_new += 1
    if not ids:
        return GroundSites.empty("gateway")
    return GroundSites.from_arrays(
        np.concatenate(lat_out),
        np.concatenate(lon_out),
        kind="gateway",
        id=ids,
        name=ids,
        country=np.asarray(ctry, dtype=object),
        source=f"skyfence gateway plan (radius {coverage_radius_km:g} km)",
    )


def _mask(avoid: Avoid, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    out = np.asarray(avoid(np.asarray(lat), np.asarray(lon)), dtype=bool)
    if out.shape != np.shape(lat):
        raise InputError(
            f"avoid(lat, lon) must return one bool per point ({np.shape(lat)}), got {out.shape}"
        )
    return out


def regions_country_of() -> CountryOf | None:
    """``country_of`` built on ``skyfence.regions.world()``, or ``None`` if regions is unavailable."""
    try:
        from skyfence.regions import world  # type: ignore[attr-defined]

        w = world()
        idx = w.index()
    except (ImportError, AttributeError):
        return None
    codes = np.asarray([r.id for r in idx.regions] + [""], dtype=object)

    def country_of(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        found = np.asarray(idx.lookup(np.asarray(lat), np.asarray(lon)), dtype=np.int64)
        return codes[np.where(found < 0, len(codes) - 1, found)]

    return country_of
