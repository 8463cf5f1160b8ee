"""A map of findings: country outlines around them and one marker per finding."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.detect.findings import KINDS, Finding
from skyfence.errors import InputError
from skyfence.files import atomic_path

__all__ = ["plot_findings"]

#: One colour per kind (matplotlib's "tab10" qualitative palette).
_COLOURS = dict(
    zip(
        KINDS,
        ("#d62728", "#ff7f0e", "#9467bd", "#17becf", "#1f77b4", "#7f7f7f", "#8c564b", "#2ca02c"),
        strict=True,
    )
)


def plot_findings(
    findings: Sequence[Finding],
    path: str | Path,
    *,
    countries: Sequence[Any] = (),
    highlight: Sequence[Any] = (),
    title: str = "findings",
) -> Path:
    """Draw ``findings`` (marker size by score, colour by kind) over the outlines of
    ``countries`` (regions with a shapely ``geometry``) and ``highlight`` regions (e.g.
    sensitive ones); write a PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shapely

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"the findings map is a PNG: give a file name ending in .png, got {path}")
    fig, ax = plt.subplots(figsize=(9, 7))
    if findings:
        lat = np.array([f.latitude_deg for f in findings])
        lon = np.array([f.longitude_deg for f in findings])
        pad = 1.0
        box = (lon.min() - pad, lat.min() - pad, lon.max() + pad, lat.max() + pad)
    else:
        box = (-180.0, -60.0, 180.0, 80.0)
    frame = shapely.box(*box)

    def outline(regions: Sequence[Any], **style: Any) -> None:
        for r in regions:
            g = shapely.intersection(r.geometry, frame)
            for part in shapely.get_parts(shapely.boundary(g)):
                xy = shapely.get_coordinates(part)
                if len(xy):
                    ax.plot(xy[:, 0], xy[:, 1], **style)

    outline(countries, color="#999999", linewidth=0.6)
    outline(highlight, color="#c0392b", linewidth=1.0, linestyle="--")
    for kind in KINDS:
        fs = [f for f in findings if f.kind == kind]
        if not fs:
            continue
        ax.scatter(
            [f.longitude_deg for f in fs],
            [f.latitude_deg for f in fs],
            s=[12 + 60 * f.score for f in fs],
            c=_COLOURS[kind],
            alpha=0.7,
            edgecolors="none",
            label=f"{kind} ({len(fs)})",
        )
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect(1.0 / max(np.cos(np.radians((box[1] + box[3]) / 2)), 0.2))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title)
    if findings:
        ax.legend(loc="upper left", fontsize=8, markerscale=0.8)
    fig.tight_layout()
    try:
        with atomic_path(path, make_parents=True) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return path
