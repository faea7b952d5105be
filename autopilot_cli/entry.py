"""The console-script entry point, kept to the standard library.

Cron starts ``autopilot execute`` every minute, and most minutes nothing is
due. Importing the full CLI (typer, pydantic, rich) costs ~0.3 s; this module
answers "is anything due?" first with plain sqlite3 and exits at once when
nothing is, so an idle run costs little more than starting Python.

The fast path is taken only when it is certainly safe: the command is exactly
``execute`` with no flags other than ``--config``/``--db``, the database file
exists and has the jobs table, and no job is due, stuck in a lease, or
waiting on a paused channel. In every other case — including any doubt, or
any error — the full CLI runs and does the real work (and reports config
errors). The check is the same query ``execute.anything_due`` runs.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path


def _db_path(args: list[str]) -> Path | None:
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
    if db:
        return Path(db)
    home = Path(os.environ.get("AUTOPILOT_HOME") or Path.home() / ".autopilot").expanduser()
    config = config or os.environ.get("AUTOPILOT_CONFIG") or (home / "autopilot.toml")
    config_path = Path(config)
    if not config_path.is_file():
        return home / "autopilot.db" if not (config or os.environ.get("AUTOPILOT_CONFIG")) else None
    import tomllib

    data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    value = data.get("database", {}).get("path", "autopilot.db")
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else config_path.resolve().parent / path


def nothing_to_do(args: list[str]) -> bool:
    try:
        path = _db_path(args)
        if path is None or not path.is_file():
            return False
        import sqlite3

        now = datetime.now(timezone.utc)
        now_s = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE ((state IN ('scheduled', 'retry_wait') AND send_at <= :now) "
                "OR (state IN ('claimed', 'sending') AND lease_until < :now))) "
                "OR EXISTS (SELECT 1 FROM channel_state WHERE paused_at IS NOT NULL)",
                {"now": now_s},
            ).fetchone()
        finally:
            conn.close()
        return row is not None and row[0] == 0
    except Exception:  # any doubt: let the full CLI run and report properly
        return False


def main() -> None:
    if nothing_to_do(sys.argv[1:]):
        sys.exit(0)
    from .cli import main as cli_main

    cli_main()
