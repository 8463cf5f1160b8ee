"""skyfence.store: policy versions, the two-person rule, terminals and the transparency log.

>>> from skyfence.store import Store
>>> store = Store.open()            # doctest: +SKIP  (SQLite under the data dir, migrated)

See ``docs/store.md`` and ``docs/log.md``.
"""

from skyfence.store.canonical import canonical_hash, canonical_json
from skyfence.store.store import ApplyResult, PendingChange, PolicyVersion, Store
from skyfence.store.tlog import (
    Checkpoint,
    ConsistencyProof,
    ExportSummary,
    InclusionProof,
    LogEntry,
    PublicKeyInfo,
    TransparencyLog,
)
from skyfence.store.verify import VerifyReport, verify_export, verify_records

__all__ = [
    "Store",
    "ApplyResult",
    "PendingChange",
    "PolicyVersion",
    "TransparencyLog",
    "LogEntry",
    "Checkpoint",
    "InclusionProof",
    "ConsistencyProof",
    "PublicKeyInfo",
    "ExportSummary",
    "VerifyReport",
    "verify_export",
    "verify_records",
    "canonical_json",
    "canonical_hash",
]
