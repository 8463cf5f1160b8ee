"""Approvals signed by the approvers' own keys: two distinct registered keys per sensitive
change, refused at approval otherwise, and flagged by `log verify --signed-approvals` when
forced into the log."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from skyfence.errors import PermissionDeniedError
from skyfence.store import approvals, verify_export
from skyfence.store import changes as store_changes


def _key(seed: int) -> tuple[Ed25519PrivateKey, bytes, str]:
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    public = private.public_key()
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public.public_bytes_raw(), pem


ALICE, BOB, MALLORY = _key(1), _key(2), _key(3)


def _message(store, base: int, digest: str) -> bytes:
    # written from the documented format, not with the library's function
    return (
        f"skyfence/policy-change/v1\n{store.log.origin}\nbase {base}\ndocument {digest}\n"
    ).encode()


def _digest(docs, document) -> str:
    from skyfence.store.canonical import canonical_json

    return hashlib.sha256(canonical_json(docs.stored(document))).hexdigest()


def _request(store, docs, signer=ALICE, actor="alice"):
    document = docs.sensitive("lockdown")
    message = _message(store, 0, _digest(docs, document))
    signed = (signer[1], signer[0].sign(message)) if signer else None
    r = store.apply_policy(document, actor=actor, reason="r", base_version=0, signed=signed)
    assert r.status == "pending"
    return r, message


@pytest.fixture()
def keyed(store):
    store.register_key(ALICE[2], actor="alice", reason="my key")
    store.register_key(BOB[2], actor="bob", reason="my key")
    return store


def test_two_signatures_by_distinct_registered_keys(keyed, docs, tmp_path):
    r, message = _request(keyed, docs)
    res = keyed.approve(
        r.change_id, actor="bob", reason="ok", signed=(BOB[1], BOB[0].sign(message))
    )
    assert res.status == "applied"
    entries = {e.kind: e.entry for e in keyed.log.entries(0, None)}
    for kind, (_, raw, _) in (("policy.request", ALICE), ("policy.approve", BOB)):
        sig = base64.b64decode(entries[kind]["data"]["signature"]["signature"])
        Ed25519PublicKey.from_public_bytes(raw).verify(sig, message)
    path = tmp_path / "log.jsonl"
    keyed.log.export(path)
    assert verify_export(path, keyed.log.pubkey(), signed_approvals=True).ok


def test_one_signature_or_the_same_key_is_refused_at_approval(keyed, docs):
    r, message = _request(keyed, docs)
    with pytest.raises(PermissionDeniedError, match="must be signed"):
        keyed.approve(r.change_id, actor="bob", reason="unsigned")
    with pytest.raises(PermissionDeniedError, match="not registered to bob"):
        keyed.approve(r.change_id, actor="bob", signed=(ALICE[1], ALICE[0].sign(message)))
    with pytest.raises(PermissionDeniedError, match="does not verify"):
        keyed.approve(r.change_id, actor="bob", signed=(BOB[1], BOB[0].sign(b"other")))
    with pytest.raises(PermissionDeniedError, match="registered to alice"):
        keyed.register_key(ALICE[2], actor="bob", reason="reuse alice's key")
    # carol has no key: a signed request cannot be approved with her single signature
    with pytest.raises(PermissionDeniedError, match="second signature"):
        keyed.approve(r.change_id, actor="carol", reason="unsigned")
    # a request signed by a key not registered to its requester is refused up front
    with pytest.raises(PermissionDeniedError, match="not made by a key registered to"):
        _request(keyed, docs, signer=MALLORY)
    # the same key for both people (forced into the log below the store's check): refused
    keyed.log.append(
        approvals.KEY_KIND,
        {"principal": "bob", "key_id": "x", "public_key": base64.b64encode(ALICE[1]).decode()},
        author="bob",
        reason="forced",
    )
    with pytest.raises(PermissionDeniedError, match="same key"):
        keyed.approve(r.change_id, actor="bob", signed=(ALICE[1], ALICE[0].sign(message)))


def test_forced_approvals_are_flagged_by_verify(keyed, docs, tmp_path, monkeypatch):
    r, message = _request(keyed, docs)
    keyed.log.append(
        approvals.KEY_KIND,
        {"principal": "bob", "key_id": "x", "public_key": base64.b64encode(ALICE[1]).decode()},
        author="bob",
        reason="forced",
    )
    # bypass the store's rule, as a tampered server would
    monkeypatch.setattr(
        store_changes,
        "check_approval",
        lambda *a, **k: approvals.signature_record(ALICE[1], ALICE[0].sign(message)),
    )
    keyed.approve(r.change_id, actor="bob", reason="forced")
    path = tmp_path / "log.jsonl"
    keyed.log.export(path)
    report = verify_export(path, keyed.log.pubkey())
    assert not report.ok and "signed twice by the same key" in report.problem


def test_unsigned_sensitive_changes_fail_only_when_signatures_are_required(store, docs, tmp_path):
    r, _ = _request(store, docs, signer=None)
    store.approve(r.change_id, actor="bob", reason="ok")
    path = tmp_path / "log.jsonl"
    store.log.export(path)
    assert verify_export(path, store.log.pubkey()).ok
    report = verify_export(path, store.log.pubkey(), signed_approvals=True)
    assert not report.ok
    assert "lacks a valid signature by a key registered to alice" in report.problem
