"""Offline verification of an exported transparency log (no database needed).

:func:`verify_export` reads a JSON Lines export, recomputes every leaf hash and the Merkle tree,
checks each entry's ``index`` and ``prev_root`` chain, every checkpoint's root and Ed25519
signature (trusting the key you give and the keys linked to it by logged rotations signed by
both keys), the RFC 9162 consistency of successive checkpoints, and that the last checkpoint
covers every entry. The first problem is reported with the index of the first entry that can
no longer be trusted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

from skyfence.errors import InputError, IntegrityError, ParseError
from skyfence.store.approvals import check_signed_approvals
from skyfence.store.c2sp import ORIGIN_KINDS, signed_message
from skyfence.store.canonical import loads_strict
from skyfence.store.keys import (
    key_id_for,
    load_public_key,
    rotation_message,
    verify_signature,
)
from skyfence.store.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    verify_consistency,
)
from skyfence.store.state import Replay
from skyfence.store.verify_scan import (
    APPROVAL_KINDS,
    MAX_LINE_BYTES,
    SPECIAL_KINDS,
    Run,
    RunningTree,
    empty_export,
    is_header,
    not_an_export,
    open_export,
    parse_line,
    scan_export,
)
from skyfence.transparency.checkpoint import parse_checkpoint_text, verify_checkpoint
from skyfence.transparency.note import (
    COSIGNATURE_V1,
    NoteVerificationError,
    Verifier,
    parse_vkey,
)
from skyfence.transparency.note import parse as parse_note

__all__ = [
    "VerifyReport",
    "TrustedCheckpoint",
    "verify_records",
    "verify_export",
    "read_export",
    "iter_export",
    "load_trusted_checkpoint",
    "read_witnesses",
]


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of a verification. ``problem`` is one line; ``first_bad_index`` the entry."""

    ok: bool
    source: str
    entries: int
    root_hash: str
    checkpoints: int
    checkpoints_verified: int
    trusted_key_ids: list[str]
    first_bad_index: int | None = None
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)

    def raise_for_problem(self) -> None:
        """Raise :class:`~skyfence.errors.IntegrityError` with ``problem`` if not ``ok``."""
        if not self.ok:
            raise IntegrityError(f"{self.source}: {self.problem}")


@dataclass
class _Checkpoint:
    number: int  # 1-based position among checkpoints
    tree_size: int
    root: bytes
    time: str
    key_id: str
    signature: bytes
    note: str | None = None  # the C2SP note as exported (with any witness cosignatures)


def iter_export(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of an export, read line by line; :class:`~skyfence.errors.ParseError`
    names the first bad line (not UTF-8, not JSON, a duplicate key, nested too deep, not a
    record, or not starting with the header)."""
    source = str(path)
    with open_export(path) as fh:
        first = True
        readline = fh.readline
        for number, raw in enumerate(iter(lambda: readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise ParseError(
                    f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; not a log export",
                    source=source,
                    line=number,
                )
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ParseError(
                    "not UTF-8 text; expected a JSON Lines log export", source=source, line=number
                ) from None
            record = parse_line(line, number, source)
            if record is None:
                continue
            if first and not is_header(record):
                raise not_an_export(source, number)
            first = False
            yield record
        if first:
            raise empty_export(source)


def read_export(path: str | Path) -> list[dict[str, Any]]:
    """Every record of an export (see :func:`iter_export`)."""
    return list(iter_export(path))


@dataclass(frozen=True)
class TrustedCheckpoint:
    """A checkpoint you saw before (and keep): a later export must contain it.

    ``signature``/``key_id``/``time`` are optional; when present the signature must verify
    under the trusted keys.
    """

    tree_size: int
    root_hash: bytes
    time: str | None = None
    key_id: str | None = None
    signature: bytes | None = None


def load_trusted_checkpoint(value: str | Path) -> TrustedCheckpoint:
    """A trusted checkpoint from ``SIZE:ROOTHEX``, a JSON file as ``skyfence log
    checkpoint --json`` (or ``--out FILE``) writes it, or a C2SP checkpoint note (the
    ``checkpoint`` file of the tiles, perhaps cosigned by witnesses)."""
    text = str(value)
    if ":" in text and not Path(text).exists():
        size_text, _, root_text = text.partition(":")
        root = _hex32(root_text.strip())
        if not size_text.strip().isdigit() or root is None:
            raise InputError(
                f"trusted checkpoint {text!r}: expected SIZE:ROOT (a whole number and 64 hex "
                "digits, as `skyfence log checkpoint` prints) or a checkpoint JSON file"
            )
        return TrustedCheckpoint(int(size_text), root)
    path = Path(text)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read trusted checkpoint file {path} ({exc.strerror}); save one with "
            "`skyfence log checkpoint --out FILE`"
        ) from None
    if len(raw) > 1_000_000:
        raise ParseError("too large for a checkpoint (over 1 MB)", source=str(path))
    if not raw.lstrip().startswith(b"{"):  # a C2SP checkpoint note (e.g. a cosigned one)
        try:
            cp = parse_checkpoint_text(parse_note(raw).text)
        except ParseError as exc:
            raise ParseError(
                f"neither checkpoint JSON nor a C2SP checkpoint note ({exc})", source=str(path)
            ) from None
        return TrustedCheckpoint(cp.size, cp.root_hash)
    data = loads_strict(raw, source=str(path))
    if isinstance(data, dict) and isinstance(data.get("checkpoint"), dict):
        data = data["checkpoint"]
    size = data.get("tree_size") if isinstance(data, dict) else None
    root = _hex32(data.get("root_hash")) if isinstance(data, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or root is None:
        raise ParseError(
            "expected a checkpoint with tree_size and root_hash (from `skyfence log "
            "checkpoint --json`)",
            source=str(path),
        )
    signature = None
    if isinstance(data.get("signature"), str):
        try:
            signature = base64.b64decode(data["signature"], validate=True)
        except ValueError:
            raise ParseError("its signature is not base64", source=str(path)) from None
    return TrustedCheckpoint(
        size,
        root,
        data.get("time") if isinstance(data.get("time"), str) else None,
        data.get("key_id") if isinstance(data.get("key_id"), str) else None,
        signature,
    )


def verify_export(
    path: str | Path,
    public_key: str | bytes | Path,
    *,
    trusted_checkpoint: TrustedCheckpoint | None = None,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
    signed_approvals: bool = False,
    workers: int | None = None,
) -> VerifyReport:
    """Verify the export at ``path`` offline against the trusted ``public_key``.

    ``public_key`` is PEM text, base64 of the raw key, 64 hex digits, or a path to a file
    holding one of those (what ``skyfence log pubkey`` prints). ``trusted_checkpoint`` is a
    checkpoint seen before: an export that does not contain it (rolled back, or rewritten
    before it) is refused. ``workers``: processes reading the file while this one checks
    the tree (``None``: one per CPU, up to 4, for a large export when a CPU is idle; 0:
    none).
    """
    key = _read_key(public_key)
    return verify_records(
        scan_export(path, workers=workers),
        [key],
        source=str(path),
        trusted_checkpoint=trusted_checkpoint,
        witnesses=witnesses,
        quorum=quorum,
        signed_approvals=signed_approvals,
    )


def read_witnesses(values: Sequence[str]) -> list[Verifier]:
    """Witness keys from C2SP verifier keys (type 0x04) given as text or as files."""
    out = []
    for value in values:
        text = value
        candidate = Path(value)
        try:
            if "+" not in value or candidate.is_file():
                text = candidate.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(
                f"--witness {value!r}: cannot read it ({exc.strerror}); give the witness's "
                "verifier key (name+keyid+base64) or a file holding it"
            ) from None
        verifier = parse_vkey(text)
        if verifier.sig_type != COSIGNATURE_V1:
            raise InputError(
                f"--witness {verifier.name}: the key is of type 0x{verifier.sig_type:02x}; a "
                "witness verifier key has type 0x04 (an Ed25519 cosignature key)"
            )
        out.append(verifier)
    return out


def _read_key(public_key: str | bytes | Path) -> bytes:
    if isinstance(public_key, Path):
        if not public_key.is_file():
            raise InputError(
                f"no public key file at {public_key}; write one with "
                "`skyfence log pubkey --out FILE`"
            )
        return load_public_key(public_key.read_bytes())
    if isinstance(public_key, str) and not public_key.lstrip().startswith("-----"):
        candidate = Path(public_key)
        try:
            if candidate.is_file():
                return _read_key(candidate.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            pass
        if public_key.strip().count("+") >= 2 and not public_key.strip().startswith("MC"):
            try:
                return parse_vkey(public_key).public_key
            except ParseError:
                pass
        try:
            return load_public_key(public_key)
        except InputError:
            raise InputError(
                f"--key {public_key!r} is neither a readable file nor a public key; give the "
                "PEM file written by `skyfence log pubkey --out FILE`, or the key as "
                "base64/hex text"
            ) from None
    return load_public_key(public_key)


def _field(record: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = record.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        line = record.get("_line")
        raise ParseError(f"{what}: field {name!r} is missing or not a {kind.__name__}", line=line)
    return value


def _hex32(value: Any) -> bytes | None:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        return None
    return raw if len(raw) == 32 else None


def verify_records(
    records: Iterable[dict[str, Any] | Run],
    trusted_keys: Sequence[bytes],
    *,
    source: str = "log",
    replay: Replay | None = None,
    trusted_checkpoint: TrustedCheckpoint | None = None,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
    signed_approvals: bool = False,
) -> VerifyReport:
    """Verify export records (header, entries, checkpoints) against ``trusted_keys`` (raw).

    Every entry is also replayed (:class:`~skyfence.store.state.Replay`, or ``replay``):
    an entry whose attested ``state`` the history before it does not produce is reported.
    A :class:`~skyfence.store.verify_scan.Run` stands for plain entries the reader checked
    (:func:`~skyfence.store.verify_scan.scan_export`); ``replay`` must then ignore their kinds.
    """
    tree = RunningTree()  # every perfect subtree: roots of any size, each prev_root
    replay = replay if replay is not None else Replay()
    local: tuple[int, str, str] | None = None  # first entry-level problem: index, why, kind
    key_ids: dict[str, bytes] = {}
    rotations: list[tuple[bytes, bytes]] = []
    checkpoints: list[_Checkpoint] = []
    origins: list[tuple[int, str]] = []  # (entry index, origin) of the log.origin entries
    approval_entries: list[tuple[int, dict[str, Any]]] = []
    header: dict[str, Any] = {}
    position = 0
    for record in records:
        if type(record) is Run:
            local = _feed_run(tree, record, position, local)
            position += len(record.leaves) // 32
            continue
        assert isinstance(record, dict)
        kind = record.get("type")
        if kind == "header":
            header = record
            keys = record.get("public_keys")
            for key in keys if isinstance(keys, list) else []:
                try:
                    raw = base64.b64decode(key["public_key"], validate=True)
                except (KeyError, TypeError, ValueError):
                    continue
                key_ids.setdefault(key_id_for(raw), raw)
            continue
        if kind == "checkpoint":
            try:
                signature = base64.b64decode(_field(record, "signature", str, "checkpoint"))
            except ValueError:  # not base64: it cannot verify
                signature = b""
            root = _hex32(_field(record, "root_hash", str, "checkpoint"))
            checkpoints.append(
                _Checkpoint(
                    number=len(checkpoints) + 1,
                    tree_size=_field(record, "tree_size", int, "checkpoint"),
                    root=root if root is not None else b"",
                    time=_field(record, "time", str, "checkpoint"),
                    key_id=_field(record, "key_id", str, "checkpoint"),
                    signature=signature,
                    note=record.get("note") if isinstance(record.get("note"), str) else None,
                )
            )
            continue
        # an entry
        p = position
        index = record.get("index")
        entry = record.get("entry")
        if not isinstance(entry, dict):
            problem = f"entry {p} has no entry object; the record was damaged"
            local = local or (p, problem, "damaged")
            leaf = leaf_hash(json.dumps(entry).encode())
        else:
            try:
                leaf = sha256(b"\x00" + _CANONICAL(entry).encode("utf-8")).digest()
            except ValueError:  # e.g. NaN or a lone surrogate, which canonical JSON cannot hold
                leaf = leaf_hash(json.dumps(entry, sort_keys=True).encode())
                local = local or (p, f"entry {p} is not canonical JSON (it was changed)", "leaf")
            if local is None:
                # the common case in a few comparisons; any doubt goes to _check_entry
                prev_root = tree.current_root()
                if not (
                    type(index) is int
                    and index == p
                    and entry.get("index") == p
                    and record.get("leaf_hash") == leaf.hex()
                    and entry.get("prev_root") == prev_root.hex()
                ):
                    recorded_leaf = _hex32(record.get("leaf_hash"))
                    local = _check_entry(p, index, entry, recorded_leaf, leaf, prev_root)
            replayed = replay.feed(p, entry)
            if local is None and replayed is not None:
                local = (p, replayed, "state")
            entry_kind = entry.get("kind")
            if type(entry_kind) is str and entry_kind in SPECIAL_KINDS:
                _collect_keys(entry, key_ids, rotations)
                data = entry.get("data")
                if entry_kind in APPROVAL_KINDS:
                    approval_entries.append((p, entry))
                if entry_kind in ORIGIN_KINDS and isinstance(data, dict):
                    origin = data.get("origin")
                    if isinstance(origin, str):
                        origins.append((p, origin))
        tree.append(leaf)
        position += 1

    n = len(tree)
    trusted = _trust_closure(set(trusted_keys), rotations)
    for raw in trusted:
        key_ids.setdefault(key_id_for(raw), raw)
    trusted_ids = sorted(key_id_for(raw) for raw in trusted)

    # checkpoints: which ones match the recomputed tree, which are signed by a trusted key
    first_root_bad: tuple[_Checkpoint, str] | None = None
    first_sig_bad: tuple[_Checkpoint, str] | None = None
    good_sizes: list[int] = []
    verified = 0
    for cp in checkpoints:
        if cp.tree_size > n or cp.tree_size < 0:
            why = (
                f"checkpoint {cp.number} (signed {cp.time}) covers {cp.tree_size} entries but the "
                f"log has {n}: entries {n}..{cp.tree_size - 1} were deleted"
            )
            first_root_bad = first_root_bad or (cp, why)
            continue
        expected = tree.root(cp.tree_size) if cp.tree_size else EMPTY_ROOT
        if cp.root != expected:
            why = (
                f"checkpoint {cp.number} (tree size {cp.tree_size}, signed {cp.time}) does not "
                "match the entries"
            )
            first_root_bad = first_root_bad or (cp, why)
            continue
        signer = key_ids.get(cp.key_id)
        if signer is None or signer not in trusted:
            why = (
                f"checkpoint {cp.number} (tree size {cp.tree_size}) is signed by key {cp.key_id}, "
                f"which is not the trusted key ({', '.join(trusted_ids) or 'none'}) nor linked to "
                "it by a logged key rotation signed by both keys"
            )
            first_sig_bad = first_sig_bad or (cp, why)
            continue
        origin = _origin_at(origins, cp.tree_size)
        message = signed_message(origin, cp.tree_size, cp.root, cp.time, cp.key_id)
        if not verify_signature(signer, cp.signature, message):
            why = (
                f"checkpoint {cp.number} (tree size {cp.tree_size}) has a signature that does not "
                f"verify with key {cp.key_id}: the checkpoint was altered"
            )
            first_sig_bad = first_sig_bad or (cp, why)
            continue
        verified += 1
        good_sizes.append(cp.tree_size)

    def report(
        first_bad: int | None, problem: str | None, warnings: list[str] | None = None
    ) -> VerifyReport:
        return VerifyReport(
            ok=problem is None,
            source=source,
            entries=n,
            root_hash=tree.root().hex(),
            checkpoints=len(checkpoints),
            checkpoints_verified=verified,
            trusted_key_ids=trusted_ids,
            first_bad_index=first_bad,
            problem=problem,
            warnings=warnings or [],
        )

    if (
        local is not None
        and local[2] == "prev_root"
        and 0 < local[0]
        and local[0] not in good_sizes
    ):
        # the chain breaks between p-1 and p; no valid checkpoint vouches for entries 0..p-1
        p = local[0]
        local = (
            p - 1,
            f"entry {p - 1} was changed (entry {p} no longer chains to it), or the entries after "
            "it were deleted, inserted or reordered",
            "prev_root",
        )
    if first_root_bad is not None:
        cp, why = first_root_bad
        bad_end = min(cp.tree_size, n + 1)
        if local is not None and local[0] < max(bad_end, 1):
            return report(local[0], local[1])
        good_before = max((s for s in good_sizes if s < cp.tree_size), default=0)
        start = min(good_before, n)
        if cp.tree_size > n:
            return report(n, why)
        if cp.tree_size - start == 1:
            return report(start, f"entry {start} was changed: {why}")
        return report(
            start,
            f"entries {start}..{cp.tree_size - 1} were altered (the first that cannot be trusted "
            f"is {start}): {why}",
        )
    if local is not None:
        return report(local[0], local[1])
    if first_sig_bad is not None:
        return report(None, first_sig_bad[1])

    # successive checkpoints must be consistent (RFC 9162 §2.1.4) and never shrink
    previous: _Checkpoint | None = None
    for cp in checkpoints:
        if previous is not None:
            if cp.tree_size < previous.tree_size:
                return report(
                    cp.tree_size,
                    f"checkpoint {cp.number} has {cp.tree_size} entries, fewer than checkpoint "
                    f"{previous.number} before it ({previous.tree_size}): the log was rolled back",
                )
            proof = tree.consistency_proof(previous.tree_size, cp.tree_size)
            if not verify_consistency(
                previous.tree_size, cp.tree_size, previous.root, cp.root, proof
            ):  # pragma: no cover - roots already match the recomputed tree
                return report(
                    previous.tree_size,
                    f"checkpoints {previous.number} and {cp.number} are not consistent",
                )
        previous = cp

    if trusted_checkpoint is not None:
        pin = trusted_checkpoint
        if pin.signature is not None:
            signer = key_ids.get(pin.key_id or "")
            message = signed_message(
                _origin_at(origins, pin.tree_size),
                pin.tree_size,
                pin.root_hash,
                pin.time or "",
                pin.key_id or "",
            )
            if (
                signer is None
                or signer not in trusted
                or not verify_signature(signer, pin.signature, message)
            ):
                return report(
                    None,
                    f"the trusted checkpoint (tree size {pin.tree_size}) is not signed by a "
                    "trusted key; check the file you pinned",
                )
        if pin.tree_size > n:
            return report(
                n,
                f"the log has {n} entries but the checkpoint you trust covers "
                f"{pin.tree_size}: the log was rolled back (entries {n}..{pin.tree_size - 1} "
                "are gone)",
            )
        if tree.root(pin.tree_size) != pin.root_hash:
            return report(
                None,
                f"the first {pin.tree_size} entries are not the ones the checkpoint you trust "
                "signed: the history before it was rewritten (a fork of the log)",
            )

    unsigned = check_signed_approvals(
        approval_entries, lambda size: _origin_at(origins, size), require=signed_approvals
    )
    if unsigned is not None:
        return report(unsigned[0], unsigned[1])
    if quorum > 0:
        no_quorum = _check_quorum(checkpoints, origins, trusted, witnesses, quorum)
        if no_quorum is not None:
            return report(None, no_quorum)
    covered = max(good_sizes, default=0)
    if covered < n:
        return report(
            covered,
            f"entries {covered}..{n - 1} are not covered by any signed checkpoint (appended or "
            "inserted after the last checkpoint); sign one with `skyfence log checkpoint`",
        )
    warnings = []
    header_root = header.get("root_hash")
    if header and (header.get("tree_size") != n or header_root != tree.root().hex()):
        warnings.append("the header's tree_size/root_hash differ from the entries (not signed)")
    return report(None, None, warnings)


def _check_quorum(
    checkpoints: Sequence[_Checkpoint],
    origins: Sequence[tuple[int, str]],
    trusted: set[bytes],
    witnesses: Sequence[Verifier],
    quorum: int,
) -> str | None:
    """Why the latest checkpoint is not cosigned by ``quorum`` of ``witnesses``, or ``None``."""
    if not checkpoints:
        return "the log has no checkpoint for witnesses to have cosigned"
    last = checkpoints[-1]
    origin = _origin_at(origins, last.tree_size)
    if origin is None or last.note is None:
        return (
            f"the latest checkpoint (tree size {last.tree_size}) is not a C2SP note, so no "
            "witness can have cosigned it; sign a new one with `skyfence log checkpoint`"
        )
    try:
        cp = verify_checkpoint(
            last.note,
            [Verifier.ed25519(origin, key) for key in trusted],
            witnesses=witnesses,
            quorum=quorum,
            origin=origin,
        )
    except (NoteVerificationError, ParseError) as exc:
        return f"witness quorum: latest checkpoint (tree size {last.tree_size}): {exc}"
    if cp.size != last.tree_size or cp.root_hash != last.root:
        return (
            f"the note of the latest checkpoint names tree size {cp.size}, not the checkpoint's "
            f"{last.tree_size} and its root: the note was replaced"
        )
    return None


def _origin_at(origins: Sequence[tuple[int, str]], size: int) -> str | None:
    """The origin a checkpoint of ``size`` names: the last ``log.origin`` entry inside it."""
    found = None
    for index, origin in origins:
        if index < size:
            found = origin
    return found


# made once (``json.dumps`` with options builds an encoder for every call); the same
# output as :func:`skyfence.store.canonical.canonical_json` for an object parsed from JSON
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def _canonical_parsed(entry: dict[str, Any]) -> bytes:
    """:func:`canonical_json` of an object parsed from JSON (its keys are strings already);
    ``ValueError`` for what canonical JSON cannot hold."""
    return _CANONICAL(entry).encode("utf-8")


def _feed_run(
    tree: RunningTree, run: Run, p: int, local: tuple[int, str, str] | None
) -> tuple[int, str, str] | None:
    """Add a run of plain entries starting at position ``p``; the first problem, as for
    entries read one by one (only an ``index`` or ``prev_root`` can still be wrong)."""
    leaves = run.leaves
    done = 0
    if local is None:
        done = tree.extend(leaves, run.prev_roots) if run.first_index == p else 0
        if done < len(leaves) // 32:
            at = 32 * done
            entry: dict[str, Any] = {
                "index": run.first_index + done,
                "prev_root": run.prev_roots[at : at + 32].hex(),
            }
            leaf = leaves[at : at + 32]
            local = _check_entry(p + done, entry["index"], entry, leaf, leaf, tree.current_root())
    tree.extend(leaves[32 * done :])
    return local


def _check_entry(
    p: int,
    index: Any,
    entry: dict[str, Any],
    recorded_leaf: bytes | None,
    leaf: bytes,
    prev_root: bytes,
) -> tuple[int, str, str] | None:
    """The first problem of the entry at position ``p``: ``(p, why, kind)``, or ``None``."""
    if not isinstance(index, int) or isinstance(index, bool):
        return p, f"entry {p} has no integer index; the record was damaged", "damaged"
    if index > p:
        why = (
            f"entry {p} is missing: the record at this position is entry {index} "
            "(entries were deleted or reordered)"
        )
        return p, why, "index"
    if index < p:
        why = (
            f"the record at position {p} claims index {index}: an entry was inserted or "
            "entries were reordered"
        )
        return p, why, "index"
    if entry.get("index") != p:
        why = f"entry {p} was changed or moved: its content says index {entry.get('index')!r}"
        return p, why, "index"
    if recorded_leaf != leaf:
        why = f"entry {p} was changed: its content does not hash to its recorded leaf hash"
        return p, why, "leaf"
    if entry.get("prev_root") != prev_root.hex():
        why = (
            f"entry {p} does not follow entries 0..{p - 1}: its prev_root is not their Merkle "
            "root (an entry here was deleted, inserted or reordered, or the one before rewritten)"
        )
        return p, why, "prev_root"
    return None


def _collect_keys(
    entry: dict[str, Any], key_ids: dict[str, bytes], rotations: list[tuple[bytes, bytes]]
) -> None:
    data = entry.get("data")
    if not isinstance(data, dict):
        return
    try:
        if entry.get("kind") == "key.create":
            raw = base64.b64decode(data["public_key"], validate=True)
            key_ids.setdefault(key_id_for(raw), raw)
        elif entry.get("kind") == "key.rotate":
            old = base64.b64decode(data["old_public_key"], validate=True)
            new = base64.b64decode(data["new_public_key"], validate=True)
            message = rotation_message(key_id_for(old), old, key_id_for(new), new)
            key_ids.setdefault(key_id_for(old), old)
            key_ids.setdefault(key_id_for(new), new)
            if verify_signature(
                old, base64.b64decode(data["old_signature"]), message
            ) and verify_signature(new, base64.b64decode(data["new_signature"]), message):
                rotations.append((old, new))
    except (KeyError, TypeError, ValueError):
        return


def _trust_closure(trusted: set[bytes], rotations: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Keys linked to a trusted one by a rotation both keys signed."""
    changed = True
    while changed:
        changed = False
        for old, new in rotations:
            if (old in trusted) != (new in trusted):
                trusted |= {old, new}
                changed = True
    return trusted
