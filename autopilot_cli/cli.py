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
from typing import Optional

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import EXIT_ERROR, EXIT_INTERRUPTED, AutopilotError
from .runtime import Runtime
from .store import describe_sqlite_error


class _Group(TyperGroup):
    def main(self, *args: object, standalone_mode: bool = True, **kwargs: object) -> object:
        # Usage errors too are one line on stderr (click prints three: usage,
        # hint, error); exit code 2 as documented.
        argv = kwargs.pop("args", None) if "args" in kwargs else (args[0] if args else None)
        args = args[1:] if args else ()
        argv = list(sys.argv[1:] if argv is None else argv)  # type: ignore[arg-type]
        try:
            rv = super().main(argv or ["--help"], *args, standalone_mode=False, **kwargs)
        except typer.TyperException as exc:
            if not standalone_mode:
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()  # type: ignore[attr-defined]
            else:
                hint = " (see --help)" if getattr(exc, "exit_code", 1) == 2 else ""
                typer.echo("error: " + " ".join(exc.format_message().split()) + hint, err=True)  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 1))
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: typer.Context) -> object:
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
    add_completion=False,
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
    config: Optional[Path] = typer.Option(
        None, "--config", envvar="AUTOPILOT_CONFIG", help="Config file (TOML). Default: autopilot.toml in this folder or a parent, else $AUTOPILOT_HOME/autopilot.toml, else built-in defaults."
    ),
    db: Optional[Path] = typer.Option(
        None, "--db", envvar="AUTOPILOT_DB", help="SQLite database file. Default: the config's [database] path, else $AUTOPILOT_HOME/autopilot.db."
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    ctx.obj = Runtime(config_path=config, db_path=db)


from .commands import COMMAND_MODULES  # noqa: E402  (the app must exist first)

for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    app(prog_name="autopilot")
