"""Numbered schema migrations, recorded in ``_migrations``.

Each migration is a function registered in ``MIGRATIONS`` in order; it runs
inside one ``BEGIN IMMEDIATE`` transaction together with the row that records
it, so a crash leaves the database at the previous version, never half-way.
An existing database upgrades in place on the next command. A database with
a migration this version does not know was written by a newer autopilot and
is refused rather than guessed at.

The README's "Database tables" section explains why each table exists.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..clock import Clock, to_iso
from ..errors import SchemaTooNew
from .connection import Store, connect, table_names, translate_errors

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def _run(conn: sqlite3.Connection, *statements: str) -> None:
    # Not executescript(): it commits first, which would break the
    # migration's transaction.
    for statement in statements:
        conn.execute(statement)


@migration
def m001_contacts_and_events(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            name TEXT,
            timezone TEXT,
            preferred_channel TEXT,
            quiet_hours TEXT,
            allowed_hours TEXT,
            allowed_days TEXT,
            dnd_until TEXT,
            blocked INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # One person may write from several addresses; kind groups channels
        # that share an identity (a phone number on WhatsApp and SMS).
        """CREATE TABLE contact_addresses (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            kind TEXT NOT NULL,
            address TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (kind, address)
        )""",
        "CREATE INDEX contact_addresses_contact ON contact_addresses(contact_id)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            external_id TEXT NOT NULL,
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            sender TEXT NOT NULL,
            name TEXT,
            message_type TEXT NOT NULL,
            text TEXT NOT NULL,
            body TEXT,
            subject TEXT,
            thread_id TEXT,
            reply_to_id TEXT,
            timezone TEXT,
            automated INTEGER NOT NULL DEFAULT 0,
            automated_reason TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            raw TEXT,
            format TEXT NOT NULL,
            received_at TEXT NOT NULL,
            ingested_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'processed')),
            outcome TEXT,
            reasons TEXT NOT NULL DEFAULT '[]',
            processed_at TEXT,
            UNIQUE (channel, external_id)
        )""",
        "CREATE INDEX events_pending ON events(state, received_at)",
        "CREATE INDEX events_contact ON events(contact_id, received_at)",
        # Records that could not be ingested, kept so nothing is lost silently.
        """CREATE TABLE rejects (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            format TEXT NOT NULL,
            source TEXT,
            line INTEGER,
            location TEXT,
            reason TEXT NOT NULL,
            raw TEXT
        )""",
        # The audit trail: every consent change, when, from which message, by which rule.
        """CREATE TABLE consent_changes (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            at TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('opt_out', 'opt_in')),
            scope TEXT NOT NULL,
            category TEXT NOT NULL,
            source TEXT NOT NULL,
            rule TEXT,
            event_id INTEGER REFERENCES events(id),
            detail TEXT
        )""",
        # Current consent per contact, scope ('all' or a channel) and category
        # ('all' or 'marketing'); absent row = no recorded choice.
        """CREATE TABLE consent (
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            scope TEXT NOT NULL,
            category TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('opted_in', 'opted_out')),
            updated_at TEXT NOT NULL,
            change_id INTEGER REFERENCES consent_changes(id),
            PRIMARY KEY (contact_id, scope, category)
        )""",
        "CREATE INDEX consent_changes_contact ON consent_changes(contact_id, at)",
    )


@migration
def m002_drafts_jobs_statuses(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL UNIQUE REFERENCES events(id),
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            channel TEXT NOT NULL,
            text TEXT NOT NULL,
            confidence REAL,
            reasons TEXT NOT NULL DEFAULT '[]',
            ready INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'review'
                CHECK (state IN ('review', 'approved', 'rejected', 'scheduled', 'cancelled')),
            drafter TEXT,
            variant_id INTEGER,
            approved_text TEXT,
            decided_by TEXT,
            decided_at TEXT,
            reject_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX drafts_state ON drafts(state, created_at)",
        # send_key is unique: one logical reply can never become two sends.
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            draft_id INTEGER NOT NULL UNIQUE REFERENCES drafts(id),
            event_id INTEGER NOT NULL REFERENCES events(id),
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            send_key TEXT NOT NULL UNIQUE,
            text TEXT NOT NULL,
            text_sha256 TEXT NOT NULL,
            send_at TEXT NOT NULL,
            explanation TEXT,
            state TEXT NOT NULL DEFAULT 'scheduled'
                CHECK (state IN ('scheduled', 'claimed', 'sending', 'sent', 'retry_wait',
                                 'failed', 'needs_reconcile', 'skipped', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT,
            lease_until TEXT,
            provider_message_id TEXT,
            delivery_status TEXT,
            delivery_updated_at TEXT,
            error_code TEXT,
            error TEXT,
            variant_id INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT
        )""",
        "CREATE INDEX jobs_due ON jobs(state, send_at)",
        "CREATE INDEX jobs_provider_id ON jobs(channel, provider_message_id)",
        "CREATE INDEX jobs_contact ON jobs(contact_id, state)",
        # Every status a provider reported, deduplicated; the job keeps the furthest one.
        """CREATE TABLE delivery_statuses (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            provider_message_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
            at TEXT NOT NULL,
            recipient TEXT,
            callback_data TEXT,
            errors TEXT NOT NULL DEFAULT '[]',
            raw TEXT,
            job_id INTEGER REFERENCES jobs(id),
            ingested_at TEXT NOT NULL,
            UNIQUE (channel, provider_message_id, status)
        )""",
        "CREATE INDEX delivery_statuses_job ON delivery_statuses(job_id)",
        # One row per counted action; rolling windows count rows newer than now - window.
        """CREATE TABLE rate_events (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
        "CREATE INDEX rate_events_lookup ON rate_events(scope, key, at)",
    )


@migration
def m003_experiments(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """CREATE TABLE experiments (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            channels TEXT NOT NULL DEFAULT '[]',
            metric TEXT NOT NULL DEFAULT 'replied',
            allocation TEXT NOT NULL DEFAULT 'fixed',
            state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'stopped', 'promoted')),
            winner_variant_id INTEGER,
            origin TEXT NOT NULL DEFAULT 'cli',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE variants (
            id INTEGER PRIMARY KEY,
            experiment_id INTEGER NOT NULL REFERENCES experiments(id),
            name TEXT NOT NULL,
            position INTEGER NOT NULL,
            weight REAL NOT NULL CHECK (weight > 0),
            template TEXT NOT NULL,
            UNIQUE (experiment_id, name)
        )""",
        # Sticky assignment: a contact keeps its variant for the experiment's life.
        """CREATE TABLE assignments (
            experiment_id INTEGER NOT NULL REFERENCES experiments(id),
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            variant_id INTEGER NOT NULL REFERENCES variants(id),
            assigned_at TEXT NOT NULL,
            PRIMARY KEY (experiment_id, contact_id)
        )""",
    )


@migration
def m004_credentials_and_audit(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        # Names of environment variables only, never their values.
        """CREATE TABLE channel_credentials (
            channel TEXT NOT NULL,
            purpose TEXT NOT NULL,
            env_var TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (channel, purpose)
        )""",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            object_type TEXT NOT NULL,
            object_id TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX audit_log_object ON audit_log(object_type, object_id)",
    )


@migration
def m005_decisions_and_model_usage(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        # Every check `process` ran for an event, in order, so `explain` can replay the reasoning.
        """CREATE TABLE decisions (
            event_id INTEGER PRIMARY KEY REFERENCES events(id),
            outcome TEXT NOT NULL,
            reasons TEXT NOT NULL DEFAULT '[]',
            checks TEXT NOT NULL DEFAULT '[]',
            confidence REAL,
            draft_id INTEGER REFERENCES drafts(id),
            job_id INTEGER REFERENCES jobs(id),
            send_at TEXT,
            decided_at TEXT NOT NULL
        )""",
        # Tokens spent per UTC day, for the drafter's daily budget.
        """CREATE TABLE model_usage (
            day TEXT PRIMARY KEY,
            requests INTEGER NOT NULL DEFAULT 0,
            tokens INTEGER NOT NULL DEFAULT 0
        )""",
        "ALTER TABLE drafts ADD COLUMN intent TEXT",
        "ALTER TABLE drafts ADD COLUMN variant TEXT",
        "ALTER TABLE jobs ADD COLUMN variant TEXT",
        "ALTER TABLE jobs ADD COLUMN origin TEXT NOT NULL DEFAULT 'auto'",
    )


@migration
def m006_execution(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        # The email Message-ID is generated before the first attempt and reused on retries.
        "ALTER TABLE jobs ADD COLUMN message_id TEXT",
        "ALTER TABLE jobs ADD COLUMN sending_at TEXT",
        # What the outbox adapter recorded instead of sending; send_key unique = at most once.
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            job_id INTEGER REFERENCES jobs(id),
            send_key TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            text TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            recorded_at TEXT NOT NULL
        )""",
        # A channel that cannot send (expired token) is paused until an operator resumes it.
        """CREATE TABLE channel_state (
            channel TEXT PRIMARY KEY,
            paused_at TEXT,
            reason TEXT
        )""",
        "CREATE INDEX jobs_recipient_sent ON jobs(channel, recipient, sent_at)",
    )


@migration
def m007_reject_fingerprints(conn: sqlite3.Connection) -> None:
    # Re-ingesting the same bad record (Meta retries for days) must not pile up rejects.
    _run(
        conn,
        "ALTER TABLE rejects ADD COLUMN fingerprint TEXT",
        "CREATE UNIQUE INDEX rejects_fingerprint ON rejects(fingerprint)",
    )


@migration
def m008_ab_testing(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        # Conversions (`autopilot convert`): credited to the contact's last send within
        # [ab] attribution_hours. external_id makes a re-recorded conversion (a retried
        # shop webhook, a cron job run twice) count once.
        """CREATE TABLE conversions (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            value REAL,
            at TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT 'cli',
            external_id TEXT UNIQUE,
            event_id INTEGER REFERENCES events(id),
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX conversions_contact ON conversions(contact_id, at)",
        # ab-report counts sends per variant in one pass.
        "CREATE INDEX jobs_variant ON jobs(variant_id, state)",
        # auto_promote: from the config (or `ab create --auto-promote`). hold_promotion: an
        # operator ran `ab resume` on a promoted experiment, so it is not promoted again.
        "ALTER TABLE experiments ADD COLUMN auto_promote INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE experiments ADD COLUMN hold_promotion INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE experiments ADD COLUMN promoted_at TEXT",
    )


def applied_migrations(store: Store) -> list[str]:
    with translate_errors(store.path):
        # Created once: on PostgreSQL even CREATE TABLE IF NOT EXISTS takes a lock every connection would wait on.
        if "_migrations" not in table_names(store):
            store.conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
    return [r[0] for r in store.query("SELECT name FROM _migrations ORDER BY name")]


def pending_migrations(store: Store) -> list[Migration]:
    applied = set(applied_migrations(store))
    known = {fn.__name__ for fn in MIGRATIONS}
    unknown = sorted(applied - known)
    if unknown:
        raise SchemaTooNew(
            f"database {store.path} has migration {unknown[-1]}, which this version of "
            "autopilot does not know; upgrade autopilot"
        )
    return [fn for fn in MIGRATIONS if fn.__name__ not in applied]


@migration
def m009_config_checks(conn: sqlite3.Connection) -> None:
    # The idle `execute` fast path (entry.py) runs without pydantic: it trusts a config file only
    # when the full CLI has validated exactly these bytes before (their SHA-256 is kept here).
    _run(
        conn,
        "CREATE TABLE config_checks (config_path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, checked_at TEXT NOT NULL)",
    )


@migration
def m010_contact_away(conn: sqlite3.Connection) -> None:
    # From an out-of-office reply: the day the contact is back (UTC ISO-8601), and when we learnt it,
    # so that a message they write themselves after it shows they are reachable again.
    _run(
        conn,
        "ALTER TABLE contacts ADD COLUMN away_until TEXT",
        "ALTER TABLE contacts ADD COLUMN away_noted_at TEXT",
    )


@migration
def m011_raw_confidence(conn: sqlite3.Connection) -> None:
    # The drafter's own confidence, before calibration from review outcomes: `calibration` compares it
    # with what reviewers did.
    _run(conn, "ALTER TABLE drafts ADD COLUMN raw_confidence REAL")


@migration
def m012_drafts_by_contact(conn: sqlite3.Connection) -> None:
    # An opt-out cancels the contact's drafts in review: without this index each one scanned every draft
    # in review (1.6 ms per opt-out at 20,000 drafts, bench_process.py --mix realistic).
    _run(conn, "CREATE INDEX drafts_contact ON drafts(contact_id, state)")


def migrate(store: Store, clock: Clock, upto: str | None = None) -> list[str]:
    """Apply pending migrations (up to and including ``upto``); returns their names."""
    known = [fn.__name__ for fn in MIGRATIONS]
    if upto is not None and upto not in known:
        raise ValueError(f"unknown migration {upto!r}")
    # Walk the whole list, not only the pending ones, so that ``upto`` stops
    # the walk even when that migration was applied earlier.
    last = known.index(upto) if upto is not None else len(known) - 1
    pending = {fn.__name__ for fn in pending_migrations(store)}
    done: list[str] = []
    for fn in MIGRATIONS[: last + 1]:
        if fn.__name__ not in pending:
            continue
        with store.transaction() as conn:
            # Re-check inside the lock: another process may have migrated meanwhile.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone():
                continue
            fn(conn)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (fn.__name__, to_iso(clock.now())),
            )
        done.append(fn.__name__)
    return done


def open_store(path: str | Path, clock: Clock, *, busy_timeout_ms: int = 5000, create: bool = True) -> Store:
    """Connect and bring the schema up to date: the usual way to get a Store."""
    store = connect(path, busy_timeout_ms=busy_timeout_ms, create=create)
    try:
        migrate(store, clock)
    except BaseException:
        store.close()
        raise
    return store
