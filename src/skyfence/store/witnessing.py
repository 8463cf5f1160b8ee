"""Submit the log's latest checkpoint to its witnesses (c2sp.org/tlog-witness) and keep
the cosignatures they return.

A witness cosigns a checkpoint only if it is consistent with the last one it cosigned for
this log; each cosignature is verified against the witness's key before it is kept
(:class:`~skyfence.store.c2sp.CosignedNotes`), and the note with every cosignature is what
``skyfence log tiles`` publishes and ``log verify --witness ... --quorum N`` checks.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def submit(log: TransparencyLog, witnesses: Sequence[WitnessClient]) -> WitnessOutcome:
    """Submit the latest checkpoint to each witness; keep and return the cosignatures.

    A witness that refuses (or cannot be reached) is named in ``refused`` with its answer;
    the others' cosignatures are kept even then.
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

    note = log.cosigned(latest.note)
    got: list[NoteSignature] = []
    cosigned: list[str] = []
    refused: dict[str, str] = {}
    for client in witnesses:
        try:
            got.append(client.add_checkpoint(note, 0, proof_for))
            cosigned.append(client.verifier.name)
        except (SkyfenceError, OSError) as exc:
            refused[client.verifier.name] = str(exc)
    if got:
        note = log.cosignatures.add(latest.note, got)
    return WitnessOutcome(size, note, cosigned, refused)
