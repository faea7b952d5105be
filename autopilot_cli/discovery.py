"""Which config file a command uses: one function, standard library only.

Shared by the CLI (``cli/runtime``) and the idle ``execute`` fast path
(``entry.py``), which must start without importing typer or pydantic — so both
always agree on the file, and therefore on the database.

Order: ``--config`` > ``$AUTOPILOT_CONFIG`` > the first ``autopilot.toml`` in
the current folder or one of its parents (as git and ruff find theirs) >
``$AUTOPILOT_HOME/autopilot.toml`` > none (the embedded defaults, with relative
paths under ``$AUTOPILOT_HOME``).

The walk up is bounded, because a config decides where the database is and
where tokens are sent (a channel's ``base_url`` with its ``token_env``): a file
planted by someone else must never be picked up in silence.

- Inside your home folder the walk stops at it: ``/home/autopilot.toml`` (or
  any folder above ``$HOME``) is not yours and is never looked at. Outside it
  (``/srv/shop/...``, a cron job's ``/``) the walk goes up to the root.
- A file found this way that belongs to another user (not you, not root) is
  refused, as git refuses a repository of "dubious ownership": a shared or
  world-writable folder such as ``/tmp`` cannot hand you its config. The
  refusal names the file; ``--config`` uses it anyway. Files named explicitly
  (``--config``, ``$AUTOPILOT_CONFIG``) or in ``$AUTOPILOT_HOME`` are not checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "autopilot.toml"


def home_dir(environ: Mapping[str, str]) -> Path:
    """``$AUTOPILOT_HOME``, else ``~/.autopilot``."""
    return Path(environ.get("AUTOPILOT_HOME") or Path.home() / ".autopilot").expanduser()


@dataclass(frozen=True)
class Found:
    path: Path | None
    """The config file, or None for the embedded defaults."""
    how: str
    """``--config``, ``$AUTOPILOT_CONFIG``, ``found in <folder>``, ``$AUTOPILOT_HOME`` or ``defaults``."""
    refused: str | None = None
    """Why the file found by the walk must not be used (another user's); None: usable."""


def _user_home(environ: Mapping[str, str]) -> Path | None:
    try:
        return Path(environ.get("HOME") or Path.home()).resolve()
    except (OSError, RuntimeError):  # no home at all (a bare service account): no ceiling
        return None


def search_folders(here: Path, environ: Mapping[str, str]) -> list[Path]:
    """``here`` and its parents, up to ``$HOME`` when ``here`` is inside it, else up to the root."""
    folders = [here, *here.parents]
    home = _user_home(environ)
    if home is not None and home in folders and home != Path(home.anchor):
        folders = folders[: folders.index(home) + 1]
    return folders


def _foreign_owner(path: Path, uid: int | None) -> int | None:
    """The owner's uid when ``path`` belongs to neither ``uid`` nor root; else None."""
    if uid is None:  # no uids on this platform
        return None
    owner = path.stat().st_uid
    return None if owner in (uid, 0) else owner


def find_config(explicit: str | Path | None, environ: Mapping[str, str], cwd: Path | None = None,
                uid: int | None = None) -> Found:
    """The config file to use (see the module doc). ``uid`` defaults to the effective user."""
    if explicit:
        return Found(Path(explicit).expanduser(), "--config")
    if environ.get("AUTOPILOT_CONFIG"):
        return Found(Path(environ["AUTOPILOT_CONFIG"]).expanduser(), "$AUTOPILOT_CONFIG")
    try:
        here = (cwd or Path.cwd()).resolve()
    except OSError:  # the current folder was deleted under us
        here = None
    if here is not None:
        if uid is None and hasattr(os, "geteuid"):
            uid = os.geteuid()
        for folder in search_folders(here, environ):
            candidate = folder / CONFIG_NAME
            try:
                if not candidate.is_file():
                    continue
                owner = _foreign_owner(candidate, uid)
            except OSError:  # a folder we may not look into: nothing of ours is there
                continue
            refused = None if owner is None else (
                f"refusing {candidate}: it belongs to another user (uid {owner}), and a config decides "
                "where the database is and where tokens are sent; pass --config to use it anyway")
            return Found(candidate, f"found in {folder}", refused)
    candidate = home_dir(environ) / CONFIG_NAME
    try:
        at_home = candidate.is_file()
    except OSError:  # cannot even look into $AUTOPILOT_HOME: loading it names the problem (exit 3)
        at_home = True
    if at_home:
        return Found(candidate, "$AUTOPILOT_HOME")
    return Found(None, "defaults")
