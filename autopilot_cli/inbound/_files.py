"""Several inputs in one ``ingest`` run: one bad file never stops the others.

Each input (a file, or ``-`` for standard input) gets its own result:

- ``ingested``  every record was stored (or was a duplicate, or ignored with a reason);
- ``rejected``  the good records were stored, the bad ones kept in ``rejects``;
- ``unusable``  the input as a whole was refused (unreadable, empty, binary, not a
  known format, bad signature, cannot be parsed at all) — nothing from it is stored.

Under cron, ``ingest inbox/*.eml`` with one empty file used to stop at that file on
every run, so the files after it were never read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from ..clock import Clock
from ..config import Config
from ..db.connection import Store
from ..db.rejects import bounded
from ..errors import InputError
from ..secrets import Secrets
from ._ingest import BAD_INPUT_ERRORS, IngestReport, describe_bad_input, ingest_bytes
from ._parsers import FORMATS

STDIN = "-"


class InputResult(BaseModel):
    """What became of one input; its JSON keys are documented and stable."""

    source: str
    """The file name as given, ``-`` for standard input."""
    outcome: Literal["ingested", "rejected", "unusable"]
    format: str | None = None
    ingested: int = 0
    duplicates: int = 0
    statuses: int = 0
    preferences: int = 0
    ignored: int = 0
    rejected: int = 0
    reason: str | None = None
    """Why the input was unusable (None otherwise)."""


class IngestRun(IngestReport):
    """The totals over every usable input, plus one result per input."""

    unusable: int = 0
    files: list[InputResult] = Field(default_factory=list)


@dataclass(frozen=True)
class IngestProgress:
    source: str
    done_bytes: int
    total_bytes: int
    """Grows when standard input is read (its size is unknown before)."""
    records: int
    inputs_done: int
    inputs: int


def read_source(path: str, stdin: Callable[[], bytes]) -> bytes:
    if path == STDIN:
        return stdin()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"input path is a directory: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _size(path: str) -> int:
    if path == STDIN:
        return 0
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def ingest_inputs(
    store: Store,
    sources: Sequence[str],
    *,
    stdin: Callable[[], bytes],
    fmt: str,
    config: Config,
    clock: Clock,
    secrets: Secrets,
    signature: str | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestRun:
    """Ingest each source in turn; a refused input is reported, the next one still read.

    Raises only for what concerns the whole run: an unknown ``--format``,
    ``--signature`` with several inputs, the configuration, the database.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; formats are auto, {', '.join(FORMATS)}")
    if signature is not None and len(sources) > 1:
        raise InputError("--signature signs one payload; give one file")
    sizes = [_size(path) for path in sources]
    total = sum(sizes)
    run = IngestRun()
    done = records = 0

    def tick(source: str, done_bytes: int) -> None:
        if progress:
            progress(IngestProgress(source, done_bytes, total, records, len(run.files), len(sources)))

    for path, size in zip(sources, sizes):
        tick(path, done)
        try:
            data = read_source(path, stdin)
        except InputError as exc:
            run.files.append(_unusable(path, fmt, str(exc)))
            run.unusable += 1
            continue
        if path == STDIN:
            total += len(data)
            size = len(data)

        def on_batch(count: int, fraction: float | None, path: str = path, size: int = size,
                     start: int = done) -> None:
            nonlocal records
            records += count
            tick(path, start + int(size * fraction) if fraction is not None else start)

        try:
            report = ingest_bytes(store, data, fmt=fmt, config=config, clock=clock, secrets=secrets,
                                  signature=signature, source=None if path == STDIN else path,
                                  on_batch=on_batch)
        except InputError as exc:
            run.files.append(_unusable(path, fmt, str(exc)))
            run.unusable += 1
        except BAD_INPUT_ERRORS as exc:
            # Raised before anything of this input was written (see ingest_bytes).
            run.files.append(_unusable(path, fmt, describe_bad_input(exc)))
            run.unusable += 1
        else:
            run.merge(report)
            run.files.append(InputResult(
                source=path, outcome="rejected" if report.rejected else "ingested", format=report.format,
                **{key: getattr(report, key) for key in
                   ("ingested", "duplicates", "statuses", "preferences", "ignored", "rejected")},
            ))
        done += size
        del data
    tick(sources[-1] if sources else STDIN, done)
    return run


def _unusable(path: str, fmt: str, reason: str) -> InputResult:
    return InputResult(source=path, outcome="unusable", format=None if fmt == "auto" else fmt,
                       reason=bounded(reason))
