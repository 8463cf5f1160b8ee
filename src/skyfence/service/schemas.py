"""Request and response bodies of the API (pydantic models: the OpenAPI document's schemas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Checkpoint",
    "DecisionRequest",
    "DecisionResponse",
    "BatchRow",
    "BatchRequest",
    "BatchResponse",
    "BatchResult",
    "TerminalRecord",
    "ChangeSignature",
    "ProposeRequest",
    "PrepareRequest",
    "PreparedOut",
    "DecideChangeRequest",
    "ApproveChangeRequest",
    "KeyRegistration",
    "ChangeResultOut",
    "ChangeOut",
    "TokenCreate",
    "TokenOut",
    "TokenCreated",
]

Lat = Field(ge=-90.0, le=90.0, description="WGS84 latitude, degrees", examples=[52.23])
Lon = Field(ge=-180.0, le=180.0, description="WGS84 longitude, degrees", examples=[21.01])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Checkpoint(BaseModel):
    """The signed checkpoint (tree head) that covers the log entry."""

    tree_size: int
    root_hash: str


class DecisionRequest(Strict):
    """One terminal at one place (and time)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"terminal_id": "UT-1", "latitude_deg": 52.23, "longitude_deg": 21.01}]
        },
    )

    terminal_id: str = Field(min_length=1, max_length=200)
    latitude_deg: float = Lat
    longitude_deg: float = Lon
    speed_kmh: float | None = Field(default=None, ge=0.0, le=100_000.0)
    altitude_m: float | None = Field(default=None, ge=-1_000.0, le=1_000_000.0)
    time: str | None = Field(
        default=None,
        max_length=64,
        description="ISO 8601 UTC time; default now",
        examples=["2026-02-22T12:00:00Z"],
    )


class DecisionResponse(BaseModel):
    """Whether the terminal is served, why, and which logged policy version decided."""

    allowed: bool
    state: str
    region: str | None
    rule_id: str | None
    reason: str
    reasons: list[str]
    terminal_id: str
    country: str | None
    time: str
    policy_version: int | None
    log_index: int | None
    checkpoint: Checkpoint | None


class BatchRow(Strict):
    terminal_id: str = Field(min_length=1, max_length=200)
    latitude_deg: float
    longitude_deg: float
    speed_kmh: float | None = None
    altitude_m: float | None = None
    time: str | None = Field(default=None, max_length=64)


class BatchRequest(Strict):
    """Rows to decide. Rows with invalid values come back with state ``invalid_input``."""

    rows: list[BatchRow] = Field(max_length=1_000_000)
    time: str | None = Field(default=None, max_length=64, description="time of rows without one")


class BatchResult(BaseModel):
    allowed: bool
    state: str
    rule_id: str | None
    reason: str


class BatchResponse(BaseModel):
    """One result per row, in order, and the policy version that decided them all."""

    results: list[BatchResult]
    count: int
    allowed: int
    policy_version: int | None
    log_index: int | None
    checkpoint: Checkpoint | None


class TerminalRecord(BaseModel):
    """A terminal record (``id`` and ``country`` required; see docs/policy.md)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"id": "UT-1", "country": "PL", "plan": "fixed", "whitelists": []}]
        },
    )

    id: str = Field(min_length=1, max_length=200)
    country: str = Field(min_length=2, max_length=16)
    whitelists: list[str] = Field(default_factory=list, max_length=1000)
    speed_exempt: bool = False
    plan: str = Field(min_length=1, max_length=64, examples=["fixed"])


class ChangeSignature(Strict):
    """An Ed25519 signature made by the principal's own registered key, where the key is,
    over ``skyfence/policy-change/v1 / origin / base N / document SHA-256`` (see
    docs/transparency.md)."""

    public_key: str = Field(
        min_length=1, max_length=100, description="base64 of the 32-byte Ed25519 public key"
    )
    signature: str = Field(
        min_length=1, max_length=200, description="base64 of the 64-byte Ed25519 signature"
    )


class ProposeRequest(Strict):
    """A whole policy document to put in force (applied at once unless sensitive)."""

    document: dict[str, Any] = Field(
        examples=[{"rules": [{"id": "pl", "region": "PL", "state": "active"}]}]
    )
    reason: str = Field(min_length=1, max_length=2000)
    base_version: int | None = Field(
        default=None,
        ge=0,
        description="the version the change was built on: refused with 409 if another is in "
        "force when it is stored; omitted, the change replaces whatever version is in force "
        "then (a signed change is checked against the version in force when it arrives)",
    )
    request_review: bool = False
    expires_after_s: float = Field(default=7 * 86400.0, gt=0, le=365 * 86400.0)
    signature: ChangeSignature | None = Field(
        default=None, description="the requester's signature over the change (optional)"
    )


class PrepareRequest(Strict):
    """A policy document to see as the store would record it (nothing is written)."""

    document: dict[str, Any]
    base_version: int | None = Field(default=None, ge=0)


class PreparedOut(BaseModel):
    origin: str
    base_version: int
    document: dict[str, Any]
    document_hash: str
    message: str = Field(description="the exact text a requester signs")


class DecideChangeRequest(Strict):
    reason: str = Field(default="", max_length=2000)


class ApproveChangeRequest(DecideChangeRequest):
    signature: ChangeSignature | None = Field(
        default=None, description="the approver's signature over the change (see propose)"
    )


class KeyRegistration(Strict):
    """The principal's own Ed25519 public key (PEM, base64 of the raw key, or hex)."""

    public_key: str = Field(min_length=1, max_length=1000)
    reason: str = Field(min_length=1, max_length=2000)


class ChangeResultOut(BaseModel):
    status: str
    change_id: int
    version: int | None
    log_index: int
    base_version: int
    sensitive: bool
    reasons: list[str]
    flags: list[str]


class ChangeOut(BaseModel):
    id: int
    status: str
    operator: str
    display_name: str | None
    via: str | None
    reason: str
    summary: str
    created_at: str
    expires_at: str
    approved_by: str | None
    decided_at: str | None
    version: int | None
    base_version: int | None
    log_index: int
    sensitive: bool | None
    reasons: list[str]
    impact: dict[str, Any] | None = None
    document: dict[str, Any] | None = None


class TokenCreate(Strict):
    principal: str = Field(min_length=1, max_length=200, examples=["bob"])
    roles: list[Literal["viewer", "terminal-gateway", "operator", "approver", "admin"]] = Field(
        min_length=1, max_length=5
    )
    expires_after_s: float = Field(default=30 * 86400.0, gt=0, le=3650 * 86400.0)
    reason: str = Field(default="API token created", max_length=2000)


class TokenOut(BaseModel):
    token_id: str
    principal: str
    display_name: str
    roles: list[str]
    created_at: str
    expires_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None
    log_index: int
    state: str


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown this once, never again")
