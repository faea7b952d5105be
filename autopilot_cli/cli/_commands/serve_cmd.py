"""``autopilot serve``."""

from __future__ import annotations

import logging
import sys

import typer

from ._shared import runtime


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on; keep 127.0.0.1 behind a TLS proxy."
    ),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="TCP port (0 picks a free one)."),
) -> None:
    """Receive WhatsApp and Instagram webhooks, one-click unsubscribes and health checks over HTTP.

    Verifies X-Hub-Signature-256 before parsing and stores payloads exactly as
    `autopilot ingest` does; answers 200 only once a payload is committed, 503
    when it could not be stored (Meta retries). Logs one JSON line per request
    to stderr, without bodies or tokens. At most [server] max_connections open
    connections; slow clients are cut off at header/body/idle deadlines. Runs
    until SIGTERM or Ctrl-C, then finishes in-flight requests and exits 0. Put a
    TLS reverse proxy in front.

    Example: autopilot --config ./autopilot.toml serve --host 127.0.0.1 --port 8080
    """
    from ...server import WEBHOOK_CHANNELS, WebhookApp, WebhookServer, json_logging, log, serve_until_signalled

    rt = runtime(ctx)
    config = rt.config()
    secrets = rt.secrets()
    # The database must exist (`autopilot init`): a mistyped --db fails here instead of
    # quietly storing webhooks in a new file. Pending migrations are applied here, once.
    shown = rt.store().path  # a URL without its password
    db_path = rt.resolved_db_path()
    webhook_app = WebhookApp(config, db_path, rt.clock, secrets)
    server = WebhookServer((host, port), webhook_app)

    def ready(srv: WebhookServer) -> None:
        for channel in WEBHOOK_CHANNELS:
            if not webhook_app.signature_configured(channel):
                log.warning("signature checking not configured; webhooks for this channel get 503",
                            extra={"fields": {"channel": channel}})
        limits = srv.limits
        log.info("listening", extra={"fields": {
            "host": host, "port": srv.port, "database": shown,
            "max_connections": limits.max_connections, "header_timeout_seconds": limits.header_timeout,
            "body_timeout_seconds": limits.body_timeout, "idle_timeout_seconds": limits.idle_timeout}})

    with json_logging(sys.stderr, logging.INFO):
        code = serve_until_signalled(server, on_ready=ready)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
