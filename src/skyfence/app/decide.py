"""Decisions as users ask for them: one request, or a table of them.

The policy is the stored version in force at the request's time (checked against the log:
a policy or registry table edited outside skyfence is refused, with the reason) or a policy
file; the terminals are the stored registry or a terminal file. Coordinates out of range
are an error, not a decision. The worldview comes from ``App.world`` (built once per
process), and a compiled policy is kept per process and policy document, so a service
answering many requests compiles each version once.
"""

from __future__ import annotations

import hashlib
import math
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyfence.app._store import open_store, resolver
from skyfence.errors import InputError

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.app.identity import Principal
    from skyfence.policy import BatchDecision, Decision, Policy, TerminalRegistry

__all__ = [
    "Provenance",
    "DecideResult",
    "BatchResult",
    "decide",
    "decide_batch",
    "check_coordinates",
    "warm",
]

_ENGINES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_MAX_ENGINES = 8
_REGISTRIES: weakref.WeakKeyDictionary[Any, tuple[str, Any]] = weakref.WeakKeyDictionary()
_POLICIES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def check_coordinates(lat: float, lon: float) -> tuple[float, float]:
    """``(lat, lon)`` as floats, or :class:`~skyfence.errors.InputError` saying the range."""
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        raise InputError(f"coordinates must be numbers, got {lat!r}, {lon!r}") from None
    if not (math.isfinite(la) and -90.0 <= la <= 90.0):
        raise InputError(f"latitude {lat} is out of range; expected -90..90 degrees")
    if not (math.isfinite(lo) and -180.0 <= lo <= 180.0):
        raise InputError(f"longitude {lon} is out of range; expected -180..180 degrees")
    return la, lo


def _check_optional(name: str, value: float | None, *, minimum: float | None) -> None:
    if value is None:
        return
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise InputError(f"{name} must be a finite number{bound}, got {value}")


def _engine(app: App, policy: Policy) -> Any:
    from skyfence.store import canonical_json

    key = hashlib.sha256(canonical_json(policy.to_document())).hexdigest()
    # the worldview (regions and the country index) comes from App.world only
    return _cached(
        _ENGINES, app, key,
        lambda: policy.compile(resolve=resolver(app), countries=app.world.index()),
    )  # fmt: skip


def _cached(caches: Any, app: App, key: str, make: Callable[[], Any]) -> Any:
    """``caches[app][key]``, made by ``make`` the first time; each app keeps at most
    ``_MAX_ENGINES`` entries (the oldest goes first)."""
    cache = caches.setdefault(app, {})
    value = cache.get(key)
    if value is None:
        value = make()
        if len(cache) >= _MAX_ENGINES:
            cache.pop(next(iter(cache)))
        cache[key] = value
    return value


def _stored_registry(app: App, store: Any) -> TerminalRegistry:
    """The stored registry, rebuilt only when the digest the log attests changes.

    The cached registry is keyed by the digest of its own records (checked against the log
    when they were read), so it is reused exactly while the log attests that digest.
    """
    from skyfence.policy import TerminalRegistry
    from skyfence.store import canonical_json
    from skyfence.store.state import record_hash, registry_digest

    attested = store.state().terminals_digest
    cached = _REGISTRIES.get(app)
    if cached is not None and cached[0] == attested:
        reused: TerminalRegistry = cached[1]
        return reused
    records = store.terminals()
    digest = registry_digest((r["id"], record_hash(canonical_json(r))) for r in records)
    registry = TerminalRegistry.from_records(records)
    _REGISTRIES[app] = (digest, registry)
    return registry


def _stored_policy(app: App, found: Any) -> Policy:
    """The stored version ``found`` (a :class:`~skyfence.store.PolicyInForce`, checked
    against the log) as a policy, read once per process and document hash: a new log head
    that leaves the version in force as it was (a proposal, a token, a terminal) does not
    read, validate and check the seal of the same document again."""
    from skyfence.policy import Policy

    policy: Policy = _cached(
        _POLICIES, app, found.document_hash,
        lambda: Policy.from_document(
            found.document, source=f"policy version {found.version}", resolve=resolver(app)
        ),
    )  # fmt: skip
    return policy


@dataclass(frozen=True)
class Provenance:
    """Where a stored policy version comes from: the log entry that made it
    (``log_index``) and the latest signed checkpoint, which covers that entry."""

    log_index: int
    tree_size: int
    root_hash: str


@dataclass(frozen=True)
class DecideResult:
    """A decision and where its inputs came from (``policy_version`` ``None``: a file)."""

    decision: Decision
    policy_version: int | None
    policy_source: str
    terminals_source: str
    provenance: Provenance | None = None


@dataclass(frozen=True)
class BatchResult:
    decisions: BatchDecision
    policy_version: int | None
    policy_source: str
    terminals_source: str
    provenance: Provenance | None = None


@dataclass(frozen=True)
class _Snapshot:
    """What the stored inputs were at one log head: reused while the head is unchanged,
    and after it moved while the log attests the same version in force and registry."""

    head: tuple[int, bytes]
    version: int
    applied_at: Any
    policy: Policy
    registry: TerminalRegistry
    provenance: Provenance
    engine: Any
    document_hash: str = ""


_SNAPSHOTS: weakref.WeakKeyDictionary[Any, _Snapshot] = weakref.WeakKeyDictionary()


def _stored_inputs(app: App, time: Any) -> _Snapshot | None:
    """The policy in force at ``time`` and the registry, from the store, reused while the
    log head is the one they were read (and authenticated) at; ``None`` when ``time`` is
    before the latest version (then the full path reads the version in force then).

    Anything written through skyfence moves the head, so a reused snapshot is exactly what
    a fresh read would return; a table edited outside skyfence without a log entry cannot
    change it (the fresh read would refuse such an edit). When the head moved but the
    state the new head attests (authenticated) names the same version and document hash
    in force and the same registry — a proposal, a token, a setting — the snapshot is
    kept with the latest checkpoint as its provenance: the process goes on deciding with
    what it authenticated, as it does at an unchanged head.
    """

    with open_store(app) as store:
        head = store.head_marker()
        snap = _SNAPSHOTS.get(app)
        if snap is not None and snap.head == head and time >= snap.applied_at:
            return snap
        state = store.state()
        latest = state.policy_version
        if (
            snap is not None
            and time >= snap.applied_at
            and (snap.version, snap.document_hash) == (latest, state.policy_hash)
            and _stored_registry(app, store) is snap.registry
        ):
            return _moved(app, store, snap, head)
        found = store.policy_in_force(time)
        if found is None or found.version != latest:
            return None
        checkpoint = store.latest_signed()
        if checkpoint is None or checkpoint[0] <= found.log_index:
            return None
        policy = _stored_policy(app, found)
        registry = _stored_registry(app, store)
        snap = _Snapshot(
            head,
            found.version,
            found.applied_at,
            policy,
            registry,
            Provenance(found.log_index, *checkpoint),
            _engine(app, policy),
            found.document_hash,
        )
        if store.head_marker(fresh=True) == head:  # nothing written while reading: reuse it
            _SNAPSHOTS[app] = snap
        return snap


def _moved(app: App, store: Any, snap: _Snapshot, head: tuple[int, bytes]) -> _Snapshot | None:
    """``snap`` at the new ``head`` (same version and registry), with the latest checkpoint
    as its provenance; ``None`` when no checkpoint covers its entry (the full path says)."""
    checkpoint = store.latest_signed()
    if checkpoint is None or checkpoint[0] <= snap.provenance.log_index:
        return None
    moved = replace(snap, head=head, provenance=Provenance(snap.provenance.log_index, *checkpoint))
    if store.head_marker(fresh=True) == head:  # nothing written while reading: reuse it
        _SNAPSHOTS[app] = moved
    return moved


def _inputs(
    app: App,
    time: Any,
    policy_file: str | Path | None,
    terminals_file: str | Path | None,
) -> tuple[Any, int | None, str, TerminalRegistry, str, Provenance | None]:
    """The compiled policy, its version, sources, the registry and the provenance."""
    from skyfence.app.terminals import read_registry
    from skyfence.policy import Policy, load_policy
    from skyfence.timeutil import datetime64_to_iso

    policy: Policy | None = None
    registry: TerminalRegistry | None = None
    version: int | None = None
    if policy_file is None and terminals_file is None:
        snap = _stored_inputs(app, time)
        if snap is not None:
            return (
                snap.engine,
                snap.version,
                f"policy version {snap.version}",
                snap.registry,
                "stored registry",
                snap.provenance,
            )
    provenance: Provenance | None = None
    if policy_file is not None:
        policy = load_policy(policy_file, resolve=resolver(app))
    if terminals_file is not None:
        registry = read_registry(terminals_file)
    if policy is None or registry is None:
        with open_store(app) as store:
            if policy is None:
                found = store.policy_in_force(time)
                if found is None:
                    versions = store.policy_versions()
                    hint = (
                        "the first version was applied at "
                        f"{datetime64_to_iso(versions[0].applied_at)}"
                        if versions
                        else "apply one with `skyfence policy apply FILE`"
                    )
                    raise InputError(
                        f"no stored policy version was in force at {datetime64_to_iso(time)} "
                        f"({hint}); pass a later time or a policy file"
                    )
                version = found.version
                checkpoint = store.log.latest_checkpoint()
                if checkpoint is not None and checkpoint.tree_size > found.log_index >= 0:
                    provenance = Provenance(
                        found.log_index, checkpoint.tree_size, checkpoint.root_hash
                    )
                policy = Policy.from_document(
                    found.document, source=f"policy version {version}", resolve=resolver(app)
                )
            if registry is None:
                registry = _stored_registry(app, store)
    policy_source = str(policy_file) if policy_file is not None else f"policy version {version}"
    terminals_source = str(terminals_file) if terminals_file is not None else "stored registry"
    return _engine(app, policy), version, policy_source, registry, terminals_source, provenance


def decide(
    app: App,
    principal: Principal,
    terminal_id: str,
    lat: float,
    lon: float,
    *,
    time: Any = None,
    speed_kmh: float | None = None,
    altitude_m: float | None = None,
    trip_started: Any = None,
    policy_file: str | Path | None = None,
    terminals_file: str | Path | None = None,
) -> DecideResult:
    """Decide whether ``terminal_id`` at ``lat, lon`` is served at ``time`` (default now).

    Inputs are checked before anything is loaded: coordinates in range, speed >= 0,
    altitude finite, times readable.
    """
    from skyfence.timeutil import parse_time

    principal.require("ask for decisions", "viewer", "terminal-gateway")
    la, lo = check_coordinates(lat, lon)
    _check_optional("speed_kmh", speed_kmh, minimum=0.0)
    _check_optional("altitude_m", altitude_m, minimum=None)
    if not isinstance(terminal_id, str) or not terminal_id.strip():
        raise InputError("terminal id must be a non-empty string")
    t = parse_time(time)
    trip = parse_time(trip_started) if trip_started is not None else None
    engine, version, psrc, registry, tsrc, prov = _inputs(app, t, policy_file, terminals_file)
    decision = engine.decide(
        terminal_id, la, lo, t, speed_kmh, altitude_m, registry=registry, trip_started=trip
    )
    return DecideResult(decision, version, psrc, tsrc, prov)


def decide_batch(
    app: App,
    principal: Principal,
    table: Mapping[str, Any],
    *,
    policy_file: str | Path | None = None,
    terminals_file: str | Path | None = None,
    at: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Decide every row of ``table`` (columns as :meth:`skyfence.policy.CompiledPolicy.
    decide_batch` takes them) with the policy in force at ``at`` (default now) or a file.

    Rows with invalid values come back with reason ``invalid_input``, as the engine does.
    """
    from skyfence.timeutil import parse_time

    principal.require("ask for decisions", "viewer", "terminal-gateway")
    t = parse_time(at)
    engine, version, psrc, registry, tsrc, prov = _inputs(app, t, policy_file, terminals_file)
    out = engine.decide_batch(table, registry=registry, progress=progress)
    return BatchResult(out, version, psrc, tsrc, prov)


def warm(app: App) -> bool:
    """Read, check and compile the stored policy in force now, and build the engine's
    region trees, so that the first decisions a long-running service answers do not pay
    for it (hundreds of milliseconds). ``False`` when there is no stored policy to warm."""
    from skyfence.timeutil import parse_time

    t = parse_time(None)
    snap = _stored_inputs(app, t)
    if snap is None:
        return False
    snap.engine.decide("", 0.0, 0.0, t, None, None, registry=snap.registry)
    return True
