"""Principals: who acts, how they reached skyfence, and what they may do.

A :class:`Principal` is made by the interface, never from a request body: the CLI makes a
local one from the OS account running it (and the ``--operator`` name when given, recording
both); the REST service will make one from an API token bound to a name and roles. The
name is normalised (:func:`skyfence.store.normalise_name`), so one person is one identity
whatever the case, width, spacing or invisible characters of what was typed.

Roles
-----
``viewer``
    read policies, changes, terminals and the log; ask for decisions.
``terminal-gateway``
    ask for decisions (what a network gateway does) — nothing else.
``operator``
    propose policy changes (applied at once when not sensitive), rebase them, register
    terminals, sign checkpoints.
``approver``
    approve or reject pending changes (never their own).
``admin``
    everything, including store settings and key rotation.

Local principals hold every role: whoever runs the CLI on the machine can read and write
the data directory anyway. The two-person rule does not depend on roles: it compares
identities, below every interface, in the store.

Examples
--------
>>> p = Principal.local("Alice", os_user="ops")
>>> (p.name, p.display_name, p.via, p.os_user)
('alice', 'Alice', 'cli', 'ops')
>>> Principal.from_token("bob", ["viewer"]).may("approver")
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from skyfence.errors import InputError, PermissionDeniedError
from skyfence.store.identity import Actor, current_os_user, normalise_name

__all__ = ["Principal", "ROLES", "current_os_user"]

ROLES: tuple[str, ...] = ("viewer", "terminal-gateway", "operator", "approver", "admin")
_IMPLIES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"viewer"}),
    "terminal-gateway": frozenset({"terminal-gateway"}),
    "operator": frozenset({"operator", "viewer"}),
    "approver": frozenset({"approver", "viewer"}),
    "admin": frozenset(ROLES),
}


@dataclass(frozen=True)
class Principal:
    """Someone acting on skyfence.

    ``name`` is normalised (what the two-person rule compares); ``display_name`` is what
    was given; ``via`` is ``"cli"`` (local) or ``"token"``; ``os_user`` is the OS account of
    a local principal (``None`` for token holders); ``roles`` a subset of :data:`ROLES`.
    """

    name: str
    display_name: str
    via: str
    os_user: str | None
    roles: frozenset[str]

    def __post_init__(self) -> None:
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise InputError(
                f"unknown role(s) {', '.join(sorted(unknown))}; roles are {', '.join(ROLES)}"
            )
        if self.via not in ("cli", "token"):
            raise InputError(f"via {self.via!r} is not one of cli, token")

    @classmethod
    def local(cls, operator: str | None = None, *, os_user: str | None = None) -> Principal:
        """The person at this machine: ``operator`` when given (the OS user is recorded too),
        else the OS account (read from the user database, not from ``$USER``)."""
        account = os_user if os_user is not None else current_os_user()
        actor = Actor.local(
            operator if operator is not None else account, via="cli", os_user=account
        )
        return cls(actor.name, actor.display_name, "cli", account, frozenset(ROLES))

    @classmethod
    def from_token(cls, name: str, roles: Iterable[str]) -> Principal:
        """A principal authenticated by an API token bound to ``name`` and ``roles``."""
        actor = Actor.token(name)
        return cls(actor.name, actor.display_name, "token", None, frozenset(roles))

    def may(self, role: str) -> bool:
        """Whether one of the principal's roles grants ``role``."""
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        return any(role in _IMPLIES[r] for r in self.roles)

    def require(self, action: str, *roles: str) -> None:
        """Raise :class:`~skyfence.errors.PermissionDeniedError` unless a role allows it."""
        if not any(self.may(r) for r in roles):
            held = ", ".join(sorted(self.roles)) or "none"
            raise PermissionDeniedError(
                f"{self.display_name} (roles: {held}) may not {action}; that needs the "
                f"{' or '.join(roles)} role"
            )

    def actor(self) -> Actor:
        """What the store records for this principal."""
        if self.via == "token":
            return Actor(self.name, self.display_name, "token", None)
        return Actor(self.name, self.display_name, "cli", self.os_user)

    def __str__(self) -> str:
        if self.via == "cli" and self.os_user and normalise_name(self.os_user) != self.name:
            return f"{self.display_name} (OS user {self.os_user})"
        return self.display_name
