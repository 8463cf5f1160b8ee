"""The transparency log as users run it: show, proofs, export, checkpoints, keys, verify.

Verifying an export needs no store and no principal (:func:`verify_file`): anyone holding
the export and a public key can do it. ``verify_database`` adds to the log's own checks
that every state table matches the replayed log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyfence.app._store import open_store

ProgressCallback = Callable[[int, int], None]

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.app.identity import Principal
    from skyfence.store import (
        Checkpoint,
        ConsistencyProof,
        ExportSummary,
        InclusionProof,
        LogEntry,
        PublicKeyInfo,
        TrustedCheckpoint,
        VerifyReport,
    )
    from skyfence.store.tiles import TilesSummary
    from skyfence.store.witnessing import WitnessOutcome
    from skyfence.transparency.note import Verifier

__all__ = [
    "LogPage",
    "show",
    "inclusion_proof",
    "consistency_proof",
    "export",
    "checkpoint",
    "pubkey",
    "rotate_key",
    "verify_file",
    "verify_database",
    "tiles",
    "vkey",
    "witness",
    "tile",
    "latest_checkpoint",
]


@dataclass(frozen=True)
class LogPage:
    tree_size: int
    entries: list[LogEntry]


def show(app: App, principal: Principal, start: int = 0, limit: int | None = 20) -> LogPage:
    """Entries from ``start`` (at most ``limit``) and the log's size."""
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        return LogPage(store.log.size(), store.log.entries(start, limit))


def inclusion_proof(
    app: App, principal: Principal, index: int, tree_size: int | None = None
) -> InclusionProof:
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        return store.log.inclusion_proof(index, tree_size)


def consistency_proof(
    app: App, principal: Principal, old_size: int, new_size: int | None = None
) -> ConsistencyProof:
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        return store.log.consistency_proof(old_size, new_size)


def export(app: App, principal: Principal, path: str | Path) -> ExportSummary:
    """Write the export (signing a checkpoint first if the last does not cover the log)."""
    principal.require("export the log", "viewer")
    with open_store(app) as store:
        return store.log.export(path)


def tiles(
    app: App,
    principal: Principal,
    out_dir: str | Path,
    *,
    progress: ProgressCallback | None = None,
) -> TilesSummary:
    """Write the log as C2SP tlog-tiles under ``out_dir`` (signing a checkpoint first if the
    last does not cover the log); the checkpoint file is written last."""
    principal.require("export the log", "viewer")
    from skyfence.store.tiles import write_tiles

    with open_store(app) as store:
        return write_tiles(store.log, out_dir, progress=progress)


def witness(
    app: App, principal: Principal, witnesses: Sequence[str] | None = None
) -> WitnessOutcome:
    """Submit the latest checkpoint to the witnesses (default: setting ``witnesses``, each
    ``"<vkey> <url>"``) and keep their cosignatures. The service calls this after writes."""
    principal.require("submit checkpoints to witnesses", "operator")
    from skyfence.errors import ConfigurationError
    from skyfence.store.witnessing import parse_witness, submit

    specs = list(app.settings.witnesses if witnesses is None else witnesses)
    if not specs:
        raise ConfigurationError(
            "no witnesses configured; set SKYFENCE_WITNESSES (a JSON list of "
            "'<vkey> <url>') or give --witness '<vkey> <url>'"
        )
    clients = [parse_witness(spec) for spec in specs]
    with open_store(app) as store:
        return submit(store.log, clients)


def tile(app: App, principal: Principal, path: str) -> bytes:
    """One tlog-tiles resource of the log: ``checkpoint`` (with the witnesses'
    cosignatures), ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``;
    :class:`~skyfence.errors.NotFoundError` for anything else."""
    principal.require("read the log", "viewer")
    from skyfence.store.tiles import read

    with open_store(app) as store:
        return read(store.log, path)


def vkey(app: App, principal: Principal) -> str:
    """The C2SP verifier key of the log (``<origin>+<key id>+<base64 key>``)."""
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        return store.log.vkey()


def checkpoint(app: App, principal: Principal, *, accept_unsigned: bool = False) -> Checkpoint:
    """Sign the current head now. ``accept_unsigned`` (admins) signs entries appended
    outside skyfence after checking the whole log."""
    if accept_unsigned:
        principal.require("sign entries appended outside skyfence", "admin")
    else:
        principal.require("sign a checkpoint", "operator")
    with open_store(app) as store:
        return store.log.checkpoint(operator=principal.name, accept_unsigned=accept_unsigned)


def pubkey(app: App, principal: Principal) -> tuple[str, list[PublicKeyInfo]]:
    """The PEM of the active signing key, and every key the log has used."""
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        pem = store.log.pubkey()
        return pem, store.log.public_keys()


def rotate_key(app: App, principal: Principal, *, reason: str) -> tuple[str, str]:
    """A new signing key (rotation logged, signed by both keys): ``(key id, PEM)``."""
    principal.require("rotate the signing key", "admin")
    with open_store(app) as store:
        key_id = store.log.rotate_key(operator=principal.name, reason=reason)
        return key_id, store.log.pubkey()


def verify_file(
    path: str | Path,
    public_key: str | bytes | Path,
    *,
    trusted_checkpoint: TrustedCheckpoint | None = None,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
    signed_approvals: bool = False,
) -> VerifyReport:
    """Verify an export offline (no store); see :func:`skyfence.store.verify_export`.

    With ``quorum``, the latest checkpoint must also be cosigned by that many of the
    trusted ``witnesses``."""
    from skyfence.store import verify_export

    return verify_export(
        path,
        public_key,
        trusted_checkpoint=trusted_checkpoint,
        witnesses=witnesses,
        quorum=quorum,
        signed_approvals=signed_approvals,
    )


def verify_tiles(
    directory: str | Path,
    public_key: str,
    *,
    trusted_checkpoint: TrustedCheckpoint | None = None,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
) -> VerifyReport:
    """Verify a tiled log (as ``skyfence log tiles`` writes) offline against the log's key
    (a C2SP verifier key, or a PEM/base64/hex public key named after the checkpoint's origin)."""
    from skyfence.errors import IntegrityError, ParseError
    from skyfence.store.verify import VerifyReport, _read_key
    from skyfence.transparency.note import Verifier as NoteVerifier
    from skyfence.transparency.note import parse_vkey
    from skyfence.transparency.tiles import directory_reader
    from skyfence.transparency.tiles import verify_tiles as check

    read = directory_reader(directory)
    try:
        log_key = parse_vkey(public_key)
    except ParseError:
        raw = _read_key(public_key)
        try:
            origin = read("checkpoint").decode("utf-8", "replace").split("\n", 1)[0]
            log_key = NoteVerifier.ed25519(origin, raw)
        except (IntegrityError, ParseError) as exc:
            return _tiles_failure(str(directory), str(exc))
    pin = None
    if trusted_checkpoint is not None:
        pin = (trusted_checkpoint.tree_size, trusted_checkpoint.root_hash)
    try:
        got = check(read, log_key, witnesses=witnesses, quorum=quorum, trusted=pin)
    except (IntegrityError, ParseError) as exc:
        return _tiles_failure(str(directory), str(exc))
    return VerifyReport(
        ok=True,
        source=str(directory),
        entries=got.entries,
        root_hash=got.checkpoint.root_hash.hex(),
        checkpoints=1,
        checkpoints_verified=1,
        trusted_key_ids=[f"{log_key.name}+{log_key.key_id:08x}"],
    )


def _tiles_failure(source: str, problem: str) -> VerifyReport:
    from skyfence.store.verify import VerifyReport

    return VerifyReport(
        ok=False,
        source=source,
        entries=0,
        root_hash="",
        checkpoints=1,
        checkpoints_verified=0,
        trusted_key_ids=[],
        problem=problem,
    )


def verify_database(
    app: App,
    principal: Principal,
    *,
    public_key: Any = None,
    trusted_checkpoint: TrustedCheckpoint | None = None,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
    signed_approvals: bool = False,
) -> VerifyReport:
    """The log's checks on the database itself, plus every state table against the log."""
    principal.require("verify the log", "viewer")
    with open_store(app) as store:
        return store.verify(
            public_key,
            trusted_checkpoint=trusted_checkpoint,
            witnesses=witnesses,
            quorum=quorum,
            signed_approvals=signed_approvals,
        )


def latest_checkpoint(app: App, principal: Principal) -> Checkpoint:
    """The latest signed checkpoint; one is signed now if the log has none yet."""
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        found = store.log.latest_checkpoint()
        if found is None:
            found = store.log.checkpoint(operator="skyfence")
        return found


def cosigned_checkpoint(app: App, principal: Principal) -> tuple[Checkpoint, str | None]:
    """The latest checkpoint and its C2SP note with every witness cosignature kept for it
    (``None`` for a checkpoint signed before the log had an origin)."""
    cp = latest_checkpoint(app, principal)
    if cp.note is None:
        return cp, None
    with open_store(app) as store:
        return cp, store.log.cosigned(cp.note)
