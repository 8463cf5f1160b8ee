"""Times as the store keeps them: naive UTC ``datetime`` with microseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from skyfence.errors import InputError

__all__ = ["iso_utc", "naive_utc"]


def iso_utc(dt: datetime) -> str:
    """``2026-02-22T12:00:00.000000Z`` for a naive UTC datetime (always microseconds)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def naive_utc(value: Any) -> datetime:
    """A clock's reading (aware or naive ``datetime``, or ``datetime64``) as naive UTC."""
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    if not isinstance(value, datetime):
        raise InputError(f"the store's clock returned {value!r}; expected a datetime")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    result: datetime = value
    return result
