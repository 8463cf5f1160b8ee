"""``/v1/log``: the transparency log, readable without a token (it exists to be checked by
outsiders): checkpoint, entries, inclusion and consistency proofs, public keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from skyfence.errors import InputError
from skyfence.jsonable import to_jsonable
from skyfence.service.auth import PublicReader
from skyfence.service.errors import RESPONSES

__all__ = ["router", "MAX_ENTRIES"]

MAX_ENTRIES = 1000
router = APIRouter(prefix="/v1/log", tags=["log"], responses=RESPONSES)
Index = Annotated[int, Query(ge=0, le=2**62)]


@router.get("/checkpoint", operation_id="get_checkpoint")
def get_checkpoint(request: Request, reader: PublicReader) -> dict[str, Any]:
    """The latest signed checkpoint (tree size, root hash, time, key id, Ed25519 signature,
    its C2SP ``note``) and ``cosigned_note``: the note with the cosignatures of the witnesses
    that cosigned it so far."""
    from skyfence.app.log import cosigned_checkpoint

    cp, cosigned = cosigned_checkpoint(request.app.state.skyfence, reader)
    out: dict[str, Any] = to_jsonable(cp)
    out["cosigned_note"] = cosigned
    return out


@router.get("/witnesses", operation_id="get_witnesses")
def get_witnesses(request: Request, reader: PublicReader) -> dict[str, Any]:
    """The witnesses this process submits checkpoints to (``SKYFENCE_WITNESSES``) and what
    each did: the largest tree size it cosigned, the last attempt, the last error."""
    publisher = getattr(request.app.state, "witness_publisher", None)
    states = [] if publisher is None else publisher.status()
    return {"witnesses": to_jsonable(states)}


@router.get("/entries", operation_id="get_log_entries")
def get_entries(
    request: Request,
    reader: PublicReader,
    start: Index = 0,
    end: Annotated[int | None, Query(ge=0, le=2**62, description="exclusive")] = None,
) -> dict[str, Any]:
    """Entries ``[start, end)`` (at most 1000 per request) as their canonical JSON records."""
    from skyfence.app.log import show

    stop = start + MAX_ENTRIES if end is None else end
    if stop < start:
        raise InputError(f"end {end} is before start {start}")
    if stop - start > MAX_ENTRIES:
        raise InputError(f"at most {MAX_ENTRIES} entries per request; got {stop - start}")
    page = show(request.app.state.skyfence, reader, start, stop - start)
    return {
        "tree_size": page.tree_size,
        "start": start,
        "entries": [
            {"index": e.index, "leaf_hash": e.leaf_hash, "entry": to_jsonable(e.entry)}
            for e in page.entries
        ],
    }


@router.get("/proof/inclusion", operation_id="get_inclusion_proof")
def get_inclusion(
    request: Request,
    reader: PublicReader,
    index: Index,
    tree_size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of entry ``index`` in the tree of ``tree_size`` entries."""
    from skyfence.app.log import inclusion_proof

    proof = inclusion_proof(request.app.state.skyfence, reader, index, tree_size)
    out: dict[str, Any] = to_jsonable(proof)
    return out


@router.get("/proof/consistency", operation_id="get_consistency_proof")
def get_consistency(
    request: Request,
    reader: PublicReader,
    first: Annotated[int, Query(ge=1, le=2**62)],
    second: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    """RFC 9162 consistency proof between tree sizes ``first`` and ``second``."""
    from skyfence.app.log import consistency_proof

    out: dict[str, Any] = to_jsonable(
        consistency_proof(request.app.state.skyfence, reader, first, second)
    )
    return out


@router.get("/public-key", operation_id="get_public_key")
def get_public_key(request: Request, reader: PublicReader) -> dict[str, Any]:
    """The PEM of the active signing key, and every key the log has used."""
    from skyfence.app.log import pubkey

    pem, keys = pubkey(request.app.state.skyfence, reader)
    return {"pem": pem, "keys": to_jsonable(keys)}
