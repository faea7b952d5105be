"""The outbox adapter: records each message in the database instead of sending it.

The embedded default for every channel, the demo's transport, and a safe way
to run the whole pipeline against real traffic before switching a channel on.
Recording is idempotent by send key (``outbox.send_key`` is unique), so it is
the one adapter for which a retry after an ambiguous failure can never
duplicate — its capabilities say ``idempotency_key=True``. With ``path`` set,
each recorded message is also appended to that JSONL file.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from ..clock import Clock, to_iso
from ..config import OutboxChannel
from ..db.connection import connect
from ..db.outbox import record_message
from ._base import Capabilities, Outcome, Outgoing, SendResult
from .policy import policy


class OutboxAdapter:
    name = "outbox"

    def __init__(self, channel: str, cfg: OutboxChannel, db_path: str, clock: Clock, file_path: Path | None) -> None:
        # The rules of the channel the outbox stands in for, so that drafts are checked and
        # paced as they would be for the real thing.
        # Recording is idempotent (one row per send key) and nothing is delivered, so no receipts come.
        self.channel = channel
        self.capabilities = Capabilities.of(
            policy(channel), threading=False, idempotency_key=True, templates=False, read_receipts=False,
            default_rate_per_second=cfg.rate_per_second,
        )
        self._db_path = db_path
        self._clock = clock
        self._file = file_path
        self._lock = threading.Lock()

    def _record(self, message: Outgoing) -> str:
        with self._lock, connect(self._db_path) as store:
            with store.transaction() as conn:
                fresh, outbox_id = record_message(
                    conn, job_id=message.job_id, send_key=message.send_key, channel=message.channel,
                    recipient=message.recipient, text=message.text,
                    metadata=json.dumps(message.metadata, ensure_ascii=False, default=str),
                    recorded_at=to_iso(self._clock.now()))
            if self._file is not None and fresh:
                # A configured folder that does not exist yet is made, not a reason to fail every send.
                self._file.parent.mkdir(parents=True, exist_ok=True)
                with self._file.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({"send_key": message.send_key, "channel": message.channel,
                                          "recipient": message.recipient, "text": message.text},
                                         ensure_ascii=False) + "\n")
        return f"outbox:{outbox_id}"

    async def send(self, message: Outgoing) -> SendResult:
        try:
            provider_id = await asyncio.to_thread(self._record, message)
        except Exception as exc:  # a database problem: the message certainly was not recorded
            return SendResult(Outcome.RETRYABLE, error_code="outbox", error=f"{type(exc).__name__}: {exc}")
        return SendResult(Outcome.SENT, provider_message_id=provider_id)

    async def aclose(self) -> None:
        return None

    def health(self) -> dict[str, object]:
        return {"adapter": "outbox", "records_to": "database" + (f" and {self._file}" if self._file else ""),
                "credentials": {}, "ready": True}
