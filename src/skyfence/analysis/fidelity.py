"""Figures of a latency model's fidelity: predicted against published RTT, and where it errs.

:func:`fidelity_scatter_figure` plots each country's predicted median RTT against the
published one (the diagonal is a perfect model) and names the countries farthest from it;
:func:`fidelity_map_figure` marks each country's places on a world map, coloured by the
error of the median (a diverging scale: blue = predicted too fast, red = too slow). Both
take plain sequences, so any report can draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.analysis.maps import OKABE_ITO, _basemap, _finish, _new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from skyfence.regions import Worldview

__all__ = ["fidelity_map_figure", "fidelity_scatter_figure"]


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def fidelity_scatter_figure(
    codes: Sequence[str],
    published_ms: Sequence[float | None],
    predicted_ms: Sequence[float | None],
    scores: Mapping[str, Any] | None = None,
    title: str = "",
    label_worst: int = 10,
) -> Figure:
    """Predicted against published median RTT per country (ms), the diagonal, and the
    ``label_worst`` countries with the largest errors named; ``scores`` (MAE, bias, rank
    correlation) are printed in the corner."""
    pub = np.asarray([_num(v) for v in published_ms])
    pred = np.asarray([_num(v) for v in predicted_ms])
    ok = np.isfinite(pub) & np.isfinite(pred)
    fig = _new_figure(6.4, 6.0)
    ax = fig.add_subplot()
    hi = float(np.nanmax(np.r_[pub[ok], pred[ok], 10.0])) * 1.08
    ax.plot([0, hi], [0, hi], color="#777777", linewidth=0.8, label="predicted = published")
    ax.fill_between([0, hi], [-5, hi - 5], [5, hi + 5], color="#dddddd", alpha=0.6, label="±5 ms")
    ax.scatter(pub[ok], pred[ok], s=18, color=OKABE_ITO["blue"], zorder=3, label="country")
    err = np.where(ok, pred - pub, 0.0)
    for i in np.argsort(-np.abs(err))[: max(label_worst, 0)]:
        if ok[i]:
            ax.annotate(
                str(codes[i]),
                (pub[i], pred[i]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("published median RTT (ms)")
    ax.set_ylabel("predicted median RTT (ms)")
    ax.grid(alpha=0.3)
    if scores:
        ax.text(
            0.03, 0.97,
            f"n = {scores.get('n')}\nMAE {scores.get('mae_ms')} ms\nbias {scores.get('bias_ms')} ms\n"
            f"rank corr. {scores.get('rank_correlation')}",
            transform=ax.transAxes, va="top", fontsize=8,
        )  # fmt: skip
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def fidelity_map_figure(
    latitude_deg: Sequence[float],
    longitude_deg: Sequence[float],
    error_ms: Sequence[float | None],
    worldview: Worldview | None = None,
    title: str = "",
    limit_ms: float = 20.0,
) -> Figure:
    """Places on a world map coloured by the error of their country's median (ms),
    predicted − published, clipped at ±``limit_ms``; places without a prediction are grey
    crosses."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    lat = np.asarray(latitude_deg, dtype=float)
    lon = np.asarray(longitude_deg, dtype=float)
    err = np.asarray([_num(v) for v in error_ms])
    fig = _new_figure(10.0, 5.6, dpi=100)
    ax = fig.add_subplot()
    frame = (-180.0, -80.0, 180.0, 84.0)
    _basemap(ax, frame, worldview)
    ok = np.isfinite(err)
    norm = Normalize(-limit_ms, limit_ms)
    sc = ax.scatter(
        lon[ok], lat[ok], c=np.clip(err[ok], -limit_ms, limit_ms), cmap=colormaps["RdBu_r"],
        norm=norm, s=30, edgecolor="#333333", linewidth=0.4, zorder=5,
    )  # fmt: skip
    if (~ok).any():
        ax.scatter(
            lon[~ok], lat[~ok], marker="x", color="#888888", s=20, zorder=5, label="no prediction"
        )
        ax.legend(fontsize=7, loc="lower left")
    bar = fig.colorbar(sc, ax=ax, shrink=0.7)
    bar.set_label(f"predicted − published median RTT (ms, clipped at ±{limit_ms:g})")
    _finish(ax, frame, title)
    ax.set_aspect("auto")
    fig.tight_layout()
    return fig
