"""One module per command (or command group): each command is a plain module-level function, and
``register(app)`` adds them to the app (``app.command(name)(fn)``, or ``add_typer`` for a group).

A command parses its options, calls one core function, and renders the result.
"""

from __future__ import annotations

from . import (
    ab_cmd,
    calibration_cmd,
    channels_cmd,
    contacts_cmd,
    db_cmd,
    demo_cmd,
    eval_cmd,
    execute_cmd,
    explain_cmd,
    history_cmd,
    ingest_cmd,
    init_cmd,
    process_cmd,
    rejects_cmd,
    review_cmd,
    serve_cmd,
    status_cmd,
)

COMMAND_MODULES = (
    init_cmd, ingest_cmd, process_cmd, explain_cmd, execute_cmd, channels_cmd, serve_cmd, status_cmd, rejects_cmd,
    contacts_cmd, history_cmd, review_cmd, db_cmd, ab_cmd, calibration_cmd, eval_cmd, demo_cmd,
)
