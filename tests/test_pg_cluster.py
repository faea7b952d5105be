"""The throw-away PostgreSQL cluster (tests/pg_cluster.py) the PostgreSQL backend's tests stand on."""

from __future__ import annotations

import psycopg
import pytest

from .pg_cluster import PgCluster


def test_the_cluster_answers_through_psycopg(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT version(), current_user").fetchone()
    assert row is not None
    version, user = row
    assert version.startswith("PostgreSQL ")
    assert user == "autopilot"


# The two tests below share a table name: the second sees a fresh database whatever order they run in.
@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_gets_its_own_empty_database(pg_url: str, run: str) -> None:
    with psycopg.connect(pg_url) as conn:
        found = conn.execute("SELECT to_regclass('public.notes')").fetchone()
        assert found == (None,)
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("INSERT INTO notes VALUES (%s)", (run,))
        assert conn.execute("SELECT body FROM notes").fetchall() == [(run,)]


def test_an_unknown_database_raises_operational_error(pg_cluster: PgCluster) -> None:
    # What the driver raises when a connection cannot be made: the backend maps this to its own error.
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(pg_cluster.url("no_such_database"), connect_timeout=5)


def test_the_supply_hands_out_fresh_migrated_databases_and_drops_those_given_back(
        pg_cluster: PgCluster, pg_template: str) -> None:
    from .pg_cluster import DatabaseSupply

    supply = DatabaseSupply(pg_cluster, pg_template, ahead=1)
    first, second = supply.take(), supply.take()
    assert first != second
    for url in (first, second):
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (0,)
    supply.give_back(first)
    supply.stop()  # joins its thread: every task given before it is done
    with psycopg.connect(pg_cluster.url("postgres")) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert first.split("?")[0].rsplit("/", 1)[1] not in names
    assert second.split("?")[0].rsplit("/", 1)[1] in names
    pg_cluster.drop_database(second.split("?")[0].rsplit("/", 1)[1])
