"""Domain errors, and the exit code each one maps to at the CLI edge.

Every failure the operator can cause or meet is one of these classes, with a
one-line message that names the problem (the file, the key, the line). The
CLI prints ``error: <message>`` and exits with the class's ``exit_code``; core
code never prints and never calls ``sys.exit``.

    AutopilotError                      exit 1
    ├── ConfigError                     exit 3  bad TOML, unknown key, bad value
    │   └── SecretMissing               exit 3  the environment variable a key names is unset
    ├── StoreError                      exit 4  the database cannot be used
    │   ├── DatabaseLocked              exit 4  another process held the lock past the busy timeout
    │   ├── DatabaseCorrupt             exit 4  not a SQLite file, or a damaged one
    │   ├── DatabaseFull                exit 4  disk or max_page_count reached
    │   └── SchemaTooNew                exit 4  written by a newer autopilot
    ├── InputError                      exit 5  the whole input was refused, nothing stored
    │   ├── UnknownFormat               exit 5  --format auto could not tell what this is
    │   └── SignatureMismatch           exit 5  X-Hub-Signature-256 does not match the body
    └── NotFound                        exit 1  an id or name that does not exist

Exit code 6 is not an exception: a batch where some records were rejected and
the good ones were stored (see ``ingest``). Exit code 7 is not one either:
``execute`` finished, but a job failed permanently, needs reconciling, or a
channel is paused — cron mails the operator the output. Exit code 8: ``eval`` measured a figure below
its ``--min-precision`` / ``--min-optout-recall``.  Exit code 2 is a usage error
raised by click before our code runs.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_DATABASE = 4
EXIT_INPUT = 5
EXIT_PARTIAL = 6
EXIT_SEND_PROBLEMS = 7
EXIT_BELOW_TARGET = 8
EXIT_INTERRUPTED = 130

__all__ = [
    "AutopilotError",
    "ConfigError",
    "SecretMissing",
    "StoreError",
    "DatabaseLocked",
    "DatabaseCorrupt",
    "DatabaseFull",
    "SchemaTooNew",
    "InputError",
    "UnknownFormat",
    "SignatureMismatch",
    "NotFound",
]


class AutopilotError(Exception):
    """Base class: a failure with a one-line message meant for the operator."""

    exit_code = EXIT_ERROR


class ConfigError(AutopilotError):
    """The configuration file cannot be read or does not validate."""

    exit_code = EXIT_CONFIG


class SecretMissing(ConfigError):
    """A secret's environment variable is not set (the value is never shown)."""


class StoreError(AutopilotError):
    """The SQLite database cannot be opened, read or written."""

    exit_code = EXIT_DATABASE


class DatabaseLocked(StoreError):
    """Another process kept the database locked past the busy timeout."""


class DatabaseCorrupt(StoreError):
    """The file is not a SQLite database, or it is damaged."""


class DatabaseFull(StoreError):
    """The disk, or the database's page limit, is full."""


class SchemaTooNew(StoreError):
    """The database has migrations this version does not know."""


class InputError(AutopilotError):
    """The input as a whole was refused; nothing from it was stored."""

    exit_code = EXIT_INPUT


class UnknownFormat(InputError):
    """Format detection could not recognise the input."""


class SignatureMismatch(InputError):
    """The payload's HMAC signature does not match the app secret."""


class NotFound(AutopilotError):
    """A named record does not exist."""
