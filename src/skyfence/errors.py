"""The one error tree of skyfence.

Every error skyfence raises on purpose is a :class:`SkyfenceError`. Each subclass also
inherits the matching builtin, so ``except ValueError`` keeps working for callers who
do not know skyfence. The CLI prints ``str(error)`` as one line on stderr and exits 1;
the service maps the ``code`` attribute to one JSON envelope.

Messages say what was expected and how to fix it, e.g.
``"starlink.tle line 7: checksum is 3 but the line's digits add up to 5; re-download the file
or pass on_invalid='skip'"``.
"""

from __future__ import annotations

__all__ = [
    "SkyfenceError",
    "InputError",
    "ParseError",
    "ConfigurationError",
    "WriteError",
    "NotFoundError",
    "ConflictError",
    "PermissionDeniedError",
    "AuthenticationError",
    "IntegrityError",
    "DependencyError",
]


class SkyfenceError(Exception):
    """Base of every error skyfence raises on purpose."""

    code = "error"
    http_status = 500


class InputError(SkyfenceError, ValueError):
    """A value given by the caller is out of range or of the wrong form."""

    code = "invalid_input"
    http_status = 400


class ParseError(InputError):
    """A file or text could not be parsed. ``source`` and ``line`` say where.

    ``hint``, when given, is how to get past the error from the caller's side (``pass
    on_invalid='skip' to ...``); it ends the message. A front end whose user cannot pass
    that argument (the CLI) replaces it with its own words through :meth:`with_hint`.
    """

    code = "parse_error"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ):
        where = ""
        if source is not None and line is not None:
            where = f"{source} line {line}: "
        elif source is not None:
            where = f"{source}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message + (f"; {hint}" if hint else ""))
        self.source = source
        self.line = line
        self.reason = message
        self.hint = hint

    def with_hint(self, hint: str | None) -> ParseError:
        """The same error with ``hint`` in place of its own."""
        return type(self)(self.reason, source=self.source, line=self.line, hint=hint)


class ConfigurationError(InputError):
    """A combination of settings contradicts itself (e.g. altitude vs mean motion)."""

    code = "invalid_configuration"


class WriteError(InputError, OSError):
    """A file could not be written where the caller asked (no such directory, read-only,
    a virtual file system such as ``/proc``). Also an ``OSError``, so code that treats a
    failed write as a miss (a cache) keeps doing so."""

    code = "cannot_write"


class NotFoundError(SkyfenceError, LookupError):
    """A named thing (region, preset, terminal, entry) does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(SkyfenceError, RuntimeError):
    """The request conflicts with the current state (e.g. approving an expired change)."""

    code = "conflict"
    http_status = 409


class PermissionDeniedError(SkyfenceError, PermissionError):
    """The operator may not do this (e.g. approve their own change)."""

    code = "permission_denied"
    http_status = 403


class AuthenticationError(SkyfenceError, PermissionError):
    """No credential, or one that is unknown, expired or revoked (an API token)."""

    code = "unauthenticated"
    http_status = 401


class IntegrityError(SkyfenceError, RuntimeError):
    """Stored or exported data fails verification (tampered log, bad signature)."""

    code = "integrity_error"
    http_status = 422


class DependencyError(SkyfenceError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    code = "missing_dependency"
    http_status = 500
