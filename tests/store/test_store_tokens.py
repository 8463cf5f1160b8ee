"""API tokens in the store: only a hash is kept, expiry and revocation hold, every change is a
log entry, and a row added or edited outside skyfence is refused."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from skyfence.errors import AuthenticationError, IntegrityError, NotFoundError
from skyfence.store.identity import Actor
from skyfence.store.tokens import (
    authenticate_token,
    create_token,
    list_tokens,
    revoke_token,
)

ROOT = Actor.local("root", via="cli", os_user="root")

pytestmark = pytest.mark.postgres


def test_a_token_is_kept_only_as_its_hash_and_logged(store, store_url):
    record, token = create_token(
        store, principal="Bob", roles=["viewer"], expires_after_s=3600, actor=ROOT, reason="t"
    )
    assert token.startswith(f"sft_{record.token_id}_") and len(token) > 50
    with store._engine.connect() as conn:
        rows = conn.execute(text("SELECT token_hash, principal FROM api_tokens")).all()
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(), "bob")]
    # nothing in the public log lets a reader present the token
    entry = store.log.entry(record.log_index)
    dumped = json.dumps(entry.__dict__, default=str)
    assert token not in dumped and rows[0][0] not in dumped
    assert entry.kind == "token.create" and entry.entry["data"]["roles"] == ["viewer"]
    got = authenticate_token(store, token)
    assert (got.principal, got.roles) == ("bob", ["viewer"])
    assert store.verify().ok


def test_wrong_expired_and_revoked_tokens_are_refused(store, clock):
    record, token = create_token(
        store, principal="bob", roles=["operator"], expires_after_s=60, actor=ROOT, reason="t"
    )
    with pytest.raises(AuthenticationError, match="unknown"):
        authenticate_token(store, token[:-1] + ("A" if token[-1] != "A" else "B"))
    with pytest.raises(AuthenticationError, match="not a skyfence API token"):
        authenticate_token(store, "Bearer nonsense")
    clock.advance(59)
    authenticate_token(store, token)
    clock.advance(1)
    with pytest.raises(AuthenticationError, match="expired"):
        authenticate_token(store, token)
    other, token2 = create_token(
        store, principal="carol", roles=["viewer"], expires_after_s=600, actor=ROOT, reason="t"
    )
    revoked = revoke_token(store, other.token_id, actor=ROOT, reason="left")
    assert revoked.revoked_by == "root"
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate_token(store, token2)
    with pytest.raises(NotFoundError, match="already revoked"):
        revoke_token(store, other.token_id, actor=ROOT, reason="again")
    with pytest.raises(NotFoundError):
        revoke_token(store, "0000", actor=ROOT, reason="none")
    kinds = [e.kind for e in store.log.entries(0, None)]
    assert kinds.count("token.create") == 2 and kinds.count("token.revoke") == 1
    states = {r.token_id: r.state_at(clock.now) for r in list_tokens(store)}
    assert states == {record.token_id: "expired", other.token_id: "revoked"}


def test_a_row_edited_outside_skyfence_is_refused(make_store):
    store = make_store()
    record, token = create_token(
        store, principal="bob", roles=["viewer"], expires_after_s=600, actor=ROOT, reason="t"
    )
    with store._engine.begin() as conn:
        conn.execute(
            text("UPDATE api_tokens SET roles = :r WHERE token_id = :i"),
            {"r": json.dumps(["admin"]), "i": record.token_id},
        )
    fresh = make_store()  # a process that has not seen the row before
    with pytest.raises(IntegrityError, match="not the one the log records"):
        authenticate_token(fresh, token)


@pytest.mark.parametrize("roles", [[], "viewer"])
def test_a_token_needs_roles(store, roles):
    from skyfence.errors import InputError

    with pytest.raises(InputError, match="role"):
        create_token(
            store, principal="bob", roles=roles, expires_after_s=60, actor=ROOT, reason="t"
        )
