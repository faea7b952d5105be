"""The ``autopilot`` command line: parse, call one core function, render.

Errors from the core (``errors.AutopilotError``) become ``error: <message>`` on
stderr and the class's exit code, in one place: ``_Group.invoke``. No command
catches errors itself, and no traceback reaches the operator (set
``AUTOPILOT_DEBUG=1`` to see one for an unexpected internal error).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup

from .. import __version__
from ..db.connection import describe_sqlite_error
from ..errors import EXIT_ERROR, EXIT_INTERRUPTED, AutopilotError
from ._runtime import Runtime

# What a person types there, not the Python type behind it (``<list[int]>``).
_ARGUMENT_METAVARS = {"files": "FILE", "drafts": "DRAFT_ID", "jobs": "JOB_ID", "ids": "ID", "event_id": "EVENT_ID",
                      "contact": "CONTACT", "contacts": "CONTACT", "channel": "CHANNEL", "name": "NAME",
                      "directory": "FOLDER"}


def _friendly_metavars(command: Any) -> None:
    """Give every parameter of ``command`` (and of its subcommands) a metavar a person understands."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            # Usage adds the brackets and "..." itself.
            given = (param.metavar or "").strip("[]{}. ")
            param.metavar = given or _ARGUMENT_METAVARS.get(param.name or "", (param.name or "value").upper())
            # The metavar says it; no "<list[int]>" after it.
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
            continue
        if param.metavar is not None or getattr(param, "is_flag", False):
            continue
        desc = param.type_descriptor
        if desc.is_choice:
            continue
        elif desc.annotation in (int, float):
            param.metavar = "N"
        elif desc.is_path:
            param.metavar = "FILE"
        else:
            param.metavar = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
    for sub in getattr(command, "commands", {}).values():
        _friendly_metavars(sub)


class _Group(TyperGroup):
    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _friendly_metavars(command)
        return command

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        # Usage errors too are one line on stderr (click prints three: usage,
        # hint, error); exit code 2 as documented.
        argv = kwargs.pop("args", None) if "args" in kwargs else (args[0] if args else None)
        # click's positional order after ``args``; named here so standalone_mode cannot be given twice.
        kwargs.update(zip(("prog_name", "complete_var"), args[1:] if args else ()))
        argv = list(sys.argv[1:] if argv is None else argv)
        try:
            rv = super().main(argv or ["--help"], standalone_mode=False, **kwargs)
        except typer.TyperException as exc:
            if not standalone_mode:
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()  # type: ignore[attr-defined]
            else:
                hint = " (see --help)" if getattr(exc, "exit_code", 1) == 2 else ""
                typer.echo("error: " + " ".join(exc.format_message().split()) + hint, err=True)
            sys.exit(getattr(exc, "exit_code", 1))
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AutopilotError as exc:
            _fail(str(exc), exc.exit_code)
        except sqlite3.Error as exc:
            mapped = describe_sqlite_error(exc, _db_name(ctx))
            _fail(str(mapped), mapped.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:  # the last line of defence: an internal bug
            if os.environ.get("AUTOPILOT_DEBUG"):
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc} (set AUTOPILOT_DEBUG=1 for the traceback)",
                EXIT_ERROR,
            )
        finally:
            runtime = ctx.obj
            if isinstance(runtime, Runtime):
                runtime.close()
        return None


def _db_name(ctx: typer.Context) -> str:
    runtime = ctx.obj
    if isinstance(runtime, Runtime) and runtime._store is not None:
        return runtime._store.path
    return "database"


def _fail(message: str, code: int) -> None:
    # One line, whatever the message held.
    typer.echo("error: " + " ".join(message.split()), err=True)
    raise typer.Exit(code)


app = typer.Typer(
    cls=_Group,
    name="autopilot",
    help="Answer inbound WhatsApp, email, Instagram and LinkedIn messages: AI drafts, "
    "safe automatic sends, and a review queue for the rest.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autopilot {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", envvar="AUTOPILOT_CONFIG",
        help="Config file (TOML). Default: autopilot.toml in this folder or a parent, "
        "else $AUTOPILOT_HOME/autopilot.toml, else built-in defaults.",
    ),
    db: str | None = typer.Option(
        None, "--db", envvar="AUTOPILOT_DB",
        help="SQLite database file, or a postgresql:// URL. Default: $AUTOPILOT_DATABASE_URL, the config's "
        "[database] url or path, else $AUTOPILOT_HOME/autopilot.db.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    ctx.obj = Runtime(config_path=config, db_path=db)


from ._commands import COMMAND_MODULES  # noqa: E402  (the app must exist first)

for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    app(prog_name="autopilot")
