"""``autopilot execute``, ``reconcile`` and ``retry``."""

from __future__ import annotations

import sys

import typer

from ...errors import EXIT_SEND_PROBLEMS, EXIT_USAGE
from .._render import console, json_errors, print_json, safe, safe_line
from ._shared import actor, json_option, runtime


def _usage(as_json: bool, message: str) -> typer.BadParameter:
    """A usage refusal (exit 2); with ``--json`` it is also a JSON error object on stdout, as every
    other refusal of these commands is, so a script never reads an empty stdout."""
    if as_json:
        print_json({"error": {"code": "usage_error", "message": message, "exit_code": EXIT_USAGE}})
    return typer.BadParameter(message)


def execute(
    ctx: typer.Context,
    limit: int = typer.Option(None, "--limit", min=1, help="Send at most N jobs."),
    as_json: bool = json_option(),
) -> None:
    """Send every due job through its channel's adapter, at most once each.

    Meant for cron, every minute; safe to overlap and to kill. Silent when
    not on a terminal unless something needs attention. Exit code 7 when a
    job failed permanently, needs reconciling, or a channel is paused.

    Example: * * * * * autopilot --config /path/autopilot.toml execute
    """
    from ...channels import Registry
    from ...sending import execute_jobs

    interactive = sys.stdout.isatty() and not as_json
    # A refusal (config, database, unsubscribe settings) is also a JSON error object with --json.
    with json_errors(as_json):
        rt = runtime(ctx)
        config, store, secrets = rt.config(), rt.store(), rt.secrets()
        if config.source is not None:
            from pathlib import Path

            from ...db.config_checks import record_valid_config

            record_valid_config(store, Path(config.source), rt.clock)
        registry = Registry(config, secrets, store.path, rt.clock)
        unsubscribe_link = None
        if config.server.public_url or config.server.unsubscribe_secret_env:
            from ...contacts import check_unsubscribe_settings, unsubscribe_url

            check_unsubscribe_settings(config, secrets)  # fail now, with a clear message
            unsubscribe_link = lambda contact_id, channel: unsubscribe_url(  # noqa: E731
                config, secrets, contact_id, channel, rt.clock.now())
        progress = None
        bar = None
        if interactive:
            from rich.progress import Progress

            bar = Progress(transient=True, console=console())
            task = bar.add_task("sending", total=None)
            bar.start()
            progress = lambda _result: bar.advance(task)  # noqa: E731
        try:
            report = execute_jobs(store, config, rt.clock, registry, limit=limit, progress=progress,
                                  unsubscribe_link=unsubscribe_link)
        finally:
            if bar is not None:
                bar.stop()
    if as_json:
        print_json(report.model_dump(mode="json"))
    elif interactive or report.has_problems:
        out = console(stderr=not interactive)
        out.print(f"sent {report.sent}, retried {report.retried}, failed {report.failed}, deferred "
                  f"{report.deferred}, needs reconcile {report.needs_reconcile}, skipped {report.skipped}")
        for job in report.jobs:
            if job.outcome in ("failed", "needs_reconcile"):
                out.print(f"  job {job.job_id} ({safe(job.channel)}): {job.outcome} — {safe(job.error or '')}")
        for channel in report.paused_channels:
            why = report.paused_reasons.get(channel) or "reason not recorded"
            out.print(f"  channel {safe(channel)} is paused: {safe_line(why)}; fix it, then: "
                      f"autopilot channels resume {safe(channel)}")
    if report.has_problems:
        raise typer.Exit(EXIT_SEND_PROBLEMS)


def reconcile_cmd(
    ctx: typer.Context,
    jobs: list[int] | None = typer.Argument(None, help="Job ids; none lists the jobs that need a decision."),
    sent: bool = typer.Option(False, "--sent", help="It did go out (you checked with the provider)."),
    resend: bool = typer.Option(False, "--resend", help="It did not go out: send it again."),
    cancel: bool = typer.Option(False, "--cancel", help="Do not send it."),
    provider_id: str = typer.Option(None, "--provider-id", help="With --sent: the provider's message id."),
    as_json: bool = json_option(),
) -> None:
    """Decide jobs whose send may or may not have reached the provider (needs_reconcile).

    Example: autopilot reconcile 17 --resend
    """
    from ...review import jobs_needing_reconcile, reconcile

    rt = runtime(ctx)
    chosen = [name for name, flag in (("sent", sent), ("resend", resend), ("cancel", cancel)) if flag]
    if not jobs:
        if chosen:
            raise _usage(as_json, "name the job ids to reconcile")
        with json_errors(as_json):
            pending = jobs_needing_reconcile(rt.store())
        if as_json:
            print_json(pending)
            return
        out = console()
        out.print(f"{len(pending)} job(s) need a decision")
        for job in pending:
            out.print(f"  job {job['id']} {safe(job['channel'])} → {safe(job['recipient'])}: "
                      f"{safe(job['error'] or '')}")
        return
    if len(chosen) != 1:
        raise _usage(as_json, "choose exactly one of --sent, --resend, --cancel")
    with json_errors(as_json):
        changes = reconcile(rt.store(), rt.clock, actor(), jobs, chosen[0], provider_id)
    if as_json:
        print_json([c.model_dump() for c in changes])
    else:
        for change in changes:
            console().print(f"job {change.job_id}: {change.before} → {change.after}")


def retry_cmd(
    ctx: typer.Context,
    jobs: list[int] | None = typer.Argument(None, help="Failed job ids to send again."),
    failed: bool = typer.Option(False, "--failed", help="Every failed job."),
    as_json: bool = json_option(),
) -> None:
    """Put failed jobs back in the queue (attempts reset); they are checked again before sending.

    Example: autopilot retry --failed
    """
    from ...review import retry

    rt = runtime(ctx)
    if jobs and failed:
        raise _usage(as_json, "give job ids or --failed, not both")
    if not jobs and not failed:
        raise _usage(as_json, "give job ids, or --failed for every failed job")
    with json_errors(as_json):
        changes = retry(rt.store(), rt.clock, actor(), None if failed else jobs)
    if as_json:
        print_json([c.model_dump() for c in changes])
    else:
        console().print(f"{len(changes)} job(s) queued again")


def register(app: typer.Typer) -> None:
    app.command("execute")(execute)
    app.command("reconcile")(reconcile_cmd)
    app.command("retry")(retry_cmd)
