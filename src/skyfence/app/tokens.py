"""API tokens as users run them: create (shown once), list, revoke, and authenticate.

Only admins create, list and revoke tokens; on a new machine the first admin token is made
locally with ``skyfence token create --principal NAME --role admin`` (a local principal holds
every role, since whoever runs the CLI can read the data directory anyway). A token stands
for the principal it is bound to, with its roles: the service makes its
:class:`~skyfence.app.identity.Principal` from the token alone, never from a request body.

Examples
--------
>>> import tempfile
>>> from skyfence.app import App
>>> from skyfence.app.identity import Principal
>>> from skyfence.settings import load_settings
>>> app = App(load_settings(data_dir=tempfile.mkdtemp()))
>>> made = create(app, Principal.local("root", os_user="root"), "Bob", ["viewer"])
>>> who = authenticate(app, made.token)
>>> (who.name, who.via, sorted(who.roles))
('bob', 'token', ['viewer'])
>>> revoke(app, Principal.local("root", os_user="root"), made.record.token_id).state
'revoked'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from skyfence.app._store import open_store
from skyfence.app.identity import ROLES, Principal
from skyfence.errors import InputError
from skyfence.store.tokens import TokenRecord

if TYPE_CHECKING:
    from skyfence.app.context import App

__all__ = [
    "TokenInfo",
    "CreatedToken",
    "DEFAULT_TOKEN_LIFETIME_S",
    "parse_lifetime",
    "create",
    "list_tokens",
    "revoke",
    "authenticate",
]

DEFAULT_TOKEN_LIFETIME_S = 30 * 86400.0
_LIFETIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_lifetime(text: str | float | int) -> float:
    """Seconds from ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` or a number of seconds.

    Examples
    --------
    >>> parse_lifetime("30d"), parse_lifetime("12h"), parse_lifetime(60)
    (2592000.0, 43200.0, 60.0)
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _LIFETIME.match(str(text))
        if match is None:
            raise InputError(
                f"cannot read the lifetime {text!r}; expected e.g. 30d, 12h, 90m, 45s or 2w"
            )
        value = float(match.group(1)) * _UNITS[match.group(2)]
    if not value > 0:
        raise InputError(f"a token's lifetime must be positive, got {text!r}")
    return value


@dataclass(frozen=True)
class TokenInfo(TokenRecord):
    """A token as listed (never its secret): the store's record and its ``state`` — active,
    expired or revoked — when it was read."""

    state: str


@dataclass(frozen=True)
class CreatedToken:
    """A new token: ``token`` is the secret, shown this once."""

    token: str
    record: TokenInfo


def _info(record: TokenRecord, now: datetime | None = None) -> TokenInfo:
    when = now if now is not None else datetime.now(UTC).replace(tzinfo=None)
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    values["roles"] = list(record.roles)
    return TokenInfo(**values, state=record.state_at(when))


def _check_roles(roles: Sequence[str]) -> list[str]:
    if isinstance(roles, str):
        roles = [roles]
    if not roles:
        raise InputError(f"a token needs at least one role; roles are {', '.join(ROLES)}")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InputError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    return sorted(set(roles))


def create(
    app: App,
    principal: Principal,
    name: str,
    roles: Sequence[str],
    *,
    expires_after_s: float = DEFAULT_TOKEN_LIFETIME_S,
    reason: str = "API token created",
) -> CreatedToken:
    """Make a token for ``name`` with ``roles`` (admins only; logged). Its secret is returned
    this once and cannot be read back."""
    from skyfence.store.tokens import create_token

    principal.require("create API tokens", "admin")
    role_list = _check_roles(roles)
    Principal.from_token(name, role_list)  # the name must be a usable identity
    with open_store(app) as store:
        record, token = create_token(
            store,
            principal=name,
            roles=role_list,
            expires_after_s=expires_after_s,
            actor=principal.actor(),
            reason=reason,
        )
    return CreatedToken(token, _info(record))


def list_tokens(app: App, principal: Principal) -> list[TokenInfo]:
    """Every token, oldest first (admins only)."""
    from skyfence.store.tokens import list_tokens as stored

    principal.require("list API tokens", "admin")
    with open_store(app) as store:
        return [_info(r) for r in stored(store)]


def revoke(
    app: App, principal: Principal, token_id: str, *, reason: str = "API token revoked"
) -> TokenInfo:
    """Revoke a token now (admins only; logged). It stops working at once, in every process."""
    from skyfence.store.tokens import revoke_token

    principal.require("revoke API tokens", "admin")
    with open_store(app) as store:
        return _info(revoke_token(store, token_id, actor=principal.actor(), reason=reason))


def authenticate(app: App, token: str, *, store: Any = None) -> Principal:
    """The principal an API token stands for, or
    :class:`~skyfence.errors.AuthenticationError` (unknown, expired or revoked)."""
    from skyfence.store.tokens import authenticate_token

    if store is not None:
        record = authenticate_token(store, token)
    else:
        with open_store(app) as opened:
            record = authenticate_token(opened, token)
    return _principal(record.display_name, tuple(record.roles))


@functools.lru_cache(maxsize=4096)
def _principal(display_name: str, roles: tuple[str, ...]) -> Principal:
    # a Principal is immutable; normalising its name is most of a cached token check's cost
    return Principal.from_token(display_name, roles)
