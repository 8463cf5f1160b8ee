"""SQLAlchemy 2 models of the store (the Alembic migrations in ``migrations/`` create them).

All times are naive UTC ``DateTime`` columns. Hashes are raw 32-byte ``LargeBinary`` values
(hex in the API and in exports); policy documents and terminal records are canonical JSON text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "LogHeadRow",
    "LogEntryRow",
    "MerkleNodeRow",
    "CheckpointRow",
    "OperatorRow",
    "SigningKeyRow",
    "PolicyVersionRow",
    "PendingChangeRow",
    "TerminalRow",
    "ApiTokenRow",
    "JobRow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class LogHeadRow(Base):
    """One row (id 1): the log's current size and root. Writers lock it to serialise appends."""

    __tablename__ = "log_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class LogEntryRow(Base):
    """One transparency-log entry: its canonical JSON and leaf hash ``SHA-256(0x00 || json)``."""

    __tablename__ = "log_entries"
    entry_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    author: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    entry_json: Mapped[str] = mapped_column(Text, nullable=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class MerkleNodeRow(Base):
    """Hash of the perfect subtree ``(level, node_index)``: leaves ``[i*2**level, (i+1)*2**level)``."""

    __tablename__ = "merkle_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    node_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class CheckpointRow(Base):
    """A signed tree head: tree size, root hash, time, Ed25519 signature and the key's id."""

    __tablename__ = "checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    key_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("signing_keys.key_id"), nullable=False
    )
    signature: Mapped[bytes] = mapped_column(LargeBinary(64), nullable=False)


class OperatorRow(Base):
    """An operator name seen by the store (first and last action)."""

    __tablename__ = "operators"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class SigningKeyRow(Base):
    """Metadata of a checkpoint-signing key; the private key is a PEM file under the key dir."""

    __tablename__ = "signing_keys"
    __table_args__ = (CheckConstraint("status IN ('active', 'retired')", name="status"),)
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(32), nullable=False)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)


class PendingChangeRow(Base):
    """A requested policy change: pending until approved by a second person, rejected,
    expired, or superseded by its rebase onto a newer version.

    Changes applied at once are recorded here too, with status ``applied`` and no approver.
    ``base_version`` is the version the change was built on (``NULL`` for changes made
    before it was recorded); ``requested_actor`` / ``decided_actor`` are the actors' JSON
    records (normalised name, display name, via, OS user); ``judgement`` the sensitivity
    judgement made against the base version (JSON).
    """

    __tablename__ = "pending_changes"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'applied', 'rejected', 'expired', 'superseded')", name="status"
        ),
        Index("ix_pending_changes_status", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    document_json: Mapped[str] = mapped_column(Text, nullable=False)
    document_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log_index: Mapped[int] = mapped_column(BigInteger, nullable=False)
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rebased_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    requested_actor: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_actor: Mapped[str | None] = mapped_column(Text, nullable=True)
    judgement: Mapped[str | None] = mapped_column(Text, nullable=True)


class PolicyVersionRow(Base):
    """A policy version in force from ``applied_at`` until the next version."""

    __tablename__ = "policy_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document_json: Mapped[str] = mapped_column(Text, nullable=False)
    document_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    operator: Mapped[str] = mapped_column(String(200), nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    applied_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    change_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("pending_changes.id"), nullable=False
    )
    log_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class TerminalRow(Base):
    """A user terminal record (the full record is kept as canonical JSON in ``record_json``)."""

    __tablename__ = "terminals"
    terminal_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    country: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    plan: Mapped[str | None] = mapped_column(String(64), nullable=True)
    whitelists: Mapped[Any] = mapped_column(JSON, nullable=False)
    speed_exempt: Mapped[bool] = mapped_column(Boolean, nullable=False)
    record_json: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    log_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ApiTokenRow(Base):
    """An API token: only the SHA-256 of its secret is kept (hex), with the principal it
    stands for, its roles (a JSON list), expiry and revocation. ``log_index`` is the
    ``token.create`` entry that made it."""

    __tablename__ = "api_tokens"
    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    principal: Mapped[str] = mapped_column(String(200), nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    roles: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    log_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class JobRow(Base):
    """Long work run off the request path (a what-if): ``queued``, ``running``, ``done`` or
    ``failed``. ``owner`` is ``host:pid`` of the process running it, so that a restarted
    process can mark the jobs its dead predecessor left unfinished as failed."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    )
    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    params: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    out_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
