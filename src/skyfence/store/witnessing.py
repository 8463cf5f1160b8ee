"""Submit the log's latest checkpoint to its witnesses (c2sp.org/tlog-witness) and keep
the cosignatures they return.

A witness cosigns a checkpoint only if it is consistent with the last one it cosigned for
this log; each cosignature is verified against the witness's key before it is kept
(:class:`~skyfence.store.c2sp.CosignedNotes`), and the note with every cosignature is what
``skyfence log tiles`` publishes and ``log verify --witness ... --quorum N`` checks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from skyfence.errors import NotFoundError, SkyfenceError
from skyfence.transparency.note import NoteSignature, Verifier
from skyfence.transparency.witness import WitnessClient

if TYPE_CHECKING:
    from skyfence.store.tlog import TransparencyLog

__all__ = ["WitnessOutcome", "submit", "parse_witness"]


@dataclass(frozen=True)
class WitnessOutcome:
    """The checkpoint submitted, the cosigned note, who cosigned and who refused (why)."""

    tree_size: int
    note: str
    cosigned_by: list[str]
    refused: dict[str, str] = field(default_factory=dict)


def parse_witness(spec: str) -> WitnessClient:
    """A witness from ``"<vkey> <url>"`` (its verifier key, type 0x04, and its URL prefix)."""
    from skyfence.errors import ConfigurationError
    from skyfence.transparency.note import COSIGNATURE_V1, parse_vkey

    vkey, _, url = spec.strip().partition(" ")
    url = url.strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"witness {spec!r}: expected '<verifier key> <http(s) URL prefix>', e.g. "
            "'witness.example/w1+1a2b3c4d+BB... https://witness.example/'"
        )
    verifier: Verifier = parse_vkey(vkey)
    if verifier.sig_type != COSIGNATURE_V1:
        raise ConfigurationError(
            f"witness {verifier.name}: its verifier key must be of type 0x04 (an Ed25519 "
            "cosignature key)"
        )
    return WitnessClient(url, verifier)


def submit(
    log: TransparencyLog,
    witnesses: Sequence[WitnessClient],
    *,
    on_answer: Callable[[str, int, str | None], None] | None = None,
) -> WitnessOutcome:
    """Submit the latest checkpoint to each witness; keep and return the cosignatures.

    A witness that refuses (or cannot be reached within its client's ``timeout_s``) is named
    in ``refused`` with its answer; the others' cosignatures are kept even then. The
    witnesses are asked concurrently. ``on_answer(name, tree size, error or None)`` is
    called as each answers (after its cosignature is kept).
    """
    latest = log.latest_checkpoint()
    if latest is None or latest.note is None:
        raise NotFoundError(
            "the log has no C2SP checkpoint to submit; sign one with `skyfence log checkpoint`"
        )
    size = latest.tree_size

    def proof_for(old: int) -> list[bytes]:
        if old == 0 or old >= size:
            return []
        return [bytes.fromhex(h) for h in log.consistency_proof(old, size).path]

    own: str = latest.note
    note = submitted = log.cosigned(own)

    def ask(client: WitnessClient) -> NoteSignature | str:
        try:
            return client.add_checkpoint(submitted, 0, proof_for)
        except (SkyfenceError, OSError) as exc:
            return str(exc) or type(exc).__name__

    # the witnesses are asked at once, and each cosignature is kept as it arrives: one
    # witness that is slow or dead delays no other
    cosigned: list[str] = []
    refused: dict[str, str] = {}

    def take(client: WitnessClient, answer: NoteSignature | str) -> None:
        nonlocal note
        if isinstance(answer, str):
            refused[client.verifier.name] = answer
        else:
            cosigned.append(client.verifier.name)
            note = log.cosignatures.add(own, [answer])
        if on_answer is not None:
            on_answer(client.verifier.name, size, answer if isinstance(answer, str) else None)

    if len(witnesses) > 1:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=min(len(witnesses), 16)) as pool:
            futures = {pool.submit(ask, client): client for client in witnesses}
            for future in as_completed(futures):
                take(futures[future], future.result())
    else:
        for client in witnesses:
            take(client, ask(client))
    order = {c.verifier.name: i for i, c in enumerate(witnesses)}
    cosigned.sort(key=order.__getitem__)
    refused = dict(sorted(refused.items(), key=lambda kv: order[kv[0]]))
    return WitnessOutcome(size, note, cosigned, refused)
