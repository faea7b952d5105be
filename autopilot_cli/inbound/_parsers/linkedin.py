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

from ...contacts import AddressError, normalize_address
from .._records import Ignored, InboundMessage, ParsedItem, Rejected
from ._common import JsonDocument, Limits, iter_json_documents, json_path, short_repr, timestamp, too_big
from ._meta import RECORD_ERRORS


def _id_text(value: Any) -> str | None:
    """An id as text: a string or an integer; anything else (a list, a float) is not an id."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text or None


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
        return Ignored(line=line, index=index,
                       reason=f"method {event.get('method')!r} (edits and deletions are not inbound)")
    activity = event.get("activity")
    if not isinstance(activity, dict):
        return reject("missing 'activity' object")
    owner = event.get("owner") or activity.get("owner")
    actor = event.get("actor") or activity.get("author")
    if not actor:
        return reject("missing 'actor'")
    if owner and actor == owner:
        return Ignored(line=line, index=index, reason="outbound message from our own mailbox")
    if not isinstance(actor, str):
        return reject(f"'actor' is not a member URN: {short_repr(actor)}")
    if owner is not None and not isinstance(owner, str):
        return reject(f"'owner' is not a member URN: {short_repr(owner)}")
    raw_id = activity.get("id") or event.get("resourceId")
    if not raw_id:
        return reject("missing 'activity.id' and 'resourceId'")
    message_id = _id_text(raw_id)
    if message_id is None:
        return reject(f"'activity.id' is not a string: {short_repr(raw_id)}")
    thread = activity.get("thread")
    if thread is not None and not isinstance(thread, str):
        # A wrong type here once escaped as a raw pydantic ValidationError.
        return reject(f"'activity.thread' is not a string: {short_repr(thread)}")
    resource_uri = event.get("resourceUri")
    if resource_uri is not None and not isinstance(resource_uri, str):
        return reject(f"'resourceUri' is not a string: {short_repr(resource_uri)}")
    text = _text(activity)
    if text is None or not text.strip():
        attachments = activity.get("attachments") or []
        if not isinstance(attachments, list):
            return reject("'attachments' is not a list")
        if not attachments:
            return reject("message has no text")
        text = f"[{len(attachments)} attachment(s)]"
    created = activity.get("createdAt", event.get("capturedAt"))
    try:
        received_at = timestamp(created)
        sender = normalize_address("linkedin", actor)
    except (ValueError, AddressError) as exc:
        return reject(str(exc))
    return InboundMessage(
        line=line,
        index=index,
        channel="linkedin",
        external_id=message_id,
        sender=sender,
        text=text,
        received_at=received_at,
        thread_id=thread,
        message_type="message",
        metadata={"owner": owner, "resource_uri": resource_uri},
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
            located: list[tuple[str | None, Any]] = [(json_path("elements", i), e)
                                                     for i, e in enumerate(value["elements"])]
        else:
            located = [(None, value)]
        for index, event in located:
            reason = too_big(len(json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")), limits)
            if reason:
                yield Rejected(line=doc.line, index=index, reason=reason)
                continue
            try:
                yield parse_event(event, doc.line, index)
            except RECORD_ERRORS as exc:
                # One event the checks above did not foresee must not stop the others.
                yield Rejected(line=doc.line, index=index, reason=f"cannot be parsed ({type(exc).__name__}: {exc})",
                               raw=event)
