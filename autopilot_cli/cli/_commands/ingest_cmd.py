"""``autopilot ingest``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn

from ...errors import EXIT_PARTIAL, InputError
from ...inbound import FORMATS, STDIN, IngestProgress, IngestRun, InputResult, ingest_inputs
from .._render import console, is_interactive, print_json, safe
from ._shared import json_option, runtime

FORMAT_CHOICES = ("auto", *FORMATS)
SHOWN_LINES = 50
# Below these, an ingest ends before a bar would tell anything.
PROGRESS_MIN_BYTES = 1_000_000
PROGRESS_MIN_INPUTS = 100


class _ProgressBar:
    """A rich progress bar on a terminal, started only once the run is big enough to
    leave the screen blank for a while; transient, so the summary replaces it."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, tick: IngestProgress) -> None:
        if self._progress is None:
            if tick.total_bytes < PROGRESS_MIN_BYTES and tick.inputs < PROGRESS_MIN_INPUTS:
                return
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[records]} records"), TimeElapsedColumn(),
                console=console(), transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("ingesting", total=max(tick.total_bytes, 1), records="0")
        assert self._task is not None
        name = "standard input" if tick.source == STDIN else Path(tick.source).name
        files = f" ({tick.inputs_done + 1 if tick.inputs_done < tick.inputs else tick.inputs}/{tick.inputs})" \
            if tick.inputs > 1 else ""
        self._progress.update(self._task, completed=tick.done_bytes, total=max(tick.total_bytes, 1),
                              description=f"ingesting {safe(name[:40])}{files}", records=f"{tick.records:,}")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _counts(result: InputResult) -> str:
    parts = [f"{key} {getattr(result, key)}"
             for key in ("ingested", "duplicates", "statuses", "preferences", "ignored", "rejected")
             if getattr(result, key)]
    return ", ".join(parts) or "nothing new"


def _render(run: IngestRun) -> None:
    out = console()
    if len(run.files) > 1:
        # With many inputs, list those that need a look; all of them when few.
        listed = run.files if len(run.files) <= SHOWN_LINES else [f for f in run.files if f.outcome != "ingested"]
        for result in listed[:SHOWN_LINES]:
            if result.outcome == "unusable":
                out.print(f"{safe(result.source)}: unusable, nothing stored: {safe(result.reason)}")
            else:
                fmt = f" ({safe(result.format)})" if result.format else ""
                out.print(f"{safe(result.source)}{fmt}: {_counts(result)}")
        if len(listed) > SHOWN_LINES:
            out.print(f"… and {len(listed) - SHOWN_LINES} more inputs (use --json for all)")
    out.print(f"ingested {run.ingested}, duplicates {run.duplicates}, statuses {run.statuses}, "
              f"preferences {run.preferences}" + (f" ({safe(run.format)})" if run.format else ""))
    out.print(f"ignored {run.ignored}, rejected {run.rejected}"
              + (f", unusable inputs {run.unusable} of {len(run.files)}" if run.unusable else ""))
    for reason, count in run.ignored_reasons.items():
        out.print(f"  ignored {count}: {safe(reason)}")
    for err in run.errors[:SHOWN_LINES]:
        where = ", ".join(
            part for part in (
                err.source and safe(err.source),
                err.line is not None and f"line {err.line}",
                err.index and safe(err.index),
            ) if part
        )
        out.print(f"  rejected {where}: {safe(err.reason)}")
    if len(run.errors) > SHOWN_LINES:
        out.print(f"  … and {len(run.errors) - SHOWN_LINES} more (use --json or `autopilot rejects` for all)")


def _all_refused(run: IngestRun) -> str:
    if len(run.files) == 1:
        only = run.files[0]
        reason = only.reason or "refused"
        return reason if only.source == STDIN or only.source in reason else f"{only.source}: {reason}"
    return f"none of the {len(run.files)} inputs could be used; nothing stored"


def ingest(
    ctx: typer.Context,
    files: list[str] = typer.Argument(None, help="Files to ingest; '-' or nothing reads standard input."),
    fmt: str = typer.Option(
        "auto", "--format", "-f", help=f"Input format: {', '.join(FORMAT_CHOICES)}. auto detects it."
    ),
    signature: str = typer.Option(
        None, "--signature",
        help="X-Hub-Signature-256 header value ('sha256=…') to verify against the channel's app secret.",
    ),
    as_json: bool = json_option(),
) -> None:
    """Store inbound messages, delivery statuses and consent updates from provider payloads.

    Idempotent: the same provider message id twice gives one event. Bad
    records are reported with their line or index and kept in the rejects
    table; the good ones are stored. Each file gets its own result; a file
    that cannot be used at all is reported and the others go on. Exit code 6
    when any record or file was refused, 5 when no input could be used.

    Example: autopilot ingest --format whatsapp webhook.json --signature "sha256=…"
    """
    rt = runtime(ctx)
    config, secrets = rt.config(), rt.secrets()
    store = rt.store(create=True)
    bar = _ProgressBar() if is_interactive() and not as_json else None
    try:
        run = ingest_inputs(store, files or [STDIN], stdin=typer.get_binary_stream("stdin").read, fmt=fmt,
                            config=config, clock=rt.clock, secrets=secrets, signature=signature, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        print_json(run.model_dump(mode="json"))
    else:
        _render(run)
    if run.unusable == len(run.files):
        raise InputError(_all_refused(run))
    if run.rejected or run.unusable:
        raise typer.Exit(EXIT_PARTIAL)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
