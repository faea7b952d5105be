"""Instagram messaging webhook parser: documented payload shapes in, exact items out."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from autopilot_cli.errors import InputError
from autopilot_cli.inbound._parsers import get_parser
from autopilot_cli.inbound._parsers._common import Limits, too_big
from autopilot_cli.inbound._parsers.instagram import parse
from autopilot_cli.inbound._records import Ignored, InboundMessage, Rejected, StatusUpdate

from .parse_helpers import load_fixture, parsed_or_refused, run_parser

FIXTURES = Path(__file__).parent / "fixtures" / "instagram"
UTC = timezone.utc
OWN = "17841405822304914"
USER = "1254459154682919"
MID = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTQ0NjQzNjI5"
CDN = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id="


def load(name: str) -> dict[str, Any]:
    return load_fixture("instagram", name)


def run(data: bytes | dict | str, limits: Limits = Limits()) -> list:
    return run_parser(parse, data, limits)


def events(doc: dict) -> list[dict]:
    return doc["entry"][0]["messaging"]


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def inbound(doc: dict, j: int, **fields: Any) -> InboundMessage:
    """The InboundMessage expected for messaging[j]: shared fields filled in, the rest given."""
    raw = events(doc)[j]
    base: dict[str, Any] = {
        "channel": "instagram", "sender": USER, "received_at": ms(raw["timestamp"]),
        "index": f"entry[0].messaging[{j}]", "raw": raw,
    }
    if "message" in raw:
        base["external_id"] = raw["message"]["mid"]
    metadata = {"recipient_id": OWN, **fields.pop("metadata", {})}
    return InboundMessage(**{**base, **fields, "metadata": metadata})


def test_parser_is_registered() -> None:
    assert get_parser("instagram").__wrapped__ is parse


def test_text_message_exact() -> None:
    doc = load("message_text.json")
    assert run(doc) == [InboundMessage(
        index="entry[0].messaging[0]", channel="instagram", external_id=MID + "MQ", sender=USER,
        text="Hi! Do you ship to Berlin?", received_at=datetime(2019, 9, 23, 18, 14, 45, 349000, tzinfo=UTC),
        message_type="text", metadata={"recipient_id": OWN}, raw=events(doc)[0],
    )]


def test_attachments_are_rendered_with_urls() -> None:
    doc = load("message_attachments.json")
    assert run(doc) == [inbound(
        doc, 0, text=f"[image: {CDN}1]\n[video: {CDN}2]", message_type="image",
        metadata={"attachments": events(doc)[0]["message"]["attachments"]},
    )]


def test_quick_reply_keeps_text_and_payload() -> None:
    doc = load("message_quick_reply.json")
    assert run(doc) == [inbound(doc, 0, text="Yes, please", message_type="quick_reply",
                                metadata={"quick_reply_payload": "CONFIRM_ORDER"})]


def test_reply_to_message_and_to_story() -> None:
    doc = load("message_reply_to.json")
    assert run(doc) == [
        inbound(doc, 0, text="This one", message_type="text", reply_to_id=MID + "MQ"),
        inbound(doc, 1, text="Love this story!", message_type="text",
                metadata={"reply_to_story": {"url": CDN + "3", "id": "17920411262026283"}}),
    ]


def test_echo_is_ignored_never_inbound() -> None:
    assert run(load("message_echo.json")) == [
        Ignored(index="entry[0].messaging[0]", reason="messaging[0]: echo of our own message")]


def test_echo_flag_wins_even_on_a_malformed_event() -> None:
    doc = {"object": "instagram", "entry": [{"id": OWN, "messaging": [{"message": {"is_echo": True}}]}]}
    assert run(doc) == [Ignored(index="entry[0].messaging[0]", reason="messaging[0]: echo of our own message")]


def test_event_sent_by_our_own_account_is_ignored_without_echo_flag() -> None:
    doc = load("message_echo.json")
    del events(doc)[0]["message"]["is_echo"]
    assert run(doc) == [
        Ignored(index="entry[0].messaging[0]", reason="messaging[0]: event from our own account (echo)")]


def test_deleted_message_is_ignored() -> None:
    assert run(load("message_deleted.json")) == [
        Ignored(index="entry[0].messaging[0]", reason="messaging[0]: message was deleted by the sender")]


def test_unsupported_message_is_still_an_event() -> None:
    doc = load("message_unsupported.json")
    assert run(doc) == [inbound(doc, 0, text="[unsupported message]", message_type="unsupported")]


def test_reaction_and_unreact() -> None:
    doc = load("reaction.json")
    target = MID + "OA"
    assert run(doc) == [
        inbound(doc, 0, external_id=f"reaction:{target}:{USER}:react:\u2764\ufe0f",
                text=f"[reaction \u2764\ufe0f to {target}]", message_type="reaction",
                metadata={"reacted_to": target, "action": "react", "emoji": "\u2764\ufe0f", "reaction": "love"}),
        inbound(doc, 1, external_id=f"reaction:{target}:{USER}:unreact:", text="[reaction removed]",
                message_type="reaction",
                metadata={"reacted_to": target, "action": "unreact", "emoji": None, "reaction": None}),
    ]


def test_postback_uses_title_mid_and_payload() -> None:
    doc = load("postback.json")
    assert run(doc) == [inbound(doc, 0, external_id=MID + "OQ", text="Talk to a human", message_type="postback",
                                metadata={"payload": "ICEBREAKER_HUMAN"})]


def test_seen_becomes_read_status() -> None:
    doc = load("seen.json")
    assert run(doc) == [StatusUpdate(index="entry[0].messaging[0]", channel="instagram",
                                     provider_message_id=MID + "Ng", status="read", at=ms(1569262485349),
                                     recipient=USER, raw=events(doc)[0])]


def test_watermark_only_read_is_ignored() -> None:
    assert run(load("seen_watermark.json")) == [Ignored(
        index="entry[0].messaging[0]",
        reason="messaging[0]: read receipt has only a watermark, no message id to update")]


def test_changes_form_messages_accepted_other_fields_ignored() -> None:
    doc = load("changes_messages.json")
    value = doc["entry"][0]["changes"][0]["value"]
    assert run(doc) == [
        InboundMessage(index="entry[0].changes[0].value", channel="instagram", external_id="random_mid",
                       sender="12334", text="random_text",
                       received_at=datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC),
                       metadata={"recipient_id": "23245"}, raw=value),
        Ignored(index="entry[0].changes[1]", reason="changes[1]: field 'comments' is not handled"),
    ]


def test_standby_events_are_ignored() -> None:
    doc = load("message_text.json")
    doc["entry"][0]["standby"] = doc["entry"][0].pop("messaging")
    assert run(doc) == [Ignored(index="entry[0].standby[0]",
                                reason="standby[0]: standby event: another app controls this conversation")]


def compact(name: str) -> str:
    return json.dumps(load(name))


def test_one_document_per_line_carries_line_numbers() -> None:
    items = run("\n".join([compact("message_text.json"), compact("message_echo.json"), compact("seen.json")]))
    assert [(type(i).__name__, i.line) for i in items] == [
        ("InboundMessage", 1), ("Ignored", 2), ("StatusUpdate", 3)]


def test_bad_line_is_rejected_and_good_lines_kept() -> None:
    items = run("\n".join([compact("message_text.json"), "{oops", compact("postback.json")]))
    assert [type(i).__name__ for i in items] == ["InboundMessage", "Rejected", "InboundMessage"]
    assert items[1].line == 2 and items[1].reason.startswith("invalid JSON:")
    assert (items[0].line, items[2].line, items[2].text) == (1, 3, "Talk to a human")


def test_wrong_object_is_rejected_per_document() -> None:
    items = run("\n".join(['{"object": "whatsapp_business_account", "entry": []}', compact("message_text.json")]))
    assert items[0] == Rejected(line=1, reason="object is 'whatsapp_business_account', expected 'instagram'")
    assert isinstance(items[1], InboundMessage) and items[1].line == 2


def test_missing_and_bad_fields_are_rejected_with_index_and_reason() -> None:
    doc = load("message_text.json")
    good = events(doc)[0]
    without_message = {k: v for k, v in good.items() if k != "message"}
    doc["entry"][0]["messaging"] = [
        {k: v for k, v in good.items() if k != "sender"},
        {**good, "message": {"text": "no mid"}},
        {k: v for k, v in good.items() if k != "timestamp"},
        {**good, "timestamp": "last tuesday"},
        {**good, "message": {"mid": "m.1"}},
        {**good, "message": "hello"},
        {**without_message, "reaction": {"action": "react"}},
        {**without_message, "read": {}},
        {**without_message, "optin": {"ref": "x"}},
        7,
        good,
    ]
    items = run(doc)
    assert [(i.index, i.reason) for i in items[:-1]] == [
        ("entry[0].messaging[0]", "messaging[0]: missing 'sender.id'"),
        ("entry[0].messaging[1]", "messaging[1]: missing 'message.mid'"),
        ("entry[0].messaging[2]", "messaging[2]: missing 'timestamp'"),
        ("entry[0].messaging[3]",
         "messaging[3]: bad 'timestamp' 'last tuesday' (Meta sends Unix time)"),
        ("entry[0].messaging[4]", "messaging[4]: message has neither 'text' nor 'attachments'"),
        ("entry[0].messaging[5]", "messaging[5]: 'message' is not an object"),
        ("entry[0].messaging[6]", "messaging[6]: missing 'reaction.mid'"),
        ("entry[0].messaging[7]", "messaging[7]: missing 'read.mid'"),
        ("entry[0].messaging[8]", "messaging[8]: event type 'optin' is not handled"),
        ("entry[0].messaging[9]", "messaging[9]: not a JSON object"),
    ]
    assert [type(i).__name__ for i in items[:-1]].count("Ignored") == 1
    assert isinstance(items[-1], InboundMessage) and items[-1].index == "entry[0].messaging[10]"


def test_oversize_message_is_rejected_others_kept() -> None:
    limits = Limits(max_message_bytes=1000)
    doc = load("message_text.json")
    big = {**events(doc)[0], "message": {"mid": "m.big", "text": "x" * 1200}}
    events(doc).insert(0, big)
    items = run(doc, limits)
    size = len(json.dumps(big, ensure_ascii=False).encode())
    assert items[0] == Rejected(index="entry[0].messaging[0]", reason=f"messaging[0]: {too_big(size, limits)}")
    assert isinstance(items[1], InboundMessage) and items[1].external_id == MID + "MQ"


def test_top_level_list_as_on_metas_example_pages() -> None:
    items = run(json.dumps([load("message_text.json"), load("postback.json")]))
    assert [(i.index, i.text) for i in items] == [
        ("[0].entry[0].messaging[0]", "Hi! Do you ship to Berlin?"),
        ("[1].entry[0].messaging[0]", "Talk to a human"),
    ]


@pytest.mark.parametrize("data", [b"\x00\x01\x02garbage", b"\xc3\x28", b"<html>nope</html>", b""])
def test_unusable_input_raises_input_error(data: bytes) -> None:
    with pytest.raises(InputError):
        run(data)


# --- property tests: whatever the JSON, parse() yields items or raises InputError ---

JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
ANY_JSON = st.recursive(
    JSON_LEAVES, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=20)
KEYS = st.sampled_from(["mid", "text", "attachments", "type", "payload", "url", "is_echo", "is_deleted",
                        "is_unsupported", "quick_reply", "reply_to", "story", "action", "emoji", "reaction",
                        "title", "watermark", "id"])
FUZZ = st.recursive(JSON_LEAVES | st.sampled_from(["m.1", "react", "unreact", "image"]),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(KEYS, c, max_size=4), max_leaves=10)
FLAGS = st.sampled_from([True, False, None, 1, "true"])


def mostly(value: Any) -> st.SearchStrategy:
    """Usually the valid value, sometimes any JSON: deep code paths get exercised too."""
    return st.one_of(st.just(value), st.just(value), st.just(value), JSON_LEAVES)



PAYLOADS = {
    "message": st.fixed_dictionaries({"mid": mostly("m.1")}, optional={
        "text": st.sampled_from(["hi", " "]) | JSON_LEAVES, "attachments": FUZZ, "quick_reply": FUZZ,
        "reply_to": FUZZ, "is_echo": FLAGS, "is_deleted": FLAGS, "is_unsupported": FLAGS}),
    "postback": st.fixed_dictionaries({}, optional={"mid": mostly("m.2"), "title": FUZZ,
                                                     "payload": FUZZ}),
    "reaction": st.fixed_dictionaries({}, optional={"mid": mostly("m.3"),
                                                     "action": st.sampled_from(["react", "unreact"]) | JSON_LEAVES,
                                                     "emoji": FUZZ, "reaction": FUZZ}),
    "read": st.fixed_dictionaries({}, optional={"mid": mostly("m.4"), "watermark": FUZZ}),
    "referral": FUZZ,
}
EVENT = st.builds(
    lambda base, kind_payload: {**base, kind_payload[0]: kind_payload[1]},
    st.fixed_dictionaries({
        "sender": st.fixed_dictionaries({"id": mostly(USER) | st.sampled_from([OWN, "", "a b"])}),
        "recipient": st.fixed_dictionaries({"id": mostly(OWN)}),
        "timestamp": mostly(1569262485349) | st.sampled_from(["1527459824", "never", 10**30])}),
    st.one_of(*(st.tuples(st.just(kind), payload) for kind, payload in PAYLOADS.items())),
)
ENVELOPE = st.builds(
    lambda key, items: {"object": "instagram", "entry": [{"id": OWN, key: items}]},
    st.sampled_from(["messaging", "messaging", "messaging", "standby", "changes"]),
    st.lists(EVENT | st.builds(lambda f, v: {"field": f, "value": v},
                               st.sampled_from(["messages", "comments"]), EVENT | FUZZ), max_size=3),
)

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_never_crashes(data: bytes) -> None:
    for item in parsed_or_refused(parse, data):
        if isinstance(item, InboundMessage):
            assert not (isinstance(item.raw, dict) and isinstance(item.raw.get("message"), dict)
                        and item.raw["message"].get("is_echo")), "an echo became inbound"


@PROPERTY
@given(ANY_JSON)
def test_any_json_value_never_crashes(value: Any) -> None:
    check_never_crashes(json.dumps(value).encode())


@PROPERTY
@given(ENVELOPE)
def test_fuzzed_envelopes_never_crash(envelope: dict) -> None:
    check_never_crashes(json.dumps(envelope).encode())
