"""The console-script entry point, kept to the standard library.

Cron starts ``autopilot execute`` every minute, and most minutes nothing is
due. Importing the full CLI (typer, pydantic, rich) costs ~0.3 s; this module
answers "is anything due?" first with plain sqlite3 and exits at once when
nothing is, so an idle run costs little more than starting Python.

The fast path is taken only when it is certainly safe: the command is exactly
``execute`` with no flags other than ``--config``/``--db``, the config file
(found as the full CLI finds it: ``discovery.find_config``) is byte for byte one
a full run validated before (``config_checks``), the database file exists and
has the jobs table, and no job is due, stuck in a lease, or waiting on a
paused channel. In every other case — including any doubt, or
any error — the full CLI runs and does the real work (and reports config
errors). The reads are ``db/fastpath.py``'s, kept to the standard library too.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported at run time only once the fast path is considered
    import sqlite3


def _db_path(args: list[str]) -> tuple[Path, Path | None] | None:
    """(database, config file or None) when the fast path may be considered; None: run the full CLI."""
    config = db = None
    rest = list(args)
    while rest and rest[0].startswith("--"):
        flag = rest.pop(0)
        name, eq, value = flag.partition("=")
        if not eq:
            if not rest:
                return None
            value = rest.pop(0)
        if name == "--config":
            config = value
        elif name == "--db":
            db = value
        else:
            return None
    if rest != ["execute"]:
        return None
    db = db or os.environ.get("AUTOPILOT_DB")
    # PostgreSQL (or a URL at all): the full CLI. A shop moved there may still have its old SQLite file, which
    # must never answer "nothing to do" for it.
    if os.environ.get("AUTOPILOT_DATABASE_URL") or (db and "://" in db):
        return None
    from .discovery import find_config, home_dir

    found = find_config(config, os.environ)
    if found.refused:  # the full CLI says why, exit 3
        return None
    if found.path is None:
        return (Path(db) if db else home_dir(os.environ) / "autopilot.db"), None
    if not found.path.is_file():
        return None
    if db:
        return Path(db), found.path
    import tomllib

    data = tomllib.loads(found.path.read_text(encoding="utf-8"))
    if data.get("database", {}).get("url"):
        return None
    value = data.get("database", {}).get("path", "autopilot.db")
    path = Path(str(value)).expanduser()
    return (path if path.is_absolute() else found.path.resolve().parent / path), found.path


def _validated(conn: sqlite3.Connection, config: Path | None) -> bool:
    """The full CLI validated exactly these config bytes before (config_checks.py)."""
    if config is None:
        return True
    import hashlib

    from .db.fastpath import validated_digest

    digest = hashlib.sha256(config.read_bytes()).hexdigest()
    return validated_digest(conn, str(config.resolve())) == digest


def nothing_to_do(args: list[str]) -> bool:
    try:
        paths = _db_path(args)
        if paths is None or not paths[0].is_file():
            return False
        path, config = paths
        import sqlite3

        from .db.fastpath import anything_to_do

        now = datetime.now(timezone.utc)
        now_s = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            if not _validated(conn, config):
                return False
            busy = anything_to_do(conn, now_s)
        finally:
            conn.close()
        return busy is False
    except Exception:  # any doubt: let the full CLI run and report properly
        return False


def main() -> None:
    if nothing_to_do(sys.argv[1:]):
        sys.exit(0)
    from .cli import main as cli_main

    cli_main()
