"""WhatsApp Cloud API webhook parser: documented payload shapes in, exact items out."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from autopilot_cli.errors import InputError
from autopilot_cli.inbound import PreferenceUpdate
from autopilot_cli.inbound._parsers import get_parser
from autopilot_cli.inbound._parsers._common import Limits, too_big
from autopilot_cli.inbound._parsers.whatsapp import parse
from autopilot_cli.inbound._records import Ignored, InboundMessage, Rejected, StatusUpdate

from .parse_helpers import load_fixture, parsed_or_refused, run_parser

FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"
UTC = timezone.utc
META = {"phone_number_id": "106540352242922", "display_phone_number": "15550783881", "waba_id": "102290129340398"}
QUOTED = "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="


def load(name: str) -> dict[str, Any]:
    return load_fixture("whatsapp", name)


def run(data: bytes | dict | str, limits: Limits = Limits()) -> list:
    return run_parser(parse, data, limits)


def value_of(doc: dict, change: int = 0) -> dict:
    return doc["entry"][0]["changes"][change]["value"]


def inbound(doc: dict, i: int, **fields: Any) -> InboundMessage:
    """The InboundMessage expected for messages[i]: shared fields filled in, the rest given."""
    raw = value_of(doc)["messages"][i]
    base: dict[str, Any] = {
        "channel": "whatsapp", "sender": "+16505551234", "name": "Sheena Nelson",
        "external_id": raw["id"], "received_at": datetime.fromtimestamp(int(raw["timestamp"]), UTC),
        "index": f"entry[0].changes[0].value.messages[{i}]", "message_type": raw["type"], "raw": raw,
    }
    metadata = {**META, **fields.pop("metadata", {})}
    return InboundMessage(**{**base, **fields, "metadata": metadata})


def test_parser_is_registered() -> None:
    assert get_parser("whatsapp").__wrapped__ is parse


def test_text_messages_exact() -> None:
    doc = load("text.json")
    assert run(doc) == [
        InboundMessage(
            index="entry[0].changes[0].value.messages[0]", channel="whatsapp",
            external_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            sender="+16505551234", text="Does it come in another color?",
            received_at=datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC), message_type="text",
            name="Sheena Nelson", metadata=META, raw=value_of(doc)["messages"][0],
        ),
        InboundMessage(
            index="entry[0].changes[0].value.messages[1]", channel="whatsapp",
            external_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTA2NTUwRkNEMDdFQjJCRUU0NQA=",
            sender="+16505551234", text="Is this still available?",
            received_at=datetime(2025, 6, 15, 19, 46, 40, tzinfo=UTC), message_type="text",
            name="Sheena Nelson", reply_to_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGA9wcm9kdWN0X2lucXVpcnkA",
            metadata=META, raw=value_of(doc)["messages"][1],
        ),
    ]


MEDIA_URL = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=133"

RENDERINGS = [
    ("image.json", "Taj Mahal", {
        "media_id": "1003383421387256", "mime_type": "image/jpeg",
        "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", "url": MEDIA_URL}, None),
    ("document.json", "[document: receipt.pdf]", {
        "media_id": "622684793477189", "mime_type": "application/pdf", "filename": "receipt.pdf",
        "sha256": "V5OPpLD/gEG6Xjg0MbmQDLFgcKsL+j5LfY4ny/pZ4MY="}, None),
    ("audio.json", "[audio]", {
        "media_id": "1908647269898587", "mime_type": "audio/ogg; codecs=opus", "voice": True,
        "sha256": "wvqXMe6n7n1W0zphvLPoLj+s/NtKqmr3zZ7YzTP7xFI="}, None),
    ("sticker.json", "[sticker]", {
        "media_id": "3394049627554341", "mime_type": "image/webp", "sha256": "HASH", "animated": False}, None),
    ("location.json",
     "[location: Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301 (37.44221496582, -122.16165924072)]",
     {"latitude": 37.44221496582, "longitude": -122.16165924072, "name": "Philz Coffee",
      "address": "101 Forest Ave, Palo Alto, CA 94301", "url": "https://philzcoffee.com/"}, None),
    ("contacts.json", "[contact card: Barbara J. Johnson, +1 (415) 555-0829]",
     {"contacts": [{"name": "Barbara J. Johnson", "phones": ["+1 (415) 555-0829"]}]}, None),
    ("interactive_button_reply.json", "Change",
     {"interactive_type": "button_reply", "button_id": "change-button"}, QUOTED),
    ("interactive_list_reply.json", "Priority Mail Express (Next Day to 2 Days)",
     {"interactive_type": "list_reply", "list_id": "priority_express",
      "list_description": "Next Day to 2 Days"}, QUOTED),
    ("button.json", "Unsubscribe", {"payload": "Unsubscribe"}, QUOTED),
    ("order.json", "[order: 3 items] Love these!", {
        "catalog_id": "194836987003835",
        "product_items": value_of(load("order.json"))["messages"][0]["order"]["product_items"]}, None),
    ("unsupported.json", "[unsupported message]", {
        "unsupported_type": "edit",
        "errors": [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."}}]}, None),
]


@pytest.mark.parametrize("fixture, text, metadata, reply_to", RENDERINGS, ids=[r[0] for r in RENDERINGS])
def test_message_type_renderings(fixture: str, text: str, metadata: dict, reply_to: str | None) -> None:
    doc = load(fixture)
    assert run(doc) == [inbound(doc, 0, text=text, metadata=metadata, reply_to_id=reply_to)]


def test_reaction_and_its_removal() -> None:
    doc = load("reaction.json")
    assert run(doc) == [
        inbound(doc, 0, text=f"[reaction \U0001F44D to {QUOTED}]",
                metadata={"reacted_to": QUOTED, "emoji": "\U0001F44D"}),
        inbound(doc, 1, text="[reaction removed]", metadata={"reacted_to": QUOTED, "emoji": None}),
    ]


def test_reaction_with_empty_emoji_is_a_removal() -> None:
    doc = load("reaction.json")
    value_of(doc)["messages"][0]["reaction"]["emoji"] = ""
    assert run(doc)[0].text == "[reaction removed]"


def test_system_message_is_automated_and_has_no_contact_name() -> None:
    doc = load("system.json")
    assert run(doc) == [inbound(
        doc, 0, name=None, automated=True, automated_reason="WhatsApp system notice",
        text="[system: User Sheena Nelson changed from 16505551234 to 12195555358]",
        metadata={"system_type": "user_changed_number", "new_wa_id": "12195555358"},
    )]


def test_contact_name_matched_by_wa_id_not_position() -> None:
    doc = load("text.json")
    value_of(doc)["contacts"].insert(0, {"profile": {"name": "Someone Else"}, "wa_id": "4915112345678"})
    assert {m.name for m in run(doc)} == {"Sheena Nelson"}


def test_statuses() -> None:
    doc = load("statuses.json")
    raw = value_of(doc)["statuses"]
    assert run(doc) == [
        StatusUpdate(index="entry[0].changes[0].value.statuses[0]", channel="whatsapp",
                     provider_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA",
                     status="sent", at=datetime(2025, 6, 15, 23, 27, 53, tzinfo=UTC), recipient="+16505551234",
                     callback_data="job-42", raw=raw[0]),
        StatusUpdate(index="entry[0].changes[0].value.statuses[1]", channel="whatsapp",
                     provider_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA",
                     status="read", at=datetime(2025, 6, 15, 23, 29, 50, tzinfo=UTC), recipient="+16505551234",
                     raw=raw[1]),
        StatusUpdate(index="entry[0].changes[0].value.statuses[2]", channel="whatsapp",
                     provider_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA",
                     status="failed", at=datetime(2025, 6, 28, 20, 34, 48, tzinfo=UTC), recipient="+16505551234",
                     errors=raw[2]["errors"], raw=raw[2]),
        Ignored(index="entry[0].changes[0].value.statuses[3]",
                reason="statuses[3]: status 'played' is not tracked"),
    ]


def test_user_preferences_stop_and_resume() -> None:
    doc = load("user_preferences.json")
    assert run(doc) == [
        PreferenceUpdate(index="entry[0].changes[0].value.user_preferences[0]", channel="whatsapp",
                         sender="+16505551234", action="opt_out", category="marketing",
                         at=datetime(2024, 11, 15, 21, 20, tzinfo=UTC),
                         raw=value_of(doc, 0)["user_preferences"][0]),
        PreferenceUpdate(index="entry[0].changes[1].value.user_preferences[0]", channel="whatsapp",
                         sender="+16505551234", action="opt_in", category="marketing",
                         at=datetime(2024, 11, 15, 21, 22, 1, tzinfo=UTC),
                         raw=value_of(doc, 1)["user_preferences"][0]),
    ]


def test_echoes_are_ignored_never_inbound() -> None:
    assert run(load("own_number_echo.json")) == [Ignored(
        index="entry[0].changes[0].value.messages[0]",
        reason="messages[0]: message from our own business number (echo)")]
    assert run(load("smb_message_echoes.json")) == [Ignored(
        index="entry[0].changes[0].value.message_echoes[0]",
        reason="message_echoes[0]: echo of a message we sent from the WhatsApp Business app")]


def test_unhandled_field_is_ignored() -> None:
    assert run(load("template_status_update.json")) == [Ignored(
        index="entry[0].changes[0]", reason="field 'message_template_status_update' is not handled")]


def compact(name: str) -> str:
    return json.dumps(load(name))


def test_one_document_per_line_carries_line_numbers() -> None:
    items = run("\n".join([compact("text.json"), "", compact("statuses.json")]) + "\n")
    assert [(type(i).__name__, i.line) for i in items] == [
        ("InboundMessage", 1), ("InboundMessage", 1),
        ("StatusUpdate", 3), ("StatusUpdate", 3), ("StatusUpdate", 3), ("Ignored", 3),
    ]
    assert items[2].index == "entry[0].changes[0].value.statuses[0]"


def test_bad_line_is_rejected_and_good_lines_kept() -> None:
    truncated = '{"object": "whatsapp_business_account", "entry": ['
    items = run("\n".join([compact("image.json"), truncated, compact("button.json")]))
    assert [type(i).__name__ for i in items] == ["InboundMessage", "Rejected", "InboundMessage"]
    assert items[1].line == 2 and items[1].reason.startswith("invalid JSON:")
    assert (items[0].text, items[0].line, items[2].text, items[2].line) == ("Taj Mahal", 1, "Unsubscribe", 3)


def test_wrong_object_is_rejected_per_document() -> None:
    items = run("\n".join(['{"object": "instagram", "entry": []}', compact("text.json")]))
    assert items[0] == Rejected(line=1, reason="object is 'instagram', expected 'whatsapp_business_account'")
    assert [i.line for i in items[1:]] == [2, 2] and all(isinstance(i, InboundMessage) for i in items[1:])


@pytest.mark.parametrize("doc, index, reason", [
    ("[1, 2]", "[0]", "document is not a JSON object"),
    ('"hello"', None, "document is not a JSON object"),
    ('{"object": "whatsapp_business_account"}', None, "missing or empty 'entry' list"),
    ('{"object": "whatsapp_business_account", "entry": [{"id": "1"}]}', "entry[0]",
     "entry[0]: missing 'changes' list"),
    ('{"entry": []}', None, "object is None, expected 'whatsapp_business_account'"),
])
def test_broken_envelopes_are_rejected(doc: str, index: str | None, reason: str) -> None:
    items = run(doc)
    assert (type(items[0]), items[0].index, items[0].reason) == (Rejected, index, reason)


def test_missing_and_bad_fields_are_rejected_with_index_and_reason() -> None:
    doc = load("text.json")
    good = value_of(doc)["messages"][0]
    broken = [
        {k: v for k, v in good.items() if k != "from"},
        {k: v for k, v in good.items() if k != "id"},
        {k: v for k, v in good.items() if k != "timestamp"},
        {**good, "timestamp": "yesterday"},
        {**good, "from": "12"},
        {**good, "text": {}},
        "not an object",
        good,
    ]
    value_of(doc)["messages"] = broken
    value_of(doc)["statuses"] = [{"status": "read", "timestamp": "1750030190"}]
    items = run(doc)
    reasons = [(i.index.rsplit(".", 1)[1], i.reason) for i in items if isinstance(i, Rejected)]
    assert reasons == [
        ("messages[0]", "messages[0]: missing 'from'"),
        ("messages[1]", "messages[1]: missing 'id'"),
        ("messages[2]", "messages[2]: missing 'timestamp'"),
        ("messages[3]", "messages[3]: bad 'timestamp' 'yesterday' (Meta sends Unix time)"),
        ("messages[4]", "messages[4]: 'from' '12' is not a phone number"),
        ("messages[5]", "messages[5]: missing 'text.body'"),
        ("messages[6]", "messages[6]: not a JSON object"),
        ("statuses[0]", "statuses[0]: missing 'id'"),
    ]
    assert isinstance(items[7], InboundMessage) and items[7].index.endswith("messages[7]")


def test_oversize_message_is_rejected_others_kept() -> None:
    limits = Limits(max_message_bytes=1000)
    doc = load("text.json")
    big = value_of(doc)["messages"][0]
    big["text"]["body"] = "ü" * 600  # 1200 bytes of UTF-8
    items = run(doc, limits)
    size = len(json.dumps(big, ensure_ascii=False).encode())
    assert items[0] == Rejected(index="entry[0].changes[0].value.messages[0]",
                                reason=f"messages[0]: {too_big(size, limits)}")
    assert isinstance(items[1], InboundMessage)


def test_top_level_list_of_envelopes_is_accepted() -> None:
    items = run(json.dumps([load("image.json"), load("button.json")]))
    assert [(i.index, i.text) for i in items] == [
        ("[0].entry[0].changes[0].value.messages[0]", "Taj Mahal"),
        ("[1].entry[0].changes[0].value.messages[0]", "Unsubscribe"),
    ]


@pytest.mark.parametrize("data", [b"\x00\x01\x02garbage", b"\xff\xfe\xfa", b"not json at all", b"", b"   \n"])
def test_unusable_input_raises_input_error(data: bytes) -> None:
    with pytest.raises(InputError):
        run(data)


# --- property tests: whatever the JSON, parse() yields items or raises InputError ---

JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
ANY_JSON = st.recursive(
    JSON_LEAVES, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=20)
KEYS = st.sampled_from([
    "from", "id", "timestamp", "type", "text", "body", "caption", "filename", "emoji", "message_id", "title",
    "description", "button_reply", "list_reply", "payload", "latitude", "longitude", "name", "phones", "phone",
    "wa_id", "profile", "errors", "unsupported", "product_items", "quantity", "context", "status", "value",
])
TYPES = ["text", "image", "document", "audio", "video", "sticker", "location", "contacts", "interactive",
         "button", "reaction", "order", "system", "unsupported", "unknown"]
FUZZ = st.recursive(JSON_LEAVES | st.sampled_from(["16505551234", "1749416383", *TYPES]),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(KEYS, c, max_size=4), max_leaves=10)
MESSAGE = st.builds(
    lambda extra, base: {**extra, **base},
    st.dictionaries(st.sampled_from([*TYPES, "context", "errors", "status", "recipient_id", "value", "wa_id"]),
                    FUZZ, max_size=3),
    st.fixed_dictionaries(
        {"from": st.sampled_from(["16505551234", "+4915112345678", "15550783881", "12", ""]),
         "id": st.sampled_from(["wamid.A", "wamid.B", ""]),
         "timestamp": st.sampled_from(["1749416383", 1731705721, "99999999999999999999", "soon"]),
         "type": st.sampled_from(TYPES)},
        optional={"status": st.sampled_from(["sent", "read", "deleted"]),
                  "value": st.sampled_from(["stop", "resume"]),
                  "wa_id": st.sampled_from(["16505551234", "x"])}),
)
ENVELOPE = st.builds(
    lambda field, value: {"object": "whatsapp_business_account", "entry": [
        {"id": "102290129340398", "changes": [{"field": field, "value": value}]}]},
    st.sampled_from(["messages", "messages", "user_preferences", "smb_message_echoes", "account_update"]),
    st.fixed_dictionaries({}, optional={
        "metadata": st.fixed_dictionaries({"display_phone_number": st.just("15550783881") | JSON_LEAVES}),
        "contacts": FUZZ, "messages": st.lists(MESSAGE, max_size=3) | JSON_LEAVES,
        "statuses": st.lists(MESSAGE, max_size=2), "user_preferences": st.lists(MESSAGE, max_size=2),
        "message_echoes": st.lists(MESSAGE, max_size=2)}),
)

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_never_crashes(data: bytes) -> None:
    parsed_or_refused(parse, data)


@PROPERTY
@given(ANY_JSON)
def test_any_json_value_never_crashes(value: Any) -> None:
    check_never_crashes(json.dumps(value).encode())


@PROPERTY
@given(ENVELOPE)
def test_fuzzed_envelopes_never_crash(envelope: dict) -> None:
    check_never_crashes(json.dumps(envelope).encode())
