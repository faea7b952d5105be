"""``autopilot ingest``."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import EXIT_PARTIAL, InputError
from ..ingest import IngestReport, ingest_bytes
from ..parsers import FORMATS
from ..render import console, print_json, safe
from ._shared import json_option, runtime

FORMAT_CHOICES = ("auto", *FORMATS)


def _read(path: str) -> bytes:
    if path == "-":
        return typer.get_binary_stream("stdin").read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"input path is a directory: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _render(report: IngestReport) -> None:
    out = console()
    out.print(f"ingested {report.ingested}, duplicates {report.duplicates}, statuses {report.statuses}, "
              f"preferences {report.preferences}" + (f" ({safe(report.format)})" if report.format else ""))
    out.print(f"ignored {report.ignored}, rejected {report.rejected}")
    for reason, count in report.ignored_reasons.items():
        out.print(f"  ignored {count}: {safe(reason)}")
    for err in report.errors[:50]:
        where = ", ".join(
            part for part in (
                err.source and safe(err.source),
                err.line is not None and f"line {err.line}",
                err.index and safe(err.index),
            ) if part
        )
        out.print(f"  rejected {where}: {safe(err.reason)}")
    if len(report.errors) > 50:
        out.print(f"  … and {len(report.errors) - 50} more (use --json for all)")


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        ctx: typer.Context,
        files: list[str] = typer.Argument(None, help="Files to ingest; '-' or nothing reads standard input."),
        fmt: str = typer.Option(
            "auto", "--format", "-f", help=f"Input format: {', '.join(FORMAT_CHOICES)}. auto detects it."
        ),
        signature: str = typer.Option(
            None, "--signature", help="X-Hub-Signature-256 header value ('sha256=…') to verify against the channel's app secret."
        ),
        as_json: bool = json_option(),
    ) -> None:
        """Store inbound messages, delivery statuses and consent updates from provider payloads.

        Idempotent: the same provider message id twice gives one event. Bad
        records are reported with their line or index and kept in the rejects
        table; the good ones are stored. Exit code 6 when any record was rejected.

        Example: autopilot ingest --format whatsapp webhook.json --signature "sha256=…"
        """
        rt = runtime(ctx)
        paths = files or ["-"]
        if signature is not None and len(paths) > 1:
            raise InputError("--signature signs one payload; give one file")
        config, secrets = rt.config(), rt.secrets()
        store = rt.store(create=True)
        total = IngestReport()
        for path in paths:
            data = _read(path)
            source = None if path == "-" else path
            total.merge(
                ingest_bytes(store, data, fmt=fmt, config=config, clock=rt.clock, secrets=secrets,
                             signature=signature, source=source)
            )
        if as_json:
            print_json(total.model_dump(mode="json"))
        else:
            _render(total)
        if total.rejected:
            raise typer.Exit(EXIT_PARTIAL)
