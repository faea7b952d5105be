"""Option bundles and helpers every command shares, so flags behave the same everywhere."""

from __future__ import annotations

import getpass

import typer

from .._runtime import Runtime


def json_option() -> bool:
    return typer.Option(False, "--json", help="Print one JSON object with stable keys (documented in the README).")


def runtime(ctx: typer.Context) -> Runtime:
    obj = ctx.find_root().obj
    if not isinstance(obj, Runtime):  # invoked without the root callback (library use)
        obj = Runtime()
        ctx.find_root().obj = obj
    return obj


def actor() -> str:
    """Who ran an operator action, for the audit log: the OS user name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
