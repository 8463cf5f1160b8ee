"""Precision and recall of each detector against ground truth (a generated scenario's).

Truth is per terminal: for each finding kind, the terminals whose class expects it. A
terminal counts as found by a detector when it has at least one finding of that kind.
Terminals whose class *allows* a kind without expecting it (a smuggled terminal in Crimea
that also goes silent there) count neither for nor against that detector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from skyfence.detect.findings import KINDS
from skyfence.detect.run import DetectionReport
from skyfence.errors import InputError

__all__ = ["Score", "evaluate", "classes_from_labels"]


@dataclass(frozen=True)
class Score:
    """Precision and recall of one detector (NaN where undefined: nothing flagged or
    nothing expected)."""

    kind: str
    expected: int
    flagged: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    false_positive_classes: dict[str, int]
    false_negative_classes: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("precision", "recall"):
            d[k] = None if np.isnan(d[k]) else round(d[k], 4)
        return d


def classes_from_labels(terminal_ids: np.ndarray, labels: np.ndarray) -> dict[str, str]:
    """Terminal id → class from per-report labels (``InputError`` if a terminal has two)."""
    out: dict[str, str] = {}
    for tid, lab in zip(
        np.asarray(terminal_ids).tolist(), np.asarray(labels).tolist(), strict=True
    ):
        prev = out.setdefault(str(tid), str(lab))
        if prev != str(lab):
            raise InputError(f"terminal {tid!r} has two labels: {prev!r} and {lab!r}")
    return out


def evaluate(report: DetectionReport, classes: Mapping[str, str]) -> dict[str, Score]:
    """Precision and recall per finding kind of ``report`` against ``classes``
    (terminal id → a class of :data:`skyfence.detect.scenario.CLASSES`)."""
    from skyfence.detect.scenario import CLASSES

    unknown = sorted({c for c in classes.values() if c not in CLASSES})
    if unknown:
        raise InputError(
            f"unknown class(es) {', '.join(unknown)}; classes are {', '.join(CLASSES)}"
        )
    out = {}
    for kind in KINDS:
        expected = {t for t, c in classes.items() if kind in CLASSES[c].expect}
        neutral = {t for t, c in classes.items() if kind in CLASSES[c].allow} - expected
        flagged = report.flagged_terminals((kind,)) & set(classes)
        judged = flagged - neutral
        tp = len(judged & expected)
        fp = judged - expected
        fn = expected - flagged
        out[kind] = Score(
            kind=kind,
            expected=len(expected),
            flagged=len(judged),
            true_positives=tp,
            false_positives=len(fp),
            false_negatives=len(fn),
            precision=tp / len(judged) if judged else float("nan"),
            recall=tp / len(expected) if expected else float("nan"),
            false_positive_classes=dict(Counter(classes[t] for t in fp)),
            false_negative_classes=dict(Counter(classes[t] for t in fn)),
        )
    return out
