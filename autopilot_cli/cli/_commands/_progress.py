"""A progress bar for long runs: on a terminal only — never under cron, in a pipe, or with ``--json``.

The core reports ``(done, total)`` through a callback; this turns those calls
into a rich progress bar on stderr, started on the first call that shows a run
big enough to be worth it, and erased when the run ends (the summary follows).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from .._render import console

MIN_EVENTS = 1000
"""Smaller runs end in about a second: a bar would only flicker."""


class TerminalProgress:
    """``with TerminalProgress("deciding events", enabled=not as_json) as bar: core(..., progress=bar)``."""

    def __init__(self, label: str, *, enabled: bool = True, min_total: int = MIN_EVENTS) -> None:
        self.label, self.min_total = label, min_total
        out = console(stderr=True)
        # stderr a real terminal (cron and pipes are not), and one that can redraw a line.
        self.enabled = enabled and out.is_terminal and not out.is_dumb_terminal
        self._console = out
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if not self.enabled or total < self.min_total:
                return
            self._bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                 console=self._console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total)
        assert self._task is not None
        self._bar.update(self._task, completed=done, total=total)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        # Also on Ctrl-C or an error: the bar is erased before the one-line message.
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
