"""One ``progress(done, total)`` callback fed by an operation made of several stages."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["ProgressCallback", "stages"]

ProgressCallback = Callable[[int, int], None]


def stages(
    progress: ProgressCallback | None, weights: Sequence[float]
) -> list[ProgressCallback | None]:
    """Callbacks for consecutive stages that report to ``progress`` in percent (total 100).

    Stage ``i`` covers a share ``weights[i] / sum(weights)`` of the bar; each stage's own
    ``(done, total)`` moves the bar within its share.

    Examples
    --------
    >>> seen = []
    >>> first, second = stages(lambda d, t: seen.append((d, t)), [1, 3])
    >>> first(1, 2); second(3, 3)
    >>> seen
    [(12, 100), (100, 100)]
    """
    if progress is None:
        return [None for _ in weights]
    total = float(sum(weights))
    out: list[ProgressCallback | None] = []
    start = 0.0
    for w in weights:
        share = w / total * 100.0

        def stage(done: int, n: int, start: float = start, share: float = share) -> None:
            frac = min(max(done / n, 0.0), 1.0) if n else 0.0
            progress(int(round(start + frac * share)), 100)

        out.append(stage)
        start += share
    return out
