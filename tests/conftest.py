"""Shared fixtures: the real data in ../shared/data (optional), a temporary data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The directory of real Starlink data beside the repository, or skip with the reason."""
    if not (SHARED_DATA / "starlink-2026-02-22.tle").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (a checkout without ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def starlink_tle(shared_data: Path) -> Path:
    return shared_data / "starlink-2026-02-22.tle"


@pytest.fixture()
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point skyfence's data dir and database at a temporary directory."""
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SKYFENCE_DATABASE_URL", raising=False)
    return tmp_path


def postgres_url() -> str | None:
    return os.environ.get("SKYFENCE_TEST_POSTGRES_URL") or None
