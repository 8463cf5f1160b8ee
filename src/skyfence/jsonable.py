"""Plain JSON values from skyfence results: one converter for reports, the CLI and the service.

:func:`to_jsonable` turns numpy scalars and arrays, ``datetime64`` values, dataclasses, paths
and datetimes into values :func:`json.dumps` accepts; NaN and infinities become ``None`` so
the output is strict JSON (RFC 8259 has no NaN).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, datetimes, dataclasses and paths into JSON-able values.

    NaN and infinities become ``None`` so the output is strict JSON.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"t": np.datetime64("2026-02-22T12:00:00", "ns"), "x": np.float32(np.nan)})
    {'t': '2026-02-22T12:00:00Z', 'x': None}
    >>> from datetime import datetime, timedelta, timezone
    >>> to_jsonable([datetime(2026, 2, 22, 12), datetime(2026, 2, 22, 14, tzinfo=timezone(timedelta(hours=2)))])
    ['2026-02-22T12:00:00Z', '2026-02-22T12:00:00Z']
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return (
            [to_jsonable(v) for v in obj.tolist()]
            if obj.dtype.kind != "M"
            else [to_jsonable(v) for v in obj]
        )
    if isinstance(obj, np.datetime64):
        from skyfence.timeutil import datetime64_to_iso

        return datetime64_to_iso(obj)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, datetime):  # naive means UTC in skyfence (the store keeps naive UTC)
        if obj.tzinfo is not None:
            obj = obj.astimezone(UTC).replace(tzinfo=None)
        return obj.isoformat() + "Z"
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return obj
