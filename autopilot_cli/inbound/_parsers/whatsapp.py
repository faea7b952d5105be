"""WhatsApp Cloud API webhook payloads → ``events.ParsedItem``.

Shapes follow Meta's webhook reference pages (messages: text, media, location,
contacts, interactive, button, reaction, order, system, unsupported; status;
user_preferences; smb_message_echoes): an envelope
``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field", "value"}]}]}``.

Each message, status and preference becomes one item; a malformed record becomes
a ``Rejected`` naming its path, and the rest of the batch is still parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ...contacts import AddressError, normalize_address
from .._records import Ignored, InboundMessage, ParsedItem, PreferenceUpdate, Rejected, StatusUpdate
from ._common import Limits, json_path
from ._meta import BadRecord, iter_entries, parse_record, timestamp_of

OBJECT = "whatsapp_business_account"
CHANNEL = "whatsapp"
MEDIA_TYPES = ("image", "video", "document", "audio", "sticker")
DELIVERY_STATES = ("sent", "delivered", "read", "failed")
PREFERENCE_ACTIONS = {"stop": "opt_out", "resume": "opt_in"}
# The record lists each handled field carries. smb_message_echoes are messages the
# business sent from the WhatsApp Business app: parsed only to be Ignored, never inbound.
_RECORD_LISTS = {
    "messages": ("messages", "statuses"),
    "user_preferences": ("user_preferences",),
    "smb_message_echoes": ("message_echoes",),
}



def parse(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
    for entry in iter_entries(data, OBJECT):
        if isinstance(entry, Rejected):
            yield entry
            continue
        changes = entry.value.get("changes")
        if not isinstance(changes, list):
            reason = f"entry[{entry.path[-1]}]: missing 'changes' list"
            yield Rejected(line=entry.line, index=json_path(*entry.path), reason=reason)
            continue
        for j, change in enumerate(changes):
            yield from _change(change, entry.value.get("id"), entry.line, (*entry.path, "changes", j), limits)


def _change(change: Any, waba_id: Any, line: int | None, path: tuple, limits: Limits) -> Iterator[ParsedItem]:
    value = change.get("value") if isinstance(change, dict) else None
    field = change.get("field") if isinstance(change, dict) else None
    if not isinstance(value, dict):
        yield Rejected(line=line, index=json_path(*path), reason="change has no 'value' object", raw=change)
        return
    keys = _RECORD_LISTS.get(field) if isinstance(field, str) else None
    if keys is None:
        yield Ignored(line=line, index=json_path(*path), reason=f"field {field!r} is not handled")
        return
    vpath = (*path, "value")
    ctx = _Context(value, waba_id)
    handlers = {"messages": ctx.message, "statuses": ctx.status, "user_preferences": _preference,
                "message_echoes": _echo}
    for key in keys:
        yield from _each(value, key, line, vpath, limits, handlers[key])
    if not any(key in value for key in keys):
        yield Ignored(line=line, index=json_path(*vpath), reason=f"{field} change has no {' or '.join(keys)}")


def _each(value: dict, key: str, line: int | None, vpath: tuple, limits: Limits,
          handler: Callable[[dict], ParsedItem]) -> Iterator[ParsedItem]:
    records = value.get(key)
    if records is None:
        return
    if not isinstance(records, list):
        yield Rejected(line=line, index=json_path(*vpath, key), reason=f"'{key}' is not a list")
        return
    for k, record in enumerate(records):
        yield parse_record(record, f"{key}[{k}]", line, json_path(*vpath, key, k), limits, handler)


def _required(record: dict, key: str) -> str:
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BadRecord(f"missing {key!r}")
    return value.strip()


def _obj(record: dict, key: str) -> dict:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _text(record: dict, key: str) -> str | None:
    value = record.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _dicts(record: dict, key: str) -> list[dict]:
    value = record.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _digits(value: Any) -> str:
    return "".join(c for c in str(value) if c.isdigit()) if value is not None else ""


class _Context:
    """What a ``messages`` change says about the business number and its contacts."""

    def __init__(self, value: dict, waba_id: Any) -> None:
        meta = _obj(value, "metadata")
        self.metadata = {
            "phone_number_id": _text(meta, "phone_number_id"),
            "display_phone_number": _text(meta, "display_phone_number"),
            "waba_id": str(waba_id) if isinstance(waba_id, (str, int)) else None,
        }
        self.own_digits = _digits(meta.get("display_phone_number"))
        contacts = _dicts(value, "contacts")
        self.first_contact = contacts[0] if contacts else {}
        # By wa_id, built once: a scan per message was quadratic in a large batch.
        self.contacts: dict[str, dict] = {}
        for contact in contacts:
            self.contacts.setdefault(_digits(contact.get("wa_id")), contact)

    def name_for(self, sender: str) -> str | None:
        chosen = self.contacts.get(_digits(sender)) or self.first_contact
        return _text(_obj(chosen, "profile"), "name")

    def message(self, msg: dict) -> ParsedItem:
        raw_from = _required(msg, "from")
        external_id = _required(msg, "id")
        if self.own_digits and _digits(raw_from) == self.own_digits:
            return Ignored(reason="message from our own business number (echo)")
        try:
            sender = normalize_address(CHANNEL, raw_from)
        except AddressError as exc:
            raise BadRecord(f"'from' {exc}") from None
        received_at = timestamp_of(msg)
        raw_type = msg.get("type")
        mtype = raw_type if isinstance(raw_type, str) else "unknown"
        text, extra = _render(mtype, msg)
        automated = mtype == "system"
        context = _obj(msg, "context")
        for flag in ("forwarded", "frequently_forwarded"):
            if context.get(flag) is True:
                extra[flag] = True
        for key in ("referral", "user_id"):
            if key in msg:
                extra[key] = msg[key]
        return InboundMessage(
            channel=CHANNEL, external_id=external_id, sender=sender, text=text,
            received_at=received_at, message_type=mtype, name=self.name_for(raw_from),
            reply_to_id=_text(context, "id"), automated=automated,
            automated_reason="WhatsApp system notice" if automated else None,
            metadata={**{k: v for k, v in self.metadata.items() if v}, **extra}, raw=msg,
        )

    def status(self, st: dict) -> ParsedItem:
        message_id = _required(st, "id")
        status = _required(st, "status")
        if status not in DELIVERY_STATES:
            return Ignored(reason=f"status {status!r} is not tracked")
        at = timestamp_of(st)
        recipient = st.get("recipient_id")
        if recipient is not None:
            try:
                recipient = normalize_address(CHANNEL, recipient)
            except AddressError:
                recipient = str(recipient)  # group ids are not phone numbers
        return StatusUpdate(
            channel=CHANNEL, provider_message_id=message_id, status=status, at=at,
            recipient=recipient, errors=_dicts(st, "errors"),
            callback_data=_text(st, "biz_opaque_callback_data"), raw=st,
        )


def _preference(pref: dict) -> ParsedItem:
    wa_id = _required(pref, "wa_id")
    value = _required(pref, "value")
    if value not in PREFERENCE_ACTIONS:
        return Ignored(reason=f"preference value {value!r} is not handled")
    try:
        sender = normalize_address(CHANNEL, wa_id)
    except AddressError as exc:
        raise BadRecord(f"'wa_id' {exc}") from None
    category = _text(pref, "category") or "marketing_messages"
    return PreferenceUpdate(
        channel=CHANNEL, sender=sender, action=PREFERENCE_ACTIONS[value],
        category=category.removesuffix("_messages"), at=timestamp_of(pref), raw=pref,
    )


def _echo(_record: dict) -> ParsedItem:
    return Ignored(reason="echo of a message we sent from the WhatsApp Business app")


def _render(mtype: str, msg: dict) -> tuple[str, dict[str, Any]]:
    """The text the drafter sees, and type-specific metadata. Never empty."""
    body = _obj(msg, mtype)
    if mtype == "text":
        text = _text(body, "body")
        if text is None:
            raise BadRecord("missing 'text.body'")
        return body["body"], {}
    if mtype in MEDIA_TYPES:
        return _render_media(mtype, body)
    renderer = _RENDERERS.get(mtype)
    if renderer is not None:
        return renderer(body, msg)
    errors = msg.get("errors")
    extra: dict[str, Any] = {"errors": errors if isinstance(errors, list) else []}
    unsupported = _text(_obj(msg, "unsupported"), "type")
    extra["unsupported_type"] = unsupported or (mtype if mtype not in ("unsupported", "unknown") else None)
    return "[unsupported message]", extra


def _render_media(mtype: str, media: dict) -> tuple[str, dict[str, Any]]:
    keys = ("id", "mime_type", "sha256", "filename", "url", "voice", "animated")
    extra = {("media_id" if k == "id" else k): media[k] for k in keys if media.get(k) is not None}
    caption, filename = _text(media, "caption"), _text(media, "filename")
    if caption:
        return caption, extra
    return (f"[{mtype}: {filename}]" if filename else f"[{mtype}]"), extra


def _render_location(loc: dict, _msg: dict) -> tuple[str, dict[str, Any]]:
    lat, lon = loc.get("latitude"), loc.get("longitude")
    label = ", ".join(p for p in (_text(loc, "name"), _text(loc, "address")) if p)
    coords = f"({lat}, {lon})" if _is_number(lat) and _is_number(lon) else ""
    inner = " ".join(p for p in (label, coords) if p)
    extra = {k: loc[k] for k in ("latitude", "longitude", "name", "address", "url") if loc.get(k) is not None}
    return (f"[location: {inner}]" if inner else "[location]"), extra


def _render_contacts(_body: dict, msg: dict) -> tuple[str, dict[str, Any]]:
    summaries: list[dict[str, Any]] = []
    for card in _dicts(msg, "contacts"):
        name = _obj(card, "name")
        full = _text(name, "formatted_name") or " ".join(
            p for p in (_text(name, "first_name"), _text(name, "last_name")) if p
        )
        numbers = [n for n in (_text(p, "phone") or _text(p, "wa_id") for p in _dicts(card, "phones")) if n]
        summaries.append({"name": full or None, "phones": numbers})
    parts = [", ".join(p for p in (s["name"], s["phones"][0] if s["phones"] else None) if p) for s in summaries]
    inner = "; ".join(p for p in parts if p)
    return (f"[contact card: {inner}]" if inner else "[contact card]"), {"contacts": summaries}


def _render_interactive(inter: dict, _msg: dict) -> tuple[str, dict[str, Any]]:
    kind = _text(inter, "type") or "unknown"
    reply = _obj(inter, kind)
    title, reply_id = _text(reply, "title"), _text(reply, "id")
    extra: dict[str, Any] = {"interactive_type": kind}
    if kind == "button_reply":
        extra["button_id"] = reply_id
        return title or "[button reply]", extra
    if kind == "list_reply":
        extra["list_id"] = reply_id
        description = _text(reply, "description")
        if description:
            extra["list_description"] = description
        text = f"{title} ({description})" if title and description else title
        return text or "[list reply]", extra
    # Flows (nfm_reply) and future kinds: keep the payload, show what we can.
    extra["reply"] = reply
    return _text(reply, "body") or f"[interactive {kind}]", extra


def _render_button(button: dict, _msg: dict) -> tuple[str, dict[str, Any]]:
    payload = _text(button, "payload")
    return _text(button, "text") or payload or "[button]", {"payload": payload}


def _render_reaction(reaction: dict, _msg: dict) -> tuple[str, dict[str, Any]]:
    target, emoji = _text(reaction, "message_id"), _text(reaction, "emoji")
    # Meta omits the emoji (or sends it empty) when the user removes a reaction.
    if not emoji:
        text = "[reaction removed]"
    else:
        text = f"[reaction {emoji} to {target}]" if target else f"[reaction {emoji}]"
    return text, {"reacted_to": target, "emoji": emoji}


def _render_order(order: dict, _msg: dict) -> tuple[str, dict[str, Any]]:
    items = _dicts(order, "product_items")
    count = sum(i["quantity"] if _is_number(i.get("quantity")) else 1 for i in items)
    note = _text(order, "text")
    text = f"[order: {count:g} items]" + (f" {note}" if note else "")
    return text, {"catalog_id": order.get("catalog_id"), "product_items": items}


def _render_system(system: dict, _msg: dict) -> tuple[str, dict[str, Any]]:
    body = _text(system, "body")
    extra = {"system_type": _text(system, "type"), "new_wa_id": _text(system, "wa_id")}
    return (f"[system: {body}]" if body else "[system notice]"), extra


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_RENDERERS = {
    "location": _render_location,
    "contacts": _render_contacts,
    "interactive": _render_interactive,
    "button": _render_button,
    "reaction": _render_reaction,
    "order": _render_order,
    "system": _render_system,
}
