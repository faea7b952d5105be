"""Where the CLI finds its config, database, keys and clock.

Resolution order (each step documented in the README):

- config: ``--config`` > ``$AUTOPILOT_CONFIG`` > ``autopilot.toml`` in the current
  folder or a parent > ``$AUTOPILOT_HOME/autopilot.toml`` > the embedded defaults
  (``discovery.find_config``, shared with the fast path in ``entry.py``; the walk
  up stops at ``$HOME`` and refuses another user's file, exit 3);
- database: ``--db`` > ``$AUTOPILOT_DB`` > ``$AUTOPILOT_DATABASE_URL`` > ``[database] url`` >
  ``[database] path`` of a config file (relative to that file) > ``$AUTOPILOT_HOME/autopilot.db``;
  ``--db`` and the URLs take a file path, ``sqlite:///path`` or ``postgresql://…``; every other relative
  path in the config resolves against the config's folder too, or against
  ``$AUTOPILOT_HOME`` when no config file is used (never the current folder);
- secrets: the environment, then ``$AUTOPILOT_HOME/keys.env`` (must be 0600).

``AUTOPILOT_HOME`` defaults to ``~/.autopilot``. This module is the only place
that reads the environment; the core receives the resolved objects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..clock import Clock, SystemClock
from ..config import Config, database_target, load_config
from ..db.connection import Store
from ..db.migrations import open_store
from ..discovery import Found, find_config, home_dir
from ..errors import ConfigError
from ..secrets import Secrets, secrets_from_environment


@dataclass
class Runtime:
    config_path: Path | None = None
    db_path: str | Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    clock: Clock = field(default_factory=SystemClock)
    _config: Config | None = None
    _store: Store | None = None
    _found: Found | None = None

    @property
    def home(self) -> Path:
        return home_dir(self.environ)

    def found_config(self) -> Found:
        """The config file in use and how it was found (looked up once per run)."""
        if self._found is None:
            explicit = self.config_path
            # The --config option reads $AUTOPILOT_CONFIG too (click's envvar): say which it was.
            if explicit is not None and str(explicit) == self.environ.get("AUTOPILOT_CONFIG"):
                explicit = None
            self._found = find_config(explicit, self.environ)
        if self._found.refused:
            raise ConfigError(self._found.refused)
        return self._found

    def resolved_config_path(self) -> Path | None:
        return self.found_config().path

    def config(self) -> Config:
        if self._config is None:
            config = load_config(self.resolved_config_path())
            self._config = config if config.source is not None else config.with_base_dir(self.home)
        return self._config

    def resolved_db_path(self) -> str | Path:
        """A file path, or a ``postgresql://`` URL."""
        if self.db_path is not None:
            return database_target(str(self.db_path))
        if self.environ.get("AUTOPILOT_DATABASE_URL"):
            return database_target(self.environ["AUTOPILOT_DATABASE_URL"])
        config = self.config()
        if config.database.url is not None or config.source is not None:
            return config.database_location()
        return self.home / "autopilot.db"

    def store(self, create: bool = False) -> Store:
        """The database, migrated. Only commands that bring data in (``ingest``) create it:
        a mistyped ``--db`` for any other command is an error, not a new empty database."""
        if self._store is None:
            path = self.resolved_db_path()
            if create and self.db_path is None and self.config().source is None and isinstance(path, Path):
                path.parent.mkdir(parents=True, exist_ok=True)
            self._store = open_store(path, self.clock, busy_timeout_ms=self.config().database.busy_timeout_ms,
                                     create=create)
        return self._store

    def secrets(self) -> Secrets:
        return secrets_from_environment(self.environ, self.home / "keys.env")

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
