"""Who acts: normalised names, the OS user of local changes, and the actor the log records.

One person is one identity. A name is compared in its normalised form — Unicode NFKC,
case-folded, control and invisible characters removed, whitespace trimmed and collapsed — so
``Alice``, ``" alice"``, full-width ``ａｌｉｃｅ`` and ``alice`` followed by a zero-width space
are all ``alice``. What the person typed is kept as the display name.

Examples
--------
>>> normalise_name(" Ａｌｉｃｅ\\u200b ")
'alice'
>>> Actor.local("Alice", via="cli", os_user="ops").name
'alice'
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import Any

from skyfence.errors import InputError

__all__ = ["Actor", "normalise_name", "current_os_user", "VIAS", "MAX_NAME_LENGTH"]

#: How an actor reached skyfence: the command line, an API token, the Python library, or
#: skyfence itself (expiry of overdue changes, first signing key).
VIAS: tuple[str, ...] = ("cli", "token", "library", "system")
MAX_NAME_LENGTH = 200

# code points Unicode marks Default_Ignorable that are not of category Cf (fillers,
# variation selectors, the combining grapheme joiner): invisible, so never part of a name
_IGNORABLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]"
)
_SPACE = re.compile(r"\s+")


def _visible(text: str) -> str:
    """``text`` without control, format, surrogate, private-use or unassigned code points."""
    kept = (ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return _IGNORABLE.sub("", "".join(kept))


def normalise_name(text: Any, *, what: str = "name") -> str:
    """The canonical form of a person's name, used whenever two names are compared.

    NFKC, case folding (then NFKC again, as Unicode's NFKC_Casefold), invisible and control
    characters removed, runs of whitespace collapsed to one space, trimmed.

    Raises
    ------
    InputError
        ``text`` is not a string, is empty once normalised, or is too long.
    """
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string naming a person, not {type(text).__name__}")
    name = text
    for _ in range(4):  # removing a character can make a new composition: to a fixed point
        before = name
        name = unicodedata.normalize("NFKC", _visible(name))
        name = unicodedata.normalize("NFKC", _visible(name.casefold()))
        name = _SPACE.sub(" ", name).strip()
        if name == before:
            break
    if not name:
        raise InputError(
            f"{what} {text!r} is empty once invisible characters and spaces are removed; "
            "give the name of the person making the change"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"{what} is {len(name)} characters long; at most {MAX_NAME_LENGTH}")
    return name


def current_os_user() -> str:
    """The login name of the process's effective user, from the user database (not $USER).

    Environment variables can be set by anyone, so they are not used on POSIX.
    """
    if sys.platform != "win32":
        import pwd

        uid = os.geteuid()
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:  # a uid with no passwd entry (containers)
            return f"uid:{uid}"
    import getpass  # pragma: no cover - Windows

    return getpass.getuser()  # pragma: no cover


@dataclass(frozen=True)
class Actor:
    """The identity the store records for a change or an approval.

    ``name`` is normalised (:func:`normalise_name`) and is what the two-person rule compares;
    ``display_name`` is what was given, minus invisible characters; ``via`` is one of
    :data:`VIAS`; ``os_user`` is the OS account of a local (token-less) actor, ``None`` for
    token holders.
    """

    name: str
    display_name: str
    via: str
    os_user: str | None = None

    def __post_init__(self) -> None:
        if self.via not in VIAS:
            raise InputError(f"via {self.via!r} is not one of {', '.join(VIAS)}")
        expected = normalise_name(self.display_name)
        if self.name != expected:
            raise InputError(
                f"actor name {self.name!r} is not the normalised form of {self.display_name!r} "
                f"({expected!r}); build actors with Actor.local() or Actor.token()"
            )
        if self.os_user is not None and not _visible(self.os_user).strip():
            raise InputError("os_user must be a non-empty account name or None")

    @classmethod
    def local(cls, name: str, *, via: str = "library", os_user: str | None = None) -> Actor:
        """A local actor: ``name`` as given, and the OS user (default: this process's)."""
        display = _SPACE.sub(" ", _visible(name if isinstance(name, str) else "")).strip()
        return cls(
            name=normalise_name(name, what="operator"),
            display_name=display or str(name),
            via=via,
            os_user=os_user if os_user is not None else current_os_user(),
        )

    @classmethod
    def token(cls, name: str) -> Actor:
        """An actor authenticated by an API token (no OS user)."""
        display = _SPACE.sub(" ", _visible(name if isinstance(name, str) else "")).strip()
        return cls(normalise_name(name), display or str(name), "token", None)

    def record(self) -> dict[str, Any]:
        """The JSON form stored with a change and in the log."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "via": self.via,
            "os_user": self.os_user,
        }

    @classmethod
    def from_record(cls, record: Any) -> Actor:
        """Read :meth:`record` back (``InputError`` if it is not one)."""
        if not isinstance(record, dict):
            raise InputError("an actor record is a mapping with name, display_name, via, os_user")
        try:
            return cls(
                name=record["name"],
                display_name=record["display_name"],
                via=record["via"],
                os_user=record.get("os_user"),
            )
        except KeyError as exc:
            raise InputError(f"actor record lacks {exc.args[0]!r}") from None


SYSTEM = Actor("skyfence", "skyfence", "system", None)
"""skyfence itself (expiring overdue changes, making the first signing key)."""


def as_actor(who: Actor | str, *, what: str = "operator") -> Actor:
    """``who`` as an :class:`Actor`; a plain string is a local library caller."""
    if isinstance(who, Actor):
        return who
    if not isinstance(who, str):
        raise InputError(f"{what} must be a name or an Actor, not {type(who).__name__}")
    return Actor.local(who, via="library")
