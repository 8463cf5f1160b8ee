"""Approvals signed by the approvers, over the service: each person's key stays on their
machine (``skyfence remote ... --key``), the service records the signatures, the exported
log passes ``log verify --signed-approvals``, and a forged or wrong-key signature is refused
with its reason."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from tests.clirun import run, run_json
from tests.service.conftest import POLICY

from skyfence.client import Client
from skyfence.errors import PermissionDeniedError

SENSITIVE = {
    "rules": [
        *POLICY["rules"],
        {"id": "ru", "region": "RU", "state": "suspended", "sensitive": True},
    ]
}


def _keypair(tmp_path: Path, name: str, seed: int) -> tuple[Path, Path, Ed25519PrivateKey]:
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    pem = tmp_path / f"{name}.pem"
    pub = tmp_path / f"{name}.pub"
    pem.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    pub.write_bytes(
        private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return pem, pub, private


def _message(origin: str, base: int, document: dict) -> bytes:
    # from the documented text (docs/transparency.md), not the library's function
    from skyfence.store.canonical import canonical_json

    digest = hashlib.sha256(canonical_json(document)).hexdigest()
    return f"skyfence/policy-change/v1\n{origin}\nbase {base}\ndocument {digest}\n".encode()


def _entries(client: Client, kind: str) -> list[dict]:
    size = int(client.checkpoint()["tree_size"])
    return [e["entry"] for e in client.entries(0, size) if e["entry"]["kind"] == kind]


@pytest.mark.postgres
def test_a_sensitive_change_requested_and_approved_with_signatures_made_by_the_client(
    live, tmp_path, capsys
):
    server, tokens = live
    alice_pem, alice_pub, alice = _keypair(tmp_path, "alice", 11)
    bob_pem, bob_pub, bob = _keypair(tmp_path, "bob", 12)
    mallory_pem, _, _ = _keypair(tmp_path, "mallory", 13)
    url = ("--url", server.url)
    op, ap = ("--token", tokens["operator"]), ("--token", tokens["approver"])

    run_json(capsys, "remote", "register-key", str(alice_pub), *url, *op, "--reason", "mine")
    run_json(capsys, "remote", "register-key", str(bob_pub), *url, *ap, "--reason", "mine")

    policy = tmp_path / "lockdown.json"
    policy.write_text(json.dumps(SENSITIVE))
    proposed = run_json(capsys, "remote", "propose", str(policy), *url, *op,
                        "--reason", "lock RU down", "--key", str(alice_pem))  # fmt: skip
    assert proposed["status"] == "pending" and proposed["sensitive"]
    change_id = proposed["change_id"]

    with Client(server.url, tokens["approver2"]) as c:
        # the request entry carries alice's signature over the recorded document
        request = _entries(c, "policy.request")[-1]["data"]
        origin = c.checkpoint()["origin"]
        message = _message(origin, request["base_version"], request["document"])
        alice.public_key().verify(base64.b64decode(request["signature"]["signature"]), message)

    # a signature by a key not registered to the approver: refused, and nothing recorded
    code, _, err = run(capsys, "remote", "approve", str(change_id), *url, *ap,
                       "--reason", "ok", "--key", str(mallory_pem))  # fmt: skip
    assert code == 1 and "is not registered to approver-person" in err, err
    # bob's key but a signature over something else (forged): refused
    with Client(server.url, tokens["approver"]) as c:
        forged = {
            "public_key": base64.b64encode(bob.public_key().public_bytes_raw()).decode(),
            "signature": base64.b64encode(bob.sign(b"something else")).decode(),
        }
        with pytest.raises(PermissionDeniedError, match="does not verify with approver-person"):
            c._call("POST", f"/v1/policy/changes/{change_id}/approve",
                    json={"reason": "x", "signature": forged})  # fmt: skip
        # and an approver with a registered key may not approve unsigned
        with pytest.raises(PermissionDeniedError, match="must be signed"):
            c.approve(change_id, reason="unsigned")
        assert c.change(change_id)["status"] == "pending"

    approved = run_json(capsys, "remote", "approve", str(change_id), *url, *ap,
                        "--reason", "checked", "--key", str(bob_pem))  # fmt: skip
    assert approved["status"] == "applied"

    with Client(server.url, tokens["viewer"]) as c:
        approval = _entries(c, "policy.approve")[-1]["data"]
        bob.public_key().verify(base64.b64decode(approval["signature"]["signature"]), message)
        assert approval["signature"]["key_id"] != request["signature"]["key_id"]
        export = tmp_path / "log.jsonl"
        c.fetch_log(export)
        vkey = tmp_path / "log.pub"
        vkey.write_text(c.public_key()["pem"])
    verified = run_json(capsys, "log", "verify", str(export), "--key", str(vkey),
                        "--signed-approvals")  # fmt: skip
    assert verified["ok"] is True


@pytest.mark.postgres
def test_a_signed_request_with_a_key_not_registered_is_refused_before_anything_is_logged(
    live, tmp_path, capsys
):
    server, tokens = live
    _, _, _ = _keypair(tmp_path, "alice", 11)
    mallory_pem, _, _ = _keypair(tmp_path, "mallory", 13)
    policy = tmp_path / "lockdown.json"
    policy.write_text(json.dumps(SENSITIVE))
    with Client(server.url, tokens["viewer"]) as c:
        before = c.checkpoint()["tree_size"]
    code, _, err = run(capsys, "remote", "propose", str(policy), "--url", server.url,
                       "--token", tokens["operator"], "--reason", "x",
                       "--key", str(mallory_pem))  # fmt: skip
    assert code == 1 and "not made by a key registered to operator-person" in err, err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "remote", "approve", "1", "--url", server.url,
                       "--token", tokens["approver"], "--key", str(tmp_path / "nope.pem"))  # fmt: skip
    assert code == 1 and "cannot read the signing key" in err
    with Client(server.url, tokens["viewer"]) as c:
        assert c.checkpoint()["tree_size"] == before
