"""One read of the log head per request (``Store.same_head``), the state of a head already
authenticated, and stored versions read once per process: each reuses only what a fresh
read would return, and a write is seen by the next request."""

from __future__ import annotations

import threading
from typing import Any

from skyfence.store.rules import read_policy


def _head_row(store: Any) -> tuple[int, bytes]:
    """The head row read with SQLAlchemy, independently of ``head_marker``."""
    with store._engine.connect() as conn:
        size, root = conn.exec_driver_sql(
            "SELECT tree_size, root_hash FROM log_head WHERE id = 1"
        ).one()
    return int(size), bytes(root)


def test_same_head_reads_the_head_once_and_fresh_reads_see_writes(make_store, docs) -> None:
    writer, reader = make_store(), make_store()
    writer.apply_policy(docs.plain("v1"), actor="alice", reason="one", base_version=0)
    before = _head_row(writer)
    with reader.same_head():
        assert reader.head_marker() == before
        writer.apply_policy(docs.plain("v2"), actor="alice", reason="two", base_version=1)
        after = _head_row(writer)
        assert after != before
        assert reader.head_marker() == before  # the request's instant
        assert reader.head_marker(fresh=True) == after  # what the cache check uses
        assert writer.head_marker() == after  # another store is not pinned
    assert reader.head_marker() == after


def test_same_head_is_per_thread(make_store, docs) -> None:
    store = make_store()
    store.apply_policy(docs.plain("v1"), actor="alice", reason="one", base_version=0)
    first = _head_row(store)
    seen: list[tuple[int, bytes]] = []
    with store.same_head():
        assert store.head_marker() == first
        store.apply_policy(docs.plain("v2"), actor="alice", reason="two", base_version=1)
        worker = threading.Thread(target=lambda: seen.append(store.head_marker()))
        worker.start()
        worker.join()
    assert seen == [_head_row(store)] and seen[0] != first


def test_state_of_an_authenticated_head_is_reused_only_while_the_head_is_unchanged(
    make_store, docs
) -> None:
    writer, reader = make_store(), make_store()
    writer.apply_policy(docs.plain("v1"), actor="alice", reason="one", base_version=0)
    assert reader.state().policy_version == 1
    assert reader.state().policy_version == 1  # the same head: not authenticated again
    writer.apply_policy(docs.plain("v2"), actor="alice", reason="two", base_version=1)
    assert reader.state().policy_version == 2  # the head moved: read and checked anew
    assert writer.state() == reader.state()


def test_a_stored_version_is_parsed_once_and_is_what_a_fresh_read_gives(make_store, docs) -> None:
    store = make_store()
    store.apply_policy(docs.plain("v1"), actor="alice", reason="one", base_version=0)
    digest = store.state().policy_hash
    document = store.policy_document(1)
    policy = store.parsed_policy(digest, document, source="v1")
    assert policy == read_policy(document, source="v1")
    assert store.parsed_policy(digest, document, source="v1") is policy
    # judged against the version in force: the same judgement with the policy reused
    result = store.apply_policy(docs.sensitive("v2"), actor="alice", reason="two", base_version=1)
    assert result.status == "pending" and result.sensitive
