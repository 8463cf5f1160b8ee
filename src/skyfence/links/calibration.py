"""Named, versioned latency models, and how they are fitted to published latency and scored.

A **latency model** (:class:`NamedLatencyModel`) is everything that turns the network's
geometry into the RTT a user measures: the :class:`~skyfence.links.LatencyModel` parameters
(fibre route factor, PoP backbone, fixed overhead, delay per laser hop, the per-slot
scheduling delay), the gateway-inference radius (:mod:`skyfence.ground.inference`) and the
elevation above which a gateway talks to a satellite (the gateway mask: it decides which
satellites can bring a terminal's traffic down at a gateway, so it changes routes).
It is stored as a JSON file with its name, version, the data it was fitted on, the fitted
values with their units, and its cross-validated figures. Five are built in
(:func:`load_latency_model`):

``starlink-2026-03c`` (the default of every command, :data:`DEFAULT_LATENCY_MODEL`)
    Fitted to Starlink's published per-country latency of March 2026 (78 countries): a city
    whose customers are homed on several PoPs stands for each of them, and the structure
    screen compares whole predicted distributions (docs/fidelity.md).
``starlink-2026-03b``
    The second fit (gateways' elevation mask fitted, structures screened by their median);
    kept loadable.
``starlink-2026-03``
    The first fit to the same figures (gateway mask fixed at 25°); kept loadable.
``none``
    skyfence's uncalibrated model: route factor 1.5, 4 ms overhead, no scheduling delay, no
    inferred gateways — the numbers skyfence gave before models existed.
``hypatia``
    Hypatia's rule: propagation only (no overhead, no scheduling, no per-hop delay), no
    inferred gateways. Hypatia directories (``links hypatia``) are always routed by Hypatia's
    rules, whatever model is chosen.

Fitting (:func:`fit`) works on **precomputed slot RTTs**: for each candidate structure (a grid
of inference radius, route factor, per-hop delay and gateway mask, each of which changes routes
and needs a network run) the caller gives every country's slot RTTs without overhead and scheduling delay;
:func:`fit` screens every structure by its whole predicted distribution — the 20th, 50th and
80th percentiles of the mixture over slots and places, with a scheduling delay fitted per
structure (:data:`SCREEN_MEDIANS_MS` x :data:`SCREEN_SIGMAS`, the overhead solved exactly) —
against the published ``better20`` / median / ``worse20`` columns, then refines the scheduling
distribution (median, spread) and the overhead for the structure that wins. :func:`cross_validate` repeats the whole fit inside each of ``k`` folds and
predicts the held-out countries, so the reported error is out of sample;
:func:`repeated_cross_validation` does that for several fold assignments and says how much the
figure moves between them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.errors import InputError, NotFoundError, ParseError
from skyfence.links.delay import SchedulingDelay, mixture_quantiles
from skyfence.links.latency import FIBRE_INDEX, LatencyModel

__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_GATEWAY_MIN_ELEVATION_DEG",
    "DEFAULT_LATENCY_MODEL",
    "LEVELS",
    "MODEL_FORMAT",
    "CountryData",
    "FitResult",
    "NamedLatencyModel",
    "Structure",
    "cross_validate",
    "fit",
    "load_latency_model",
    "predict",
    "repeated_cross_validation",
    "score",
    "screen_quantiles",
]

MODEL_FORMAT = "skyfence-latency-model/1"
DEFAULT_LATENCY_MODEL = "starlink-2026-03c"
#: Built-in model names: shipped files, and the two rule-based models.
BUILTIN_MODELS = (
    "starlink-2026-03c", "starlink-2026-03b", "starlink-2026-03", "none", "hypatia",
)  # fmt: skip
#: The gateway elevation mask a model without one routes with (the network's default).
DEFAULT_GATEWAY_MIN_ELEVATION_DEG = 25.0
#: Percentile levels compared with the published columns: ``latency_ms_better20`` (the 20th
#: percentile of RTT), ``latency_ms_p50`` and ``latency_ms_worse20`` (the 80th).
LEVELS = (0.2, 0.5, 0.8)


@dataclass(frozen=True)
class NamedLatencyModel:
    """A latency model with its name, version and provenance (see the module docs).

    Attributes
    ----------
    latency : LatencyModel
    infer_radius_km : float or None
        Gateways are inferred at serving PoPs with no listed gateway within this distance;
        ``None`` = no inference.
    gateway_min_elevation_deg : float or None
        The gateways' elevation mask the model was fitted with (routing uses it); ``None`` =
        the network's default, :data:`DEFAULT_GATEWAY_MIN_ELEVATION_DEG`.
    fitted_on : dict
        What it was fitted to (files, window, countries); empty for rule-based models.
    cross_validation : dict
        Out-of-sample figures (MAE, bias, rank correlation per percentile, folds).
    parameters : list of dict
        ``{name, value, unit, fitted, note}`` of every parameter, for reports.
    """

    name: str
    version: str
    latency: LatencyModel
    infer_radius_km: float | None = None
    gateway_min_elevation_deg: float | None = None
    description: str = ""
    fitted_on: dict[str, Any] = field(default_factory=dict)
    cross_validation: dict[str, Any] = field(default_factory=dict)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""

    @property
    def infers_gateways(self) -> bool:
        return self.infer_radius_km is not None

    def without_inference(self) -> NamedLatencyModel:
        """The same model with gateway inference off."""
        return replace(self, infer_radius_km=None)

    @property
    def label(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}" if self.version else self.name

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the model file)."""
        lat = self.latency
        return {
            "format": MODEL_FORMAT,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "latency": {
                "route_factor": lat.route_factor,
                "fibre_index": lat.fibre_index,
                "overhead_ms": lat.overhead_ms,
                "laser_hop_ms": lat.laser_hop_ms,
                "backbone": lat.backbone,
                "scheduling_median_ms": lat.scheduling.median_ms,
                "scheduling_sigma": lat.scheduling.sigma,
            },
            "gateway_inference": {
                "enabled": self.infer_radius_km is not None,
                "radius_km": self.infer_radius_km,
                "rule": "a PoP that serves customers in a country with customers gets one "
                "inferred gateway at the PoP when no listed gateway stands within radius_km",
            },
            "network": {"gateway_min_elevation_deg": self.gateway_min_elevation_deg},
            "parameters": self.parameters,
            "fitted_on": self.fitted_on,
            "cross_validation": self.cross_validation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> NamedLatencyModel:
        """Read the JSON form; a missing or wrong field is a :class:`ParseError`."""
        where = source or "latency model"
        if not isinstance(data, Mapping) or data.get("format") != MODEL_FORMAT:
            raise ParseError(
                f'not a skyfence latency model (expected "format": "{MODEL_FORMAT}")',
                source=where,
            )
        try:
            lat = data["latency"]
            latency = LatencyModel(
                route_factor=float(lat["route_factor"]),
                fibre_index=float(lat.get("fibre_index", FIBRE_INDEX)),
                overhead_ms=float(lat["overhead_ms"]),
                laser_hop_ms=float(lat.get("laser_hop_ms", 0.0)),
                backbone=bool(lat.get("backbone", False)),
                scheduling=SchedulingDelay(
                    float(lat.get("scheduling_median_ms", 0.0)),
                    float(lat.get("scheduling_sigma", 0.0)),
                ),
            )
            inf = data.get("gateway_inference") or {}
            radius = inf.get("radius_km") if inf.get("enabled") else None
            mask = (data.get("network") or {}).get("gateway_min_elevation_deg")
            mask = None if mask is None else float(mask)
            if mask is not None and not (0.0 <= mask < 90.0):
                raise ValueError(f"network.gateway_min_elevation_deg {mask:g} is not within 0..90")
            return cls(
                name=str(data["name"]),
                version=str(data.get("version", "")),
                latency=latency,
                infer_radius_km=None if radius is None else float(radius),
                gateway_min_elevation_deg=mask,
                description=str(data.get("description", "")),
                fitted_on=dict(data.get("fitted_on") or {}),
                cross_validation=dict(data.get("cross_validation") or {}),
                parameters=list(data.get("parameters") or []),
                source=source,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError) or "gateway_min_elevation_deg" in str(exc):
                raise ParseError(str(exc), source=where) from None
            raise ParseError(
                f"missing or malformed field ({exc}); a latency model file has format, name, "
                "version, latency{route_factor, overhead_ms, ...} and gateway_inference",
                source=where,
            ) from None

    def save(self, path: str | Path) -> Path:
        """Write the model file atomically (a temporary file renamed into place)."""
        p = Path(path).expanduser()
        p.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p


def _rule_model(name: str) -> NamedLatencyModel:
    if name == "none":
        return NamedLatencyModel(
            "none", "1", LatencyModel(),
            description="skyfence's uncalibrated model: fibre x 1.5 at c/1.47 straight to the "
            "home PoP, 4 ms fixed overhead, no scheduling delay, no inferred gateways",
            source="built-in",
        )  # fmt: skip
    return NamedLatencyModel(
        "hypatia", "1", LatencyModel(overhead_ms=0.0),
        description="Hypatia's rule: propagation delay only (no processing, scheduling or "
        "per-hop delay), no inferred gateways",
        source="built-in",
    )  # fmt: skip


def load_latency_model(spec: str | Path | None = None) -> NamedLatencyModel:
    """A latency model by built-in name (:data:`BUILTIN_MODELS`) or from a model file.

    ``None`` gives :data:`DEFAULT_LATENCY_MODEL`.

    Examples
    --------
    >>> load_latency_model("none").latency.overhead_ms
    4.0
    >>> load_latency_model("hypatia").latency.overhead_ms
    0.0
    """
    text = DEFAULT_LATENCY_MODEL if spec is None else str(spec).strip()
    key = text.lower()
    if key in ("none", "hypatia"):
        return _rule_model(key)
    if key in BUILTIN_MODELS:
        ref = resources.files("skyfence.links") / "models" / f"{key}.json"
        try:
            data = json.loads(ref.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(
                f"the built-in latency model {key!r} is missing from this installation; "
                "reinstall skyfence or pass --latency-model none"
            ) from None
        return NamedLatencyModel.from_dict(data, source=f"built-in {key}")
    p = Path(text).expanduser()
    if not p.is_file():
        raise NotFoundError(
            f"latency model {text!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) "
            "nor an existing file"
        )
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg}", source=str(p), line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read latency model {p}: {exc}") from None
    return NamedLatencyModel.from_dict(data, source=str(p))


# ----------------------------------------------------------------------------- fitting
@dataclass(frozen=True)
class Structure:
    """One candidate of the parameters that change routes (each needs a network run)."""

    infer_radius_km: float | None
    route_factor: float
    laser_hop_ms: float
    gateway_min_elevation_deg: float = DEFAULT_GATEWAY_MIN_ELEVATION_DEG

    def to_dict(self) -> dict[str, Any]:
        return {
            "infer_radius_km": self.infer_radius_km,
            "route_factor": self.route_factor,
            "laser_hop_ms": self.laser_hop_ms,
            "gateway_min_elevation_deg": self.gateway_min_elevation_deg,
        }


@dataclass(frozen=True)
class CountryData:
    """Published percentiles of ``C`` countries and, per candidate structure, their slot RTTs.

    Attributes
    ----------
    codes : (C,) str
    published : (C, 3) float
        ms at :data:`LEVELS`: the 20th percentile (``better20``), median, 80th (``worse20``).
    base_ms : dict Structure -> (C, M) float
        Slot RTTs without the overhead and the scheduling delay (path + per-hop delay); NaN
        pads a country with fewer samples or a slot without a route.
    weights : (C, M) float
        Weight of each sample (a place's share of its country's customers / its slots).
    """

    codes: np.ndarray
    published: np.ndarray
    base_ms: dict[Structure, np.ndarray]
    weights: np.ndarray

    def __post_init__(self) -> None:
        C = len(self.codes)
        if self.published.shape != (C, 3):
            raise InputError(f"published must be ({C}, 3), got {self.published.shape}")
        for s, b in self.base_ms.items():
            if b.shape != self.weights.shape or b.shape[0] != C:
                raise InputError(
                    f"slot RTTs of {s} have shape {b.shape}, weights {self.weights.shape}"
                )

    def subset(self, rows: np.ndarray) -> CountryData:
        return CountryData(
            self.codes[rows], self.published[rows],
            {s: b[rows] for s, b in self.base_ms.items()}, self.weights[rows],
        )  # fmt: skip


def predict(
    base_ms: np.ndarray, weights: np.ndarray, overhead_ms: float, delay: SchedulingDelay
) -> np.ndarray:
    """(C, 3) predicted percentiles at :data:`LEVELS` from slot RTTs without delays."""
    return mixture_quantiles(
        base_ms + overhead_ms, delay, LEVELS, weights=weights, tolerance_ms=1e-4
    )


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` chose: the structure, the overhead and the scheduling delay."""

    structure: Structure
    overhead_ms: float
    scheduling: SchedulingDelay
    train_mae_ms: float

    def latency(self, fibre_index: float = FIBRE_INDEX, backbone: bool = True) -> LatencyModel:
        s = self.structure
        return LatencyModel(
            route_factor=s.route_factor, fibre_index=fibre_index, overhead_ms=self.overhead_ms,
            laser_hop_ms=s.laser_hop_ms, backbone=backbone, scheduling=self.scheduling,
        )  # fmt: skip


#: Weight of the 20th/80th-percentile errors next to the median's in the delay fit: the
#: median is the target; the outer percentiles give the distribution its shape.
SPREAD_WEIGHT = 0.5
#: Bounds of the fitted delay parameters: overhead 0..40 ms, scheduling median 0.05..60 ms,
#: sigma 0..2 (a p80/p50 ratio of at most 5.4).
_BOUNDS = ((0.0, 40.0), (0.05, 60.0), (0.0, 2.0))
#: The scheduling delays every candidate structure is screened with (median ms x sigma): the
#: screen compares each structure's whole predicted distribution (20th, 50th and 80th
#: percentiles of the mixture over slots and places) with the published one, the delay fitted
#: per structure from these candidates (and the overhead exactly, see :func:`fit`).
SCREEN_MEDIANS_MS = (4.0, 7.0, 10.0, 13.0, 16.0, 20.0)
SCREEN_SIGMAS = (0.15, 0.3, 0.45, 0.6, 0.8)
#: Error a country without a route adds to a candidate's screen score, ms.
_NO_ROUTE_MS = 100.0
_LEVEL_WEIGHTS = np.array([SPREAD_WEIGHT, 1.0, SPREAD_WEIGHT])


def _weighted_median(base: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return mixture_quantiles(base, SchedulingDelay(), (0.5,), weights=weights)[:, 0]


def screen_quantiles(data: CountryData) -> dict[Structure, np.ndarray]:
    """Per structure, ``(G, C, 3)`` predicted percentiles (without the overhead) of every
    country under each screen delay (:data:`SCREEN_MEDIANS_MS` x :data:`SCREEN_SIGMAS`, in
    that order). They do not depend on the published figures, so :func:`cross_validate`
    computes them once and every fold reads its training rows."""
    out = {}
    for s, base in data.base_ms.items():
        out[s] = np.stack([
            mixture_quantiles(base, SchedulingDelay(m, sg), LEVELS, weights=data.weights,
                              tolerance_ms=1e-3)
            for m in SCREEN_MEDIANS_MS for sg in SCREEN_SIGMAS
        ])  # fmt: skip
    return out


def _overhead(q: np.ndarray, pub: np.ndarray) -> tuple[float, float]:
    """The overhead ``c`` (within its bounds) minimising ``mean_country sum_level
    weight_level |q + c - pub|`` (a weighted median: exact), and that error; a country
    without a prediction adds :data:`_NO_ROUTE_MS`."""
    ok = np.isfinite(q).all(axis=1)
    d = (pub[ok] - q[ok]).reshape(-1)
    w = np.broadcast_to(_LEVEL_WEIGHTS, q[ok].shape).reshape(-1)
    fin = np.isfinite(d)
    d, w = d[fin], w[fin]
    missing = float(np.sum(~ok)) * _NO_ROUTE_MS
    if len(d) == 0:
        return 0.0, missing + _NO_ROUTE_MS * len(q)
    o = np.argsort(d, kind="stable")
    cw = np.cumsum(w[o])
    c = float(np.clip(d[o][np.searchsorted(cw, 0.5 * cw[-1])], *_BOUNDS[0]))
    return c, (float(np.sum(w * np.abs(d - c))) + missing) / len(q)


def fit(data: CountryData, screen: Mapping[Structure, np.ndarray] | None = None) -> FitResult:
    """Fit a model to the countries of ``data`` (see the module docs).

    The error of a candidate is the mean absolute error of the median plus
    :data:`SPREAD_WEIGHT` x those of the 20th and 80th percentiles, the predicted
    percentiles being those of the whole mixture over each country's slots and places.

    1. **Structure screen**: for every candidate structure and every screen delay
       (:func:`screen_quantiles`; ``screen`` passes them precomputed for ``data``'s
       countries), the overhead that minimises that error (exactly: a weighted median); the
       structure and delay with the smallest error win (ties: the first given).
    2. For that structure, the scheduling median and sigma are refined (bounded Powell search
       from the screen's delay), the overhead solved exactly at every step.
    """
    from scipy.optimize import minimize

    if not data.base_ms:
        raise InputError("no candidate structure to fit")
    pub = data.published
    table = screen_quantiles(data) if screen is None else screen
    cands = [(m, sg) for m in SCREEN_MEDIANS_MS for sg in SCREEN_SIGMAS]
    best: tuple[float, Structure, int] | None = None
    for s in data.base_ms:
        q = table[s]
        for g in range(len(cands)):
            _, err = _overhead(q[g], pub)
            if best is None or err < best[0] - 1e-9:
                best = (err, s, g)
    if best is None or best[0] >= _NO_ROUTE_MS * len(pub):
        raise InputError("no country has a route under any candidate structure")
    _, structure, g = best
    base = data.base_ms[structure]
    ok = np.isfinite(_weighted_median(base, data.weights))
    base, w, pub = base[ok], data.weights[ok], pub[ok]
    lo, hi = np.array(_BOUNDS[1:]).T

    def solve(x: np.ndarray) -> tuple[float, float, float, float]:
        median, sigma = (float(v) for v in np.clip(x, lo, hi))
        q = mixture_quantiles(base, SchedulingDelay(median, sigma), LEVELS, weights=w,
                              tolerance_ms=1e-4)  # fmt: skip
        c, err = _overhead(q, pub)
        return err, c, median, sigma

    res = minimize(
        lambda x: solve(x)[0], np.array(cands[g]), method="Powell", bounds=_BOUNDS[1:],
        options={"xtol": 1e-3, "ftol": 1e-5},
    )  # fmt: skip
    err, overhead, median, sigma = solve(res.x)
    return FitResult(
        structure, round(overhead, 3), SchedulingDelay(round(median, 3), round(sigma, 4)), err
    )


def score(predicted: np.ndarray, published: np.ndarray) -> dict[str, Any]:
    """MAE, bias (mean predicted − published) and Spearman rank correlation, ms; countries
    without a prediction are counted in ``missing`` and left out."""
    from scipy.stats import spearmanr

    pr, pu = np.asarray(predicted, dtype=np.float64), np.asarray(published, dtype=np.float64)
    ok = np.isfinite(pr) & np.isfinite(pu)
    out: dict[str, Any] = {"n": int(ok.sum()), "missing": int((~ok).sum())}
    if ok.sum() == 0:
        return out | {"mae_ms": None, "bias_ms": None, "rank_correlation": None}
    err = pr[ok] - pu[ok]
    rho = float(spearmanr(pr[ok], pu[ok])[0]) if ok.sum() > 2 else float("nan")
    return out | {
        "mae_ms": round(float(np.mean(np.abs(err))), 3),
        "bias_ms": round(float(np.mean(err)), 3),
        "rank_correlation": round(rho, 4) if np.isfinite(rho) else None,
    }


def fold_of(n: int, folds: int, seed: int = 0) -> np.ndarray:
    """(n,) fold number of each item: a seeded random permutation dealt round-robin."""
    if not (isinstance(folds, int) and 2 <= folds <= n):
        raise InputError(f"folds must be a whole number within 2..{n} (the countries), got {folds}")
    order = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, np.int64)
    out[order] = np.arange(n) % folds
    return out


def cross_validate(
    data: CountryData,
    folds: int = 10,
    seed: int = 0,
    screen: Mapping[Structure, np.ndarray] | None = None,
) -> tuple[np.ndarray, list[FitResult]]:
    """Out-of-sample predictions: each fold's countries predicted by a :func:`fit` on the
    others. Returns ``(predicted (C, 3), the fold fits)``. ``screen`` passes
    :func:`screen_quantiles` of ``data`` precomputed (they do not depend on the folds)."""
    fold = fold_of(len(data.codes), folds, seed)
    out = np.full((len(data.codes), 3), np.nan)
    fits = []
    # per country, so each fold reads its training rows
    table = screen_quantiles(data) if screen is None else screen
    for k in range(folds):
        test = np.flatnonzero(fold == k)
        train = np.flatnonzero(fold != k)
        f = fit(data.subset(train), {s: q[:, train] for s, q in table.items()})
        fits.append(f)
        out[test] = predict(
            data.base_ms[f.structure][test], data.weights[test], f.overhead_ms, f.scheduling
        )
    return out, fits


def repeated_cross_validation(
    data: CountryData,
    folds: int = 10,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    screen: Mapping[Structure, np.ndarray] | None = None,
    progress: Any = None,
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """:func:`cross_validate` once per fold assignment (one per seed), and how much the
    out-of-sample figures move between assignments: which countries share a fold changes what
    each fold's fit chooses, so one assignment's MAE is one draw. Returns ``({"folds",
    "seeds", "p20" | "p50" | "p80": {"mae_ms": [one per seed], "mean_mae_ms",
    "min_mae_ms", "max_mae_ms"}}, the (C, 3) predictions of each seed)``.
    ``progress(done, total)`` is called after each seed."""
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError(f"give one or more distinct seeds, got {seeds}")
    table = screen_quantiles(data) if screen is None else screen
    maes: dict[str, list[float]] = {"p20": [], "p50": [], "p80": []}
    preds = []
    for i, seed in enumerate(seeds):
        pred, _ = cross_validate(data, folds=folds, seed=seed, screen=table)
        preds.append(pred)
        for level, sc in scores_by_level(pred, data.published).items():
            maes[level].append(sc["mae_ms"])
        if progress is not None:
            progress(i + 1, len(seeds))
    out: dict[str, Any] = {"folds": folds, "seeds": seeds}
    for level, v in maes.items():
        arr = np.asarray([np.nan if x is None else x for x in v], dtype=np.float64)
        ok = bool(np.isfinite(arr).all())
        out[level] = {
            "mae_ms": v,
            "mean_mae_ms": round(float(arr.mean()), 3) if ok else None,
            "min_mae_ms": round(float(arr.min()), 3) if ok else None,
            "max_mae_ms": round(float(arr.max()), 3) if ok else None,
        }
    return out, preds


def scores_by_level(predicted: np.ndarray, published: np.ndarray) -> dict[str, Any]:
    """:func:`score` of each percentile: keys ``p20``, ``p50``, ``p80``."""
    return {
        name: score(predicted[:, i], published[:, i])
        for i, name in enumerate(("p20", "p50", "p80"))
    }


def structures(
    radii_km: Sequence[float | None],
    route_factors: Sequence[float],
    laser_hop_ms: Sequence[float],
    gateway_min_elevation_deg: Sequence[float] = (DEFAULT_GATEWAY_MIN_ELEVATION_DEG,),
) -> list[Structure]:
    """Every combination of the given values (``None`` radius = no inference).

    Examples
    --------
    >>> len(structures([None, 150.0], [1.0, 1.3], [0.0], [25.0, 45.0]))
    8
    """
    return [
        Structure(r, float(f), float(h), float(m))
        for r in radii_km
        for f in route_factors
        for h in laser_hop_ms
        for m in gateway_min_elevation_deg
    ]
