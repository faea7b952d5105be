"""Which config file a command uses: one function, standard library only.

Shared by the CLI (``cli/runtime``) and the idle ``execute`` fast path
(``entry.py``), which must start without importing typer or pydantic — so both
always agree on the file, and therefore on the database.

Order: ``--config`` > ``$AUTOPILOT_CONFIG`` > the first ``autopilot.toml`` in
the current folder or one of its parents (as git and ruff find theirs, up to
the filesystem root) > ``$AUTOPILOT_HOME/autopilot.toml`` > none (the
embedded defaults, with relative paths under ``$AUTOPILOT_HOME``).
"""

from __future__ import annotations

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


def find_config(explicit: str | Path | None, environ: Mapping[str, str], cwd: Path | None = None) -> Found:
    if explicit:
        return Found(Path(explicit).expanduser(), "--config")
    if environ.get("AUTOPILOT_CONFIG"):
        return Found(Path(environ["AUTOPILOT_CONFIG"]).expanduser(), "$AUTOPILOT_CONFIG")
    try:
        here = (cwd or Path.cwd()).resolve()
    except OSError:  # the current folder was deleted under us
        here = None
    if here is not None:
        for folder in (here, *here.parents):
            candidate = folder / CONFIG_NAME
            if candidate.is_file():
                return Found(candidate, f"found in {folder}")
    candidate = home_dir(environ) / CONFIG_NAME
    if candidate.is_file():
        return Found(candidate, "$AUTOPILOT_HOME")
    return Found(None, "defaults")
