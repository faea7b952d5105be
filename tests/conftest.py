"""Shared fixtures. Every test runs with its own AUTOPILOT_HOME and working folder."""

from __future__ import annotations

import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autopilot_cli.clock import FixedClock
from autopilot_cli.config import Config
from autopilot_cli.db.migrations import open_store
from autopilot_cli.secrets import Secrets

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"sqlite {sqlite3.sqlite_version}, python {sys.version.split()[0]}"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real user's files or sees their settings."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("AUTOPILOT_HOME", str(home))
    monkeypatch.setenv("HOME", str(home))
    for name in ("AUTOPILOT_CONFIG", "AUTOPILOT_DB", "AUTOPILOT_DEBUG", "OPENAI_API_KEY",
                 "WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "INSTAGRAM_TOKEN", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def config() -> Config:
    return Config()


@pytest.fixture
def secrets() -> Secrets:
    return Secrets({})


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock):
    s = open_store(tmp_path / "test.db", clock)
    yield s
    s.close()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def fixture_bytes(*parts: str) -> bytes:
    return FIXTURES.joinpath(*parts).read_bytes()
