"""skyfence.store: policy versions, the two-person rule, terminals and the transparency log.

>>> import tempfile
>>> from skyfence.store import Store
>>> home = tempfile.mkdtemp()
>>> store = Store.open(f"sqlite:///{home}/store.db", key_dir=f"{home}/keys")  # created, migrated
>>> store.state().policy_version  # nothing applied yet
0
>>> store.close()

``Store.open()`` with no arguments opens the store the settings name (a SQLite file under the
data dir, or ``SKYFENCE_DATABASE_URL``).

See ``docs/store.md``, ``docs/log.md`` and ``docs/security.md``.
"""

from skyfence.store.canonical import canonical_hash, canonical_json, loads_strict
from skyfence.store.changes import ChangeResult
from skyfence.store.identity import Actor, current_os_user, normalise_name
from skyfence.store.state import StoreState
from skyfence.store.store import (
    ApplyResult,
    PendingChange,
    PolicyInForce,
    PolicyVersion,
    Request,
    Store,
)
from skyfence.store.tlog import (
    Checkpoint,
    ConsistencyProof,
    ExportSummary,
    InclusionProof,
    LogEntry,
    PublicKeyInfo,
    TransparencyLog,
)
from skyfence.store.verify import (
    TrustedCheckpoint,
    VerifyReport,
    load_trusted_checkpoint,
    verify_export,
    verify_records,
)

__all__ = [
    "Store",
    "Actor",
    "normalise_name",
    "current_os_user",
    "ChangeResult",
    "ApplyResult",
    "PendingChange",
    "PolicyVersion",
    "PolicyInForce",
    "Request",
    "StoreState",
    "TransparencyLog",
    "LogEntry",
    "Checkpoint",
    "InclusionProof",
    "ConsistencyProof",
    "PublicKeyInfo",
    "ExportSummary",
    "VerifyReport",
    "TrustedCheckpoint",
    "load_trusted_checkpoint",
    "verify_export",
    "verify_records",
    "canonical_json",
    "canonical_hash",
    "loads_strict",
]
