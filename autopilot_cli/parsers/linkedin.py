"""LinkedIn inbound messages, in the Compliance Events API's ``messages`` shape.

LinkedIn has no public inbound-message webhook; partners read members'
messages through the Compliance Events API (``resourceName: "messages"``,
``method: "CREATE"``). We accept its response ``{"elements": [event, ...]}``,
a single event, or one event per line. An event is inbound when its ``actor``
is not the mailbox ``owner``; our own outbound messages are ignored so that
the bot never answers itself. The text is ``activity.content.fallback`` (or
``content.content.string``); ``activity.createdAt`` is in milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..addresses import AddressError, normalize_address
from ..clock import parse_timestamp
from ..events import Ignored, InboundMessage, ParsedItem, Rejected
from ._common import JsonDocument, Limits, iter_json_documents, json_path, too_big


def _text(activity: dict[str, Any]) -> str | None:
    content = activity.get("content")
    if isinstance(content, dict):
        inner = content.get("content")
        if isinstance(content.get("fallback"), str) and content["fallback"].strip():
            return content["fallback"]
        if isinstance(inner, dict) and isinstance(inner.get("string"), str):
            return inner["string"]
    for key in ("body", "text"):
        if isinstance(activity.get(key), str):
            return activity[key]
    return None


def parse_event(event: Any, line: int | None, index: str | None) -> ParsedItem:
    def reject(reason: str) -> Rejected:
        return Rejected(line=line, index=index, reason=reason, raw=event)

    if not isinstance(event, dict):
        return reject("expected a JSON object")
    if event.get("resourceName") != "messages":
        return Ignored(line=line, index=index, reason=f"resourceName {event.get('resourceName')!r} is not handled")
    if event.get("method", "CREATE") != "CREATE":
        return Ignored(line=line, index=index, reason=f"method {event.get('method')!r} (edits and deletions are not inbound)")
    activity = event.get("activity")
    if not isinstance(activity, dict):
        return reject("missing 'activity' object")
    owner = event.get("owner") or activity.get("owner")
    actor = event.get("actor") or activity.get("author")
    if not actor:
        return reject("missing 'actor'")
    if owner and actor == owner:
        return Ignored(line=line, index=index, reason="outbound message from our own mailbox")
    message_id = activity.get("id") or event.get("resourceId")
    if not message_id:
        return reject("missing 'activity.id' and 'resourceId'")
    text = _text(activity)
    if text is None or not text.strip():
        attachments = activity.get("attachments") or []
        if not attachments:
            return reject("message has no text")
        text = f"[{len(attachments)} attachment(s)]"
    created = activity.get("createdAt", event.get("capturedAt"))
    try:
        received_at = parse_timestamp(created)
        sender = normalize_address("linkedin", actor)
    except (ValueError, AddressError) as exc:
        return reject(str(exc))
    return InboundMessage(
        line=line,
        index=index,
        channel="linkedin",
        external_id=str(message_id),
        sender=sender,
        text=text,
        received_at=received_at,
        thread_id=activity.get("thread"),
        message_type="message",
        metadata={"owner": owner, "resource_uri": event.get("resourceUri")},
        raw=event,
    )


def parse(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
    for doc in iter_json_documents(data):
        if not isinstance(doc, JsonDocument):
            yield Rejected(line=doc[0], reason=doc[1])
            continue
        value = doc.value
        if isinstance(value, dict) and "elements" in value:
            if not isinstance(value["elements"], list):
                yield Rejected(line=doc.line, index="elements", reason="'elements' is not a list")
                continue
            located = [(json_path("elements", i), e) for i, e in enumerate(value["elements"])]
        else:
            located = [(None, value)]
        for index, event in located:
            reason = too_big(len(json.dumps(event, ensure_ascii=False).encode("utf-8")), limits)
            if reason:
                yield Rejected(line=doc.line, index=index, reason=reason)
                continue
            yield parse_event(event, doc.line, index)
