"""One validated settings object, read from ``SKYFENCE_*`` environment variables when built.

Nothing is read at import: call :func:`load_settings` (the CLI and the service do this once)
and pass the object down.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from skyfence.errors import ConfigurationError

__all__ = ["Settings", "load_settings", "default_data_dir"]


def default_data_dir() -> Path:
    """The per-user data directory (e.g. ``~/.local/share/skyfence`` on Linux)."""
    return Path(platformdirs.user_data_dir("skyfence", appauthor=False))


class Settings(BaseSettings):
    """skyfence settings. Each field can be set as ``SKYFENCE_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="SKYFENCE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: a SQLite file under data_dir. "
        "Example: postgresql+psycopg://user@127.0.0.1:5432/skyfence",
    )
    reports_dir: Path = Field(default=Path("skyfence-reports"))
    cache_dir: Path | None = Field(
        default=None,
        description="Where built inputs (the worldview and its indexes) are cached between runs; "
        "default: <data_dir>/cache. Safe to delete.",
    )

    log_origin: str = Field(
        default="skyfence.local/policy-log",
        description="The origin line of the transparency log's C2SP checkpoints and the name "
        "of its signing key: a schema-less URL naming this log, with no spaces or '+' "
        "(e.g. skyfence.example/policy-log).",
        pattern=r"^[^\s+]+$",
    )

    witnesses: list[str] = Field(
        default_factory=list,
        description="Witnesses the log submits its checkpoints to (c2sp.org/tlog-witness), "
        "each '<verifier key> <URL prefix>'; as a JSON list in the environment.",
    )

    def resolved_cache_dir(self) -> Path:
        """The cache directory in force: the configured one or ``<data_dir>/cache``."""
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one or ``sqlite:///<data_dir>/skyfence.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'skyfence.db'}"


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings from the environment plus ``overrides``."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(
            f"setting {field} (SKYFENCE_{field.upper()}): {first['msg']}"
        ) from None
