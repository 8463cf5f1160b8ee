"""tlog-witness: every answer the spec names (200, 400, 403, 404, 409, 422), split views
refused, the check-and-store atomic under concurrency, and the protocol over HTTP."""

from __future__ import annotations

import base64
import hashlib
import threading
import urllib.request

import pytest

from skyfence.errors import IntegrityError
from skyfence.store.merkle import MemoryTree
from skyfence.transparency.checkpoint import (
    EMPTY_ROOT,
    Checkpoint,
    Cosigner,
    sign_checkpoint,
    verify_checkpoint,
)
from skyfence.transparency.merkle import leaf_hash
from skyfence.transparency.note import Signer
from skyfence.transparency.witness import Witness, WitnessClient, add_checkpoint_body, serve

ORIGIN = "example.com/log"
LOG = Signer.from_seed(ORIGIN, bytes([1]) * 32)
W = Cosigner.from_seed("witness.example/w1", bytes([2]) * 32)


def _tree(prefix: str, n: int) -> MemoryTree:
    return MemoryTree(leaf_hash(f"{prefix}{i}".encode()) for i in range(n))


def _note(tree: MemoryTree, size: int, signer: Signer = LOG, origin: str = ORIGIN) -> str:
    return sign_checkpoint(Checkpoint(origin, size, tree.root(size)).text(), signer)


@pytest.fixture()
def witness(tmp_path):
    return Witness(tmp_path / "witness.db", W, [LOG.verifier()], clock=lambda: 1_700_000_000)


def _cosigned(note: str, body: bytes) -> str:
    return note + body.decode()


def test_a_log_grows_under_the_witness_and_a_split_view_is_refused(witness):
    honest = _tree("a", 9)
    first = _note(honest, 3)
    r = witness.add_checkpoint(add_checkpoint_body(0, [], first))
    assert r.status == 200 and r.body.startswith("\u2014 witness.example/w1 ".encode())
    cp = verify_checkpoint(
        _cosigned(first, r.body), LOG.verifier(), witnesses=[W.verifier()], quorum=1
    )
    assert cp.cosigned_at == (1_700_000_000,)
    grown = _note(honest, 7)
    r = witness.add_checkpoint(add_checkpoint_body(3, honest.consistency_proof(3, 7), grown))
    assert r.status == 200
    # the same size again with the same root: fine; with another root: a split view
    assert witness.add_checkpoint(add_checkpoint_body(7, [], grown)).status == 200
    fork = _tree("b", 9)  # another history, shown to someone else
    r = witness.add_checkpoint(add_checkpoint_body(7, [], _note(fork, 7)))
    assert r.status == 422 and b"split view" in r.body
    # a bigger forked tree with a proof from *its own* size-7 tree does not verify
    r = witness.add_checkpoint(add_checkpoint_body(7, fork.consistency_proof(7, 9), _note(fork, 9)))
    assert r.status == 422 and b"does not extend" in r.body
    # the witness still holds the honest checkpoint, cosigned
    assert witness.latest(ORIGIN).startswith(grown.split("\n\n")[0])
    # an old size that is not the one cosigned: 409 with the size, as text/x.tlog.size
    r = witness.add_checkpoint(
        add_checkpoint_body(3, honest.consistency_proof(3, 9), _note(honest, 9))
    )
    assert (r.status, r.body, r.content_type) == (409, b"7\n", "text/x.tlog.size")


def test_every_refusal_the_spec_names(witness):
    tree = _tree("a", 4)
    note = _note(tree, 4)
    stranger = Signer.from_seed(ORIGIN, bytes([9]) * 32)
    other_origin = Signer.from_seed("example.com/other", bytes([1]) * 32)
    cases = [
        (add_checkpoint_body(0, [], _note(tree, 4, other_origin, "example.com/other")), 404),
        (add_checkpoint_body(0, [], _note(tree, 4, stranger)), 403),  # no trusted signature
        (add_checkpoint_body(0, [], note.replace(note.split(" ")[-1][:8], "AAAAAAAA")), 403),
        (add_checkpoint_body(5, [], note), 400),  # old size above the checkpoint's
        (b"old 01\n\n" + note.encode(), 400),
        (b"old 0\nnot-base64\n\n" + note.encode(), 400),
        (b"old 0\n" + note.encode(), 400),  # no blank line before the checkpoint
        (add_checkpoint_body(0, [b"\0" * 32], note), 422),  # a proof from size 0
        (
            add_checkpoint_body(
                0, [], sign_checkpoint(Checkpoint(ORIGIN, 0, b"\1" * 32).text(), LOG)
            ),
            422,
        ),
    ]
    for body, status in cases:
        assert witness.add_checkpoint(body).status == status, body[:60]
    assert witness.latest(ORIGIN) is None  # nothing was cosigned
    # a key name and id matching the log's key, but a signature that fails: 403
    sig = note.rstrip("\n").split(" ")[-1]
    blob = bytearray(base64.b64decode(sig))
    blob[-1] ^= 1
    bad = note.replace(sig, base64.b64encode(bytes(blob)).decode())
    assert witness.add_checkpoint(add_checkpoint_body(0, [], bad)).status == 403


def test_check_and_store_is_atomic(witness):
    """Racing requests from the same old size: one is cosigned, the others get 409."""
    tree = _tree("a", 40)
    assert witness.add_checkpoint(add_checkpoint_body(0, [], _note(tree, 10))).status == 200
    results: list[int] = []

    def submit(size: int) -> None:
        body = add_checkpoint_body(10, tree.consistency_proof(10, size), _note(tree, size))
        results.append(witness.add_checkpoint(body).status)

    threads = [threading.Thread(target=submit, args=(s,)) for s in range(20, 40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count(200) == 1 and results.count(409) == 19


def test_over_http_with_the_client(witness):
    server = serve(witness, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        tree = _tree("a", 12)
        client = WitnessClient(url, W.verifier())

        def proof(old: int) -> list[bytes]:
            return tree.consistency_proof(old, 12) if old else []

        assert witness.add_checkpoint(add_checkpoint_body(0, [], _note(tree, 5))).status == 200
        # the client does not know what the witness saw: 409 tells it, it retries
        note = _note(tree, 12)
        cosig = client.add_checkpoint(note, 0, proof)
        assert cosig.name == "witness.example/w1"
        hashed = hashlib.sha256(ORIGIN.encode()).hexdigest()
        with urllib.request.urlopen(f"{url}/{hashed}/checkpoint") as response:
            served = response.read().decode()
        assert (
            verify_checkpoint(served, LOG.verifier(), witnesses=[W.verifier()], quorum=1).size == 12
        )
        fork = _tree("b", 12)
        with pytest.raises(IntegrityError, match="HTTP 422"):
            client.add_checkpoint(_note(fork, 12), 12, lambda old: [])
    finally:
        server.shutdown()
        server.server_close()


def test_empty_tree_checkpoint(witness):
    note = sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT).text(), LOG)
    assert witness.add_checkpoint(add_checkpoint_body(0, [], note)).status == 200
