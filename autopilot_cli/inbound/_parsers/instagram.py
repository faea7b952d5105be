"""Instagram messaging webhook payloads → ``events.ParsedItem``.

Shapes follow Meta's "Instagram Platform Webhook Notification Examples": an
envelope ``{"object": "instagram", "entry": [{"id", "time", "messaging": [event]}]}``
where an event carries ``sender``, ``recipient``, ``timestamp`` (ms) and one of
``message``, ``postback``, ``reaction`` or ``read``. Events in ``entry[].changes[]``
(or flat ``entry.field``/``entry.value``) with a messaging field are accepted too,
since test deliveries and the Facebook-Login flavour use that form.

Our own sends come back as ``message.is_echo``: they are always Ignored, never
inbound, or the bot would answer itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...contacts import AddressError, normalize_address
from .._records import Ignored, InboundMessage, ParsedItem, Rejected, StatusUpdate
from ._common import Limits, json_path
from ._meta import BadRecord, iter_entries, parse_record, timestamp_of

OBJECT = "instagram"
CHANNEL = "instagram"
MESSAGING_FIELDS = ("messages", "message_reactions", "messaging_postbacks", "messaging_seen")
_ENVELOPE_KEYS = ("sender", "recipient", "timestamp")



def parse(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
    for entry in iter_entries(data, OBJECT):
        if isinstance(entry, Rejected):
            yield entry
        else:
            yield from _entry(entry.value, entry.line, entry.path, limits)


def _entry(entry: dict, line: int | None, path: tuple, limits: Limits) -> Iterator[ParsedItem]:
    own_id = entry.get("id")
    found = False
    for key in ("messaging", "standby"):
        if key not in entry:
            continue
        found = True
        events = entry[key]
        if not isinstance(events, list):
            yield Rejected(line=line, index=json_path(*path, key), reason=f"'{key}' is not a list")
            continue
        handler = _standby if key == "standby" else (lambda ev: _event(ev, own_id))
        for j, ev in enumerate(events):
            yield parse_record(ev, f"{key}[{j}]", line, json_path(*path, key, j), limits, handler)
    changes = entry.get("changes")
    if isinstance(changes, list):
        found = True
        for j, change in enumerate(changes):
            yield _change(change, own_id, f"changes[{j}]", line, (*path, "changes", j), limits)
    if "field" in entry:  # the flat form: field/value directly on the entry
        found = True
        yield _change(entry, own_id, "entry", line, path, limits)
    if not found:
        yield Ignored(line=line, index=json_path(*path), reason="entry has no messaging events")


def _change(change: Any, own_id: Any, label: str, line: int | None, path: tuple, limits: Limits) -> ParsedItem:
    field = change.get("field") if isinstance(change, dict) else None
    value = change.get("value") if isinstance(change, dict) else None
    if field in MESSAGING_FIELDS and isinstance(value, dict):
        index = json_path(*path, "value")
        return parse_record(value, f"{label}.value", line, index, limits, lambda ev: _event(ev, own_id))
    return Ignored(line=line, index=json_path(*path), reason=f"{label}: field {field!r} is not handled")


def _standby(_ev: dict) -> ParsedItem:
    # Another app (e.g. a human inbox) controls the conversation: not ours to answer.
    return Ignored(reason="standby event: another app controls this conversation")


def _event(ev: dict, own_id: Any) -> ParsedItem:
    message = ev.get("message")
    # Checked before anything else: an echo must never become inbound, even a malformed one.
    if isinstance(message, dict) and message.get("is_echo"):
        return Ignored(reason="echo of our own message")
    sender = _obj(ev, "sender").get("id")
    if own_id is not None and sender is not None and str(sender) == str(own_id):
        return Ignored(reason="event from our own account (echo)")
    if "message" in ev:
        return _message(ev)
    if "postback" in ev:
        return _postback(ev)
    if "reaction" in ev:
        return _reaction(ev)
    if "read" in ev:
        return _read(ev)
    kinds = ", ".join(sorted(k for k in ev if k not in _ENVELOPE_KEYS)) or "empty event"
    return Ignored(reason=f"event type {kinds!r} is not handled")


def _message(ev: dict) -> ParsedItem:
    msg = ev.get("message")
    if not isinstance(msg, dict):
        raise BadRecord("'message' is not an object")
    if msg.get("is_deleted"):
        return Ignored(reason="message was deleted by the sender")
    if msg.get("is_self"):
        return Ignored(reason="self-test message from Meta")
    mid = _required(msg, "mid", "message.mid")
    sender, received_at = _sender(ev), timestamp_of(ev)
    attachments = _dicts(msg, "attachments")
    parts = [msg["text"]] if _text(msg, "text") else []
    parts += [_render_attachment(a) for a in attachments]
    metadata: dict[str, Any] = {"recipient_id": _recipient(ev)}
    quick_reply = _obj(msg, "quick_reply")
    if msg.get("is_unsupported"):
        mtype, parts = "unsupported", ["[unsupported message]", *parts]
    elif quick_reply:
        mtype, metadata["quick_reply_payload"] = "quick_reply", quick_reply.get("payload")
    elif attachments:
        mtype = _text(attachments[0], "type") or "attachment"
    else:
        mtype = "text"
    if not parts:
        raise BadRecord("message has neither 'text' nor 'attachments'")
    if attachments:
        metadata["attachments"] = attachments
    reply_to = _obj(msg, "reply_to")
    if _obj(reply_to, "story"):
        metadata["reply_to_story"] = reply_to["story"]
    if "referral" in msg:
        metadata["referral"] = msg["referral"]
    return InboundMessage(
        channel=CHANNEL, external_id=mid, sender=sender, text="\n".join(parts),
        received_at=received_at, message_type=mtype, reply_to_id=_text(reply_to, "mid"),
        metadata=metadata, raw=ev,
    )


def _render_attachment(attachment: dict) -> str:
    kind = _text(attachment, "type") or "attachment"
    url = _text(_obj(attachment, "payload"), "url")
    return f"[{kind}: {url}]" if url else f"[{kind}]"


def _postback(ev: dict) -> ParsedItem:
    pb = ev.get("postback")
    if not isinstance(pb, dict):
        raise BadRecord("'postback' is not an object")
    sender, received_at = _sender(ev), timestamp_of(ev)
    payload = _text(pb, "payload")
    # Older deliveries have no mid; sender + time + payload is stable across Meta's retries.
    external_id = _text(pb, "mid") or f"postback:{sender}:{ev.get('timestamp')}:{payload or ''}"
    return InboundMessage(
        channel=CHANNEL, external_id=external_id, sender=sender,
        text=_text(pb, "title") or payload or "[postback]", received_at=received_at,
        message_type="postback", metadata={"payload": payload, "recipient_id": _recipient(ev)}, raw=ev,
    )


def _reaction(ev: dict) -> ParsedItem:
    reaction = ev.get("reaction")
    if not isinstance(reaction, dict):
        raise BadRecord("'reaction' is not an object")
    mid = _required(reaction, "mid", "reaction.mid")
    sender, received_at = _sender(ev), timestamp_of(ev)
    action = _text(reaction, "action") or "react"
    emoji, name = _text(reaction, "emoji"), _text(reaction, "reaction")
    if action == "unreact":
        text = "[reaction removed]"
    else:
        text = f"[reaction {emoji or name} to {mid}]" if emoji or name else f"[reaction to {mid}]"
    return InboundMessage(
        # Reactions have no id of their own; this one is stable across Meta's retries.
        channel=CHANNEL, external_id=f"reaction:{mid}:{sender}:{action}:{emoji or name or ''}",
        sender=sender, text=text, received_at=received_at, message_type="reaction",
        metadata={"reacted_to": mid, "action": action, "emoji": emoji, "reaction": name,
                  "recipient_id": _recipient(ev)},
        raw=ev,
    )


def _read(ev: dict) -> ParsedItem:
    read = ev.get("read")
    if not isinstance(read, dict):
        raise BadRecord("'read' is not an object")
    mid = _text(read, "mid")
    if mid is None:
        if "watermark" in read:
            return Ignored(reason="read receipt has only a watermark, no message id to update")
        raise BadRecord("missing 'read.mid'")
    return StatusUpdate(channel=CHANNEL, provider_message_id=mid, status="read", at=timestamp_of(ev),
                        recipient=_sender(ev), raw=ev)


def _sender(ev: dict) -> str:
    value = _obj(ev, "sender").get("id")
    if value is None or isinstance(value, (bool, dict, list, float)):
        raise BadRecord("missing 'sender.id'")
    try:
        return normalize_address(CHANNEL, value)
    except AddressError as exc:
        raise BadRecord(f"'sender.id' {exc}") from None


def _recipient(ev: dict) -> str | None:
    value = _obj(ev, "recipient").get("id")
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _required(record: dict, key: str, name: str) -> str:
    value = _text(record, key)
    if value is None:
        raise BadRecord(f"missing {name!r}")
    return value


def _obj(record: dict, key: str) -> dict:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _dicts(record: dict, key: str) -> list[dict]:
    value = record.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(record: dict, key: str) -> str | None:
    value = record.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None
