"""Shared fixtures. Every test runs with its own AUTOPILOT_HOME and working folder."""

from __future__ import annotations

import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autopilot_cli.clock import FixedClock
from autopilot_cli.config import Config
from autopilot_cli.db.migrations import open_store
from autopilot_cli.secrets import Secrets

from .pg_cluster import DatabaseSupply, PgCluster, start_cluster

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


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes ``store`` runs on both backends, except those about SQLite itself (``sqlite_only``:
    pragmas, the file, its locks). ``AUTOPILOT_TEST_BACKEND`` narrows the run to one."""
    if "backend" in metafunc.fixturenames:
        only = os.environ.get("AUTOPILOT_TEST_BACKEND")
        backends = [b for b in BACKENDS if only in (None, "", b)]
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = ["sqlite"]
        metafunc.parametrize("backend", backends)


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock, backend: str, request: pytest.FixtureRequest):
    if backend == "postgresql":
        s = open_store(request.getfixturevalue("pg_migrated_url"), clock)
    else:
        s = open_store(tmp_path / "test.db", clock)
    yield s
    s.close()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> str:
    """A migrated database that fresh test databases are copied from (CREATE DATABASE … TEMPLATE: fast)."""
    url = pg_cluster.create_database("autopilot_template")
    open_store(url, FixedClock(NOW)).close()
    return "autopilot_template"


@pytest.fixture(scope="session")
def pg_supply(pg_cluster: PgCluster, pg_template: str) -> Iterator[DatabaseSupply]:
    supply = DatabaseSupply(pg_cluster, pg_template)
    yield supply
    supply.stop()


@pytest.fixture
def pg_migrated_url(pg_supply: DatabaseSupply) -> Iterator[str]:
    """A fresh migrated database for one test (made ahead, dropped after, off the test's time)."""
    url = pg_supply.take()
    yield url
    pg_supply.give_back(url)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throw-away PostgreSQL cluster per session, started only when a test asks for it."""
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        # Fail, never skip: a missing server must not make the PostgreSQL tests silently vanish.
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh, empty database for one test; its URL works with psycopg.connect."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    yield pg_cluster.create_database(name)
    pg_cluster.drop_database(name)


def fixture_bytes(*parts: str) -> bytes:
    return FIXTURES.joinpath(*parts).read_bytes()
