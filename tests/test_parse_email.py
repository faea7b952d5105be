"""Email parser: RFC 5322 messages and mbox files in, exact items out."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from autopilot_cli.errors import InputError
from autopilot_cli.inbound._parsers import get_parser
from autopilot_cli.inbound._parsers._common import Limits, too_big
from autopilot_cli.inbound._parsers.email import parse, parse_mbox
from autopilot_cli.inbound._parsers.email_body import decode_payload
from autopilot_cli.inbound._parsers.email_clean import clean_body
from autopilot_cli.inbound._parsers.html_text import html_to_text
from autopilot_cli.inbound._records import InboundMessage, Rejected

FIXTURES = Path(__file__).parent / "fixtures" / "email"
UTC = timezone.utc

BASE_METADATA = {
    "message_id_missing": False,
    "date_source": "Date",
    "date_utc_offset": "+00:00",
    "in_reply_to": None,
    "references": [],
    "to": ["sales@ourcompany.test"],
    "cc": [],
    "reply_to": [],
    "return_path": None,
    "list_id": None,
    "auto_submitted": None,
    "precedence": None,
    "attachments": [],
    "body_source": "text/plain",
    "hidden_text": False,
    "automated_markers": [],
}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run(data: bytes, limits: Limits = Limits()) -> list:
    return list(parse(data, limits))


def one(name_or_data: str | bytes) -> InboundMessage:
    data = fixture(name_or_data) if isinstance(name_or_data, str) else name_or_data
    items = run(data)
    assert len(items) == 1
    assert isinstance(items[0], InboundMessage), items[0]
    return items[0]


def metadata(**changes: object) -> dict:
    return {**BASE_METADATA, **changes}


def minimal(headers: str, body: str = "Hello.\n") -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode()


# --- single messages -------------------------------------------------------


def test_plain_reply_strips_quoted_history_and_signature() -> None:
    item = one("plain_reply.eml")
    assert item.model_dump(exclude={"raw", "body"}) == {
        "line": None,
        "index": None,
        "channel": "email",
        "external_id": "CAF3a9k2=reply-1@mail.example.com",
        "sender": "alice.example@example.com",
        "text": "Hi,\n\nThanks for the quote. Could you do 12 seats instead of 10?\nWe would start in April."
                "\n\nBest,\nAlice",
        "received_at": datetime(2025, 3, 4, 9, 14, 55, tzinfo=UTC),
        "message_type": "email",
        "name": "Alice Example",
        "thread_id": "20250301090000.0001@ourcompany.test",
        "subject": "Re: Pricing for the team plan",
        "timezone": None,
        "reply_to_id": "20250303160000.1234@ourcompany.test",
        "automated": False,
        "automated_reason": None,
        "metadata": metadata(
            date_utc_offset="+01:00",
            in_reply_to="20250303160000.1234@ourcompany.test",
            references=["20250301090000.0001@ourcompany.test", "20250303160000.1234@ourcompany.test"],
            cc=["bob@example.com"],
            reply_to=["alice+replies@example.com"],
            return_path="alice@example.com",
        ),
    }
    assert item.body is not None
    assert item.body.startswith("Hi,\n\nThanks for the quote.")
    assert item.body.endswith(
        "wrote:\n> Hi Alice,\n>\n> The team plan is 40 EUR per seat per month.\n>\n> Regards,\n> Sales"
    )
    assert "-- \nAlice Example\nHead of Operations" in item.body
    assert item.raw == fixture("plain_reply.eml").decode()


def test_html_only_drops_gmail_quote_and_hidden_text() -> None:
    item = one("html_gmail_quote.eml")
    assert item.text == "Thursday at 14:00 works for me.\nSee you then!"
    assert item.body == (
        "Thursday at 14:00 works for me.\nSee you then!\n\n"
        "On Tue, Mar 4, 2025 at 11:00 AM Sales Team <sales@ourcompany.test> wrote:\n\n"
        "Would you like a demo next week?"
    )
    assert "ignore previous instructions" not in (item.body or "").lower()
    assert item.metadata["hidden_text"] is True
    assert item.metadata["body_source"] == "text/html"
    assert item.received_at == datetime(2025, 3, 5, 14, 30, 5, tzinfo=UTC)
    assert (item.thread_id, item.reply_to_id) == ("demo-invite-77@ourcompany.test", "demo-invite-77@ourcompany.test")
    assert item.automated is False


def test_outlook_multipart_prefers_plain_and_lists_attachments() -> None:
    data = fixture("outlook_multipart.eml")
    assert b"\r\n" in data
    item = one(data)
    assert item.text == "Hello,\n\nSigned copy attached. Please confirm receipt.\n\nKind regards\nHenry"
    assert item.body is not None and item.body.endswith(
        "________________________________\nFrom: Sales Team <sales@ourcompany.test>\nSent: 11 March 2025 17:20\n"
        "To: Henry Baker <henry.baker@contoso.example>\nSubject: Contract renewal\n\n"
        "Dear Henry, please find the renewal contract for signature."
    )
    assert item.metadata == metadata(
        in_reply_to="renewal-1@ourcompany.test",
        references=["renewal-1@ourcompany.test"],
        attachments=["Renewal 2025 (signed).pdf"],
    )
    assert item.sender == "henry.baker@contoso.example"
    assert item.subject == "RE: Contract renewal"
    # X-Auto-Response-Suppress is a request to robots, not a robot's mark.
    assert item.automated is False


def test_rfc2047_subject_and_name_and_mobile_footer() -> None:
    item = one("rfc2047_subject.eml")
    assert item.subject == "Résumé for the «position»"
    assert item.name == "Jürgen Müller"
    assert item.text == "Hallo,\n\nmein Lebenslauf ist angehängt."
    assert item.body == "Hallo,\n\nmein Lebenslauf ist angehängt.\n\nSent from my iPhone"
    assert item.received_at == datetime(2025, 3, 6, 13, 0, tzinfo=UTC)
    assert item.metadata["date_utc_offset"] == "-05:00"


def test_latin1_label_decodes_as_windows_1252() -> None:
    item = one("latin1_body.eml")
    assert item.text == "Bonjour,\n\nle devis à 1\u00a0200 € me convient. « Très bien » — on signe jeudi.\n\nRenée"
    assert item.body is None
    assert item.name == "Renée Faure"
    # The raw copy is UTF-8-decoded with replacement, never a crash.
    assert "\ufffd" in item.raw


def test_iso_2022_jp() -> None:
    item = one("iso2022jp.eml")
    assert (item.name, item.subject, item.text) == ("山田", "見積", "お世話になっております。見積書をお願いします。")
    assert item.metadata["date_utc_offset"] == "+09:00"
    assert item.received_at == datetime(2025, 3, 14, 1, 0, tzinfo=UTC)


def test_out_of_office_is_automated() -> None:
    item = one("out_of_office.eml")
    assert (item.automated, item.automated_reason) == (True, "Auto-Submitted: auto-replied")
    assert item.metadata["auto_submitted"] == "auto-replied"
    assert item.metadata["automated_markers"] == ["Auto-Submitted: auto-replied"]


def test_mailing_list_is_automated() -> None:
    item = one("mailing_list.eml")
    assert (item.automated, item.automated_reason) == (True, "Precedence: list")
    assert item.metadata == metadata(
        date_utc_offset="+02:00",
        to=["dev@lists.example.net"],
        return_path="dev-bounces+sales=ourcompany.test@lists.example.net",
        list_id="dev.lists.example.net",
        precedence="list",
        automated_markers=["Precedence: list", "List-Id", "List-Unsubscribe"],
    )


def test_bounce_from_mailer_daemon() -> None:
    item = one("bounce.eml")
    assert item.sender == "mailer-daemon@mx.example.net"
    assert item.name == "Mail Delivery System"
    assert (item.automated, item.automated_reason) == (True, "Return-Path: <>")
    assert item.metadata["automated_markers"] == [
        "Return-Path: <>",
        "Content-Type: multipart/report",
        "From: mailer-daemon",
    ]
    assert item.metadata["return_path"] == "<>"
    assert item.metadata["attachments"] == ["(message/delivery-status)"]
    assert item.text.startswith("This is the mail system at host mx.example.net.")
    assert item.text.endswith("550 5.1.1 User unknown")


def test_missing_message_id_gets_stable_hash_id() -> None:
    data = fixture("missing_message_id.eml")
    item = one(data)
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    assert (item.external_id, item.thread_id) == (expected, expected)
    assert one(data).external_id == expected
    assert item.metadata["message_id_missing"] is True
    # "-0000" is UTC with the sender's zone unknown (RFC 5322 3.3).
    assert item.received_at == datetime(2025, 3, 10, 7, 45, tzinfo=UTC)
    assert item.metadata["date_utc_offset"] is None
    assert (item.name, item.text, item.body) == (None, "Do you ship to Norway?", None)


def test_missing_date_uses_the_newest_received_header() -> None:
    # Issue 12 item 8: the topmost Received (08:00:09 UTC, added by our own server), not
    # the first hop's (08:00:03 UTC) nor a rejection.
    item = one("missing_date.eml")
    assert item.received_at == datetime(2025, 3, 11, 8, 0, 9, tzinfo=UTC)
    assert (item.metadata["date_source"], item.metadata["date_utc_offset"]) == ("Received", None)


def test_unusable_received_headers_are_skipped_for_the_next_one() -> None:
    data = minimal(
        "Received: from a by b; not a date at all\n"
        "Received: from c by d; Mon, 1 Jan 1900 00:00:00 +0000\n"
        "Received: from e by f; Tue, 11 Mar 2025 09:00:03 +0100\n"
        "From: a@example.com\nMessage-ID: <x@y>"
    )
    item = one(data)
    assert item.received_at == datetime(2025, 3, 11, 8, 0, 3, tzinfo=UTC)
    assert item.metadata["date_source"] == "Received"


INGEST_TIME = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "date",
    ["", "Date: yesterday-ish\n", "Date: \n", "Date: Mon, 1 Jan 1900 00:00:00 +0000\n",
     "Date: Fri, 31 Dec 9999 23:59:59 -1400\n"],
)
def test_no_usable_date_nor_received_uses_the_ingest_time(date: str) -> None:
    items = run(minimal(f"From: a@example.com\n{date}Message-ID: <x@y>"), Limits(now=INGEST_TIME))
    assert len(items) == 1 and isinstance(items[0], InboundMessage), items
    assert items[0].received_at == INGEST_TIME
    assert (items[0].metadata["date_source"], items[0].metadata["date_utc_offset"]) == ("ingest", None)


def test_no_usable_date_without_an_ingest_time_is_rejected() -> None:
    items = run(minimal("From: a@example.com\nMessage-ID: <x@y>"))
    assert [(type(i), i.reason) for i in items] == [(Rejected, "no usable Date or Received header")]
    assert items[0].raw.startswith("From: a@example.com")


def test_missing_from_is_rejected() -> None:
    items = run(minimal("To: b@example.com\nDate: Mon, 10 Mar 2025 07:45:00 +0000"))
    assert [(type(i), i.reason) for i in items] == [(Rejected, "missing From header")]


def test_invalid_from_is_rejected() -> None:
    items = run(minimal("From: Just A Name\nDate: Mon, 10 Mar 2025 07:45:00 +0000"))
    assert [(type(i), i.reason) for i in items] == [(Rejected, "invalid From header: 'Just A Name'")]


def test_oversized_message_is_rejected() -> None:
    data = fixture("plain_reply.eml")
    limits = Limits(max_message_bytes=500)
    assert run(data, limits) == [Rejected(reason=too_big(len(data), limits))]


@pytest.mark.parametrize(
    "local_part", ["noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "postmaster", "no-reply-aws"]
)
def test_robot_sender_is_automated(local_part: str) -> None:
    item = one(minimal(f"From: Shop <{local_part}@shop.example>\nDate: Mon, 10 Mar 2025 07:45:00 +0000"))
    assert (item.automated, item.automated_reason) == (True, f"From: {local_part}")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-generated; owner-email=x@y", "Auto-Submitted: auto-generated"),
        ("Precedence: BULK", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("List-Unsubscribe: <https://x.example/u>", "List-Unsubscribe"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Autorespond: on", "X-Autorespond"),
    ],
)
def test_automation_headers(header: str, reason: str) -> None:
    item = one(minimal(f"From: a@example.com\nDate: Mon, 10 Mar 2025 07:45:00 +0000\n{header}"))
    assert (item.automated, item.automated_reason) == (True, reason)


@pytest.mark.parametrize("header", ["Auto-Submitted: no", "Precedence: first-class", "X-Auto-Response-Suppress: OOF"])
def test_human_mail_is_not_automated(header: str) -> None:
    item = one(minimal(f"From: a@example.com\nDate: Mon, 10 Mar 2025 07:45:00 +0000\n{header}"))
    assert (item.automated, item.automated_reason) == (False, None)


def test_raw_cr_and_lf_in_header_values_do_not_crash() -> None:
    data = (
        b"From: a@example.com\r\nSubject: hi\rBcc: victim@example.com\r\n"
        b"Date: Mon, 10 Mar 2025 07:45:00 +0000\r\nX-Odd: one\ntwo\r\n\r\nBody\r\n"
    )
    item = one(data)
    # Like the stdlib (and most MTAs), a bare CR or LF ends the header line; the
    # non-header line "two" ends the header block, so it is read as body text.
    assert (item.sender, item.subject, item.text) == ("a@example.com", "hi", "two\n\nBody")


def test_mbox_envelope_line_on_eml_is_ignored() -> None:
    data = fixture("missing_date.eml")
    item = one(b"From grace@example.com Tue Mar 11 08:00:09 2025\n" + data)
    assert item.model_dump(exclude={"raw"}) == one(data).model_dump(exclude={"raw"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "input is empty"),
        (b"\n\n  \n", "input is empty"),
        (b"\x00\x01\x02\x03garbage", "input is binary, not an email message (NUL byte at offset 0)"),
        (b"PK\x03\x04\x14\x00\x06\x00", "input is binary, not an email message (NUL byte at offset 5)"),
        (b"\x89PNG\r\n\x1a\n", "input is not an email message: it does not start with a header field"),
        (b"hello world\nthis is not mail\n", "input is not an email message: it does not start with a header field"),
        (b"From: a@example.com\nX: \x00\x00\n\nbody", "input is binary, not an email message (NUL byte at offset 23)"),
    ],
)
def test_not_a_message_raises_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as exc_info:
        run(data)
    assert str(exc_info.value) == message


# --- mbox --------------------------------------------------------------------


def test_mbox_three_messages() -> None:
    items = list(parse_mbox(fixture("three.mbox"), Limits()))
    assert [type(i) for i in items] == [InboundMessage, InboundMessage, Rejected]
    first, second, third = items
    assert (first.line, first.index, first.external_id) == (1, "message[0]", "notes-1@example.com")
    # mboxrd: one ">" is removed from ">From " and ">>From " lines.
    assert (
        first.body
        == "Notes from today:\nFrom the top: budget approved.\n>From the archive: last year's figures.\n\nIvan"
    )
    assert first.text == "Notes from today:\nFrom the top: budget approved.\n\nIvan"
    assert first.raw.startswith("Return-Path: <ivan@example.com>\n")
    assert first.raw.endswith("\n\nIvan\n")
    assert (second.line, second.index, second.sender, second.text) == (
        15,
        "message[1]",
        "judy@example.org",
        "Thanks Ivan, looks good.",
    )
    assert (second.thread_id, second.reply_to_id) == ("notes-1@example.com", "notes-1@example.com")
    assert third == Rejected(line=28, index="message[2]", reason="missing From header", raw=third.raw)
    assert third.raw.endswith("This message has no From header.\n")


def test_mbox_with_crlf_and_oversized_and_garbage_messages() -> None:
    good = minimal("From: a@example.com\nDate: Mon, 10 Mar 2025 07:45:00 +0000\nMessage-ID: <m1@x>")
    big = minimal("From: b@example.com\nDate: Mon, 10 Mar 2025 07:45:00 +0000", "x" * 400 + "\n")
    mbox = (
        b"From a@example.com Mon Mar 10 07:45:00 2025\n" + good + b"\n"
        b"From b@example.com Mon Mar 10 07:46:00 2025\n" + big + b"\n"
        b"From c@example.com Mon Mar 10 07:47:00 2025\nnot a header line\n"
    )
    items = list(parse_mbox(mbox.replace(b"\n", b"\r\n"), Limits(max_message_bytes=300)))
    assert isinstance(items[0], InboundMessage)
    assert (items[0].line, items[0].text, items[0].external_id) == (1, "Hello.", "m1@x")
    assert items[1] == Rejected(line=8, index="message[1]", reason=too_big(len(big) + big.count(b"\n"), Limits(300)))
    assert items[2] == Rejected(
        line=14, index="message[2]", reason="mbox entry is not an email message: it does not start with a header field"
    )


@pytest.mark.parametrize(
    "data", [b"", b"\n\n", b"From: a@example.com\n\nhi\n", b"\nhello\nFrom a@b Mon Mar 10 07:45:00 2025\n"]
)
def test_not_an_mbox_raises_input_error(data: bytes) -> None:
    with pytest.raises(InputError) as exc_info:
        list(parse_mbox(data, Limits()))
    assert str(exc_info.value) == "not an mbox file: the first line that is not blank does not start with 'From '"


@pytest.mark.parametrize("lead", [b"\n", b"\r\n\r\n", b" \t\n\n", b"\xef\xbb\xbf\n"])
def test_mbox_starting_with_blank_lines_is_accepted(lead: bytes) -> None:
    # Issue 12 item 9: as Python's mailbox does; it was refused whole, losing every message.
    data = lead + fixture("three.mbox")
    items = list(parse_mbox(data, Limits()))
    assert [type(i) for i in items] == [InboundMessage, InboundMessage, Rejected]
    skipped = lead.count(b"\n")
    assert [i.line for i in items] == [1 + skipped, 15 + skipped, 28 + skipped]
    assert items[0].external_id == "notes-1@example.com"
    assert [i.external_id for i in items[:2]] == [
        i.external_id for i in list(parse_mbox(fixture("three.mbox"), Limits()))[:2]
    ]


def test_registered_under_both_formats() -> None:
    assert get_parser("email").__wrapped__ is parse
    assert get_parser("mbox").__wrapped__ is parse_mbox


# --- helpers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.\n\nOn Mon, 3 Mar 2025 at 16:00, Sales Team <\nsales@ourcompany.test> wrote:\n> old", "Yes."),
        ("Ja.\n\nAm 03.03.2025 um 16:00 schrieb Sales Team <sales@ourcompany.test>:\n> alt", "Ja."),
        ("Fine.\n\n-----Original Message-----\nFrom: x\nSent: y\n\nold", "Fine."),
        ("Fine.\n\nFrom: Sales <s@x>\nDate: Mon, 3 Mar 2025\nSubject: x\n\nold", "Fine."),
        ("> a\nanswer a\n> b\nanswer b", "answer a\nanswer b"),
        ("Thanks\n--\nBob\nACME", "Thanks"),
        ("Sent from my iPhone\n> only a quote", "Sent from my iPhone\n> only a quote"),
        ("> everything\n> is quoted", "> everything\n> is quoted"),
        ("On time, as always.\nSee you.", "On time, as always.\nSee you."),
    ],
)
def test_clean_body(text: str, expected: str) -> None:
    assert clean_body(text) == expected


@pytest.mark.parametrize(
    ("html", "text", "hidden"),
    [
        ("<p>Hi</p><script>alert(1)</script><style>p{}</style><p>there</p>", "Hi\n\nthere", False),
        ('<div>a</div><span style="font-size:0px">secret</span>', "a", True),
        ('<div>a</div><p style="color:red; visibility: hidden">secret</p>', "a", True),
        ("<div>a</div><div hidden><b>secret</b></div>", "a", True),
        ('<div>a</div><div style="font-size: 0.5em">small</div>', "a\nsmall", False),
        ("<ul><li>x</li><li>y &amp; z</li></ul>", "- x\n- y & z", False),
        ("<div>a<![\x00 ]>b</div>", "ab", False),
    ],
)
def test_html_to_text(html: str, text: str, hidden: bool) -> None:
    assert html_to_text(html) == html_to_text(html, drop_quotes=False)
    result = html_to_text(html)
    assert (result.text, result.hidden_text) == (text, hidden)


@pytest.mark.parametrize(
    ("payload", "charset", "expected"),
    [
        ("café".encode(), None, "café"),
        ("café".encode(), "us-ascii", "café"),
        ("café".encode("cp1252"), "us-ascii", "café"),
        ("café".encode(), "x-no-such-charset", "café"),
        (b"caf\xe9", "base64", "caf\ufffd"),
        (b"caf\xe9", "idna", "caf\ufffd"),
        (b"\x81\xe9", "iso-8859-1", "\x81é"),
        (b"caf\xff", "utf-8", "caf\ufffd"),
    ],
)
def test_decode_payload_never_raises(payload: bytes, charset: str | None, expected: str) -> None:
    assert decode_payload(payload, charset) == expected


# --- robustness --------------------------------------------------------------

_HEADERISH = st.lists(
    st.sampled_from(
        [b"From: a@example.com", b"Date: Mon, 10 Mar 2025 07:45:00 +0000", b"Subject: =?utf-8?q?x?=",
         b"Content-Type: multipart/mixed; boundary=b", b"Content-Type: text/html; charset=idna",
         b"--b", b"Content-Transfer-Encoding: base64", b"References: <a@b> <", b"From: <>", b"\r", b""]
    )
    | st.binary(max_size=40),
    max_size=12,
).map(b"\n".join)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300), _HEADERISH))
def test_parse_never_raises_anything_but_input_error(data: bytes) -> None:
    try:
        items = run(data)
    except InputError:
        return
    assert len(items) == 1
    assert isinstance(items[0], InboundMessage | Rejected)


# --- through ingest, into a real SQLite file ------------------------------------


def test_ingest_stores_a_message_without_any_date_at_the_ingest_time(store, config, clock, secrets) -> None:
    from autopilot_cli.inbound import ingest_bytes

    data = minimal("From: Ann <ann@example.com>\nMessage-ID: <no-date@x>\nSubject: Order?")
    report = ingest_bytes(store, data, fmt="auto", config=config, clock=clock, secrets=secrets)
    assert (report.ingested, report.rejected) == (1, 0)
    received_at, metadata = store.conn.execute("SELECT received_at, metadata FROM events").fetchone()
    assert received_at.startswith(clock.now().strftime("%Y-%m-%dT%H:%M:%S"))
    assert json.loads(metadata)["date_source"] == "ingest"


def test_ingest_auto_detects_and_stores_an_mbox_that_starts_with_a_blank_line(store, config, clock, secrets) -> None:
    from autopilot_cli.inbound import ingest_bytes

    report = ingest_bytes(store, b"\n" + fixture("three.mbox"), fmt="auto", config=config, clock=clock, secrets=secrets)
    assert (report.format, report.ingested, report.rejected) == ("mbox", 2, 1)


# --- hostile mail (issue 12, H1/H2) ------------------------------------------------

HEAD = b"From: a@example.com\nDate: Mon, 10 Mar 2025 07:45:00 +0000\nMessage-ID: <h@x>\n"


def test_raw_8bit_headers_are_decoded_not_left_as_lone_surrogates() -> None:
    # The e-mail package reads raw 8-bit header bytes as lone surrogates, which SQLite
    # refused (UnicodeEncodeError, "internal error"), or as mojibake: UTF-8 (RFC 6532)
    # is decoded, else windows-1252, and whatever remains is storable text.
    data = (
        b"From: Ren\xc3\xa9e M\xc3\xbcller <renee@example.com>\nDate: Mon, 10 Mar 2025 07:45:00 +0000\n"
        b'Message-ID: <s@x>\nSubject: Re: caf\xe9 \xed\xa0\x80\nTo: "Z\xc3\xa9" <z\xff@example.com>, b@example.com\n'
        b"\nHello.\n"
    )
    item = one(data)
    assert item.name == "Renée Müller"
    assert item.subject is not None and item.subject.startswith("Re: café í")
    assert item.metadata["to"][-1] == "b@example.com"
    for value in (item.name, item.subject, item.text, json.dumps(item.metadata, ensure_ascii=False)):
        value.encode("utf-8")


def test_too_many_header_fields_is_a_reject() -> None:
    data = HEAD + b"".join(b"X-H%d: v\n" % i for i in range(5000)) + b"\nHello.\n"
    assert [(type(i), i.reason) for i in run(data)] == [(Rejected, "too many header fields (5,003; at most 2,000)")]


def test_deeply_nested_multipart_is_a_reject() -> None:
    depth = 3000
    data = HEAD + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"\n\n' + b"".join(
        b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' % (i, i + 1) for i in range(depth)
    ) + b"--b%d\nContent-Type: text/plain\n\nhello\n" % depth
    [item] = run(data)
    assert isinstance(item, Rejected)
    assert item.reason == "too many nested MIME parts (3,001 multipart or message parts; at most 100)"


def test_too_many_mime_parts_is_a_reject() -> None:
    data = HEAD + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n' + b"".join(
        b"--b\nContent-Type: text/plain\n\npart %d\n" % i for i in range(5000)) + b"--b--\n"
    [item] = run(data, Limits(max_message_bytes=10_000_000))
    assert (type(item), item.reason) == (Rejected, "too many MIME parts (5,001; at most 1,000)")


def test_an_overlong_header_field_is_cut_and_named() -> None:
    from autopilot_cli.inbound._parsers.email import MAX_FIELD_BYTES

    to = b", ".join(b"u%d@example.com" % i for i in range(5000))
    item = one(HEAD + b"To: " + to + b"\nSubject: " + b"=?utf-8?q?a?= " * 20000 + b"\n\nHello.\n")
    assert item.metadata["truncated"] == ["header To", "header Subject"]
    assert item.metadata["to"][:2] == ["u0@example.com", "u1@example.com"]
    assert 100 < len(item.metadata["to"]) < MAX_FIELD_BYTES // 16
    assert item.subject is not None and set(item.subject) == {"a"} and len(item.subject) < MAX_FIELD_BYTES


def test_a_message_without_body_text_uses_the_subject_or_is_rejected() -> None:
    assert one(HEAD + b"Subject: Do you ship to Norway?\n\n").text == "Do you ship to Norway?"
    [item] = run(HEAD + b"\n \n")
    assert (type(item), item.reason) == (Rejected, "message has no text (empty body, no subject, no attachment)")


def test_signature_and_footer_stripping_is_linear() -> None:
    import time

    from autopilot_cli.inbound._parsers.email_clean import clean_body

    # 300,000 "--" lines took 33 s of CPU (a copy of the rest per candidate line).
    started = time.process_time()
    # A bare "--" is a delimiter only with at most 10 lines after it: the 10th line from the end.
    assert clean_body("Hi\n" + "--\n" * 300_000) == "Hi\n" + "--\n" * (300_000 - 11) + "--"
    assert clean_body("Hi\n" + "Sent from my phone\nx\n" * 50_000).startswith("Hi\n")
    assert time.process_time() - started < 5  # CPU seconds, not wall time: about 0.2 s here
