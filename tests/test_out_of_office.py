"""Out-of-office replies without RFC 3834 headers (issue 12 item 10), judged on labelled sets.

``tests/fixtures/ooo/cases.jsonl`` and ``holdout.jsonl`` hold auto-replies as Outlook, Exchange,
Gmail's vacation responder, Lotus Notes and ticket systems write them in seven languages, and
customers' messages that mention being away, holidays or automatic replies. The holdout (every
third case, split before the rules were written) was first run once the rules were done; its first
figures are in the README. What is measured is what the product does with a message:
- *automated*: an auto-reply subject (or headers) → never answered, return date held;
- *flagged*: only the first lines read like one → a person reviews it (never skipped in silence).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from autopilot_cli.inbound._parsers.out_of_office import detect_out_of_office

SETS = Path(__file__).parent / "fixtures" / "ooo"


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (SETS / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def measure(cases: list[dict]) -> dict[str, float]:
    tp = fp = fn = flagged_fp = dates_right = dates_total = 0
    for case in cases:
        found = detect_out_of_office(case["subject"], case["text"], datetime.fromisoformat(case["received"]))
        automated = found is not None and found.certain
        # A ticket system's acknowledgement is automated (never answered) without being out of office.
        wanted = case["ooo"] or case.get("automated", False)
        if automated and wanted:
            tp += 1
            if case["ooo"]:
                dates_total += 1
                dates_right += (found.away_until.isoformat() if found.away_until else None) == case["until"]
        elif automated:
            fp += 1
        elif wanted:
            fn += 1  # missed, or flagged for review only: not counted as caught
        if found is not None and not found.certain and not wanted:
            flagged_fp += 1
    return {"precision": tp / (tp + fp), "recall": tp / (tp + fn), "dates": dates_right / dates_total,
            "customers_sent_to_review": flagged_fp, "cases": len(cases)}


def test_the_labelled_sets_are_big_enough_and_balanced() -> None:
    cases = [case for name in FLOORS for case in load(name)]
    assert sorted(FLOORS) == sorted(path.name for path in SETS.glob("*.jsonl"))  # every set is measured
    assert len(cases) >= 150
    positives = sum(c["ooo"] for c in cases)
    assert 0.35 < positives / len(cases) < 0.65
    assert {c["lang"] for c in cases} >= {"en", "de", "fr", "es", "pt", "it", "nl"}


# Floors per set, from what each measured (precision, recall, return dates, share of all cases that are
# customers sent to review). cases/holdout were written with the first rules (the holdout first run
# once they were done). second_author.jsonl was written afterwards by another engineer from how
# auto-replies and customers write (having read the rules, without running them); it first measured
# precision 0.825, recall 0.917, dates 0.81, the rules were generalised once (a question in the text
# sends an auto-reply-like subject to review; range ends "to"/"al"; dotted German dates; common-word
# cues only right before a date) and it measures 0.971 / 0.944 / 1.00. final_holdout.jsonl was written
# after that change and run once, untuned: 0.923 / 0.923 / 1.00, 4 customers of 46 cases to review.
FLOORS = {
    "cases.jsonl": (1.0, 0.97, 0.97, 0.10),
    "holdout.jsonl": (1.0, 0.97, 0.97, 0.10),
    "second_author.jsonl": (0.97, 0.94, 0.97, 0.15),
    "final_holdout.jsonl": (0.92, 0.92, 0.97, 0.10),
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_auto_replies_are_recognised_and_customers_never_skipped(name: str) -> None:
    figures = measure(load(name))
    print(name, figures)
    precision, recall, dates, review_share = FLOORS[name]
    # A customer wrongly marked automated gets no answer at all: precision matters most.
    assert figures["precision"] >= precision, figures
    assert figures["recall"] >= recall, figures
    assert figures["dates"] >= dates, figures
    # Customers whose text only *reads* like an auto-reply go to review, never skipped.
    assert figures["customers_sent_to_review"] <= review_share * figures["cases"], figures


@pytest.mark.parametrize(("text", "expected"), [
    ("I am out of the office until 01/04/2027.", "2027-01-04"),   # English cue: US order
    ("Je suis absent jusqu'au 01/04/2027.", "2027-04-01"),         # French cue: day first
    ("I'm away until 3 January.", "2027-01-03"),                   # no year, already past: next year
    ("I'm away until 14 December.", "2026-12-14"),
    ("I'm away until Monday.", None),                               # vague: no date
    ("Ich bin bis 31.02. nicht im Büro.", None),                    # impossible date
    ("I am away from 21 December to 4 January.", "2027-01-04"),     # the end of a range
    ("Estaré fuera del 1 al 15 de enero.", "2027-01-15"),
    ("Our office will reopen on January 4, 2027.", "2027-01-04"),
    ("Ab Montag, den 14. Dezember bin ich wieder da.", "2026-12-14"),
])
def test_return_dates(text: str, expected: str | None) -> None:
    found = detect_out_of_office("Out of Office", text, datetime.fromisoformat("2026-12-05T09:00:00+00:00"))
    assert found is not None and found.certain
    assert (found.away_until.isoformat() if found.away_until else None) == expected


@pytest.mark.parametrize(("subject", "text"), [
    ("Out of office hours support", "Do you offer support out of office hours? My shop is open until 9pm."),
    ("OOO", "Quick q before I go OOO next week: can you ship order 5510 by Friday?"),
    ("Respuesta automática", "Hola, recibí una respuesta automática pero nadie contesta. ¿Dónde está mi pedido?"),
])
def test_a_subject_like_an_auto_reply_over_a_question_goes_to_a_person(subject: str, text: str) -> None:
    found = detect_out_of_office(subject, text, datetime.fromisoformat("2026-12-05T09:00:00+00:00"))
    assert found is not None and not found.certain and "asks a question" in found.marker


def test_a_dotted_date_inside_a_german_away_statement_is_read() -> None:
    found = detect_out_of_office("AW: Bestellung", "Ich bin bis 15.03. nicht im Büro.",
                                 datetime.fromisoformat("2027-03-08T12:00:00+00:00"))
    assert found is not None and found.away_until is not None and found.away_until.isoformat() == "2027-03-15"


# -- end to end: ingest → process → approve → contacts show ----------------------------------------------------


def _ooo_email(received: datetime) -> bytes:
    from email.utils import format_datetime

    return (f"From: Ana Lima <ana@example.org>\r\nTo: shop@example.com\r\nSubject: Automatic reply: Re: Open Saturday?"
            f"\r\nDate: {format_datetime(received)}\r\nMessage-ID: <ooo-1@example.org>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Thank you for your email. I am out of the office until 14 December 2026 with limited access "
            "to email.\r\n").encode()


def test_an_out_of_office_reply_is_not_answered_and_holds_other_replies_until_the_return(store, runner) -> None:
    from datetime import timedelta

    from autopilot_cli.cli import app
    from autopilot_cli.clock import FixedClock, to_iso
    from autopilot_cli.config import config_from_dict
    from autopilot_cli.decide import process_events
    from autopilot_cli.decide._process import Services
    from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter
    from autopilot_cli.inbound import ingest_bytes
    from autopilot_cli.review import approve_one
    from autopilot_cli.secrets import Secrets

    from .conftest import NOW

    config = config_from_dict({"autopilot": {"mode": "assist"},
                               "channels": {"email": {"adapter": "outbox", "rate_per_second": 1000}}})
    clock = FixedClock(NOW)
    question = {"channel": "email", "id": "q1", "from": "ana@example.org", "text": "Are you open on Saturday?",
                "received_at": to_iso(NOW - timedelta(minutes=10))}
    ingest_bytes(store, json.dumps(question).encode() + b"\n", fmt="jsonl", config=config, clock=clock,
                 secrets=Secrets({}))
    ingest_bytes(store, _ooo_email(NOW - timedelta(minutes=5)), fmt="email", config=config, clock=clock,
                 secrets=Secrets({}))
    ooo = store.query("SELECT automated, automated_reason, metadata FROM events WHERE external_id LIKE '%ooo-1%'")[0]
    assert ooo["automated"] == 1 and "out of office" in ooo["automated_reason"]
    assert json.loads(ooo["metadata"])["away_until"] == "2026-12-14"
    assert store.scalar("SELECT away_until FROM contacts") == "2026-12-14T00:00:00.000Z"
    knowledge = Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml"
    process_events(store, config, clock, Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(knowledge)))
    assert store.scalar("SELECT count(*) FROM drafts d JOIN events e ON e.id = d.event_id "
                        "WHERE e.external_id LIKE '%ooo-1%'") == 0  # the auto-reply is never answered
    [draft] = [r[0] for r in store.query("SELECT id FROM drafts WHERE state = 'review'")]
    approved = approve_one(store, config, clock, "ana", draft)
    assert approved.send_at >= "2026-12-14T00:00:00.000Z"
    assert "held: contact away until 2026-12-14" in approved.explanation
    assert "live conversation" not in approved.explanation  # nine days on, it is not one any more
    # explain names the hold on the held reply, and the reason and the date on the auto-reply itself.
    [question_id, ooo_id] = [r[0] for r in store.query("SELECT id FROM events ORDER BY received_at")]
    held = runner.invoke(app, ["--db", store.path, "explain", str(question_id)], env={"COLUMNS": "300"})
    assert held.exit_code == 0 and "held: contact away until 2026-12-14" in held.output, held.output
    held_json = json.loads(runner.invoke(app, ["--db", store.path, "explain", str(question_id), "--json"]).stdout)
    assert "held: contact away until 2026-12-14" in held_json["send_explanation"]
    skipped = json.loads(runner.invoke(app, ["--db", store.path, "explain", str(ooo_id), "--json"]).stdout)
    assert skipped["outcome"] == "skipped" and skipped["reasons"] == ["automated", "out_of_office"]
    [guard] = [c for c in skipped["checks"] if c["name"] == "loop_guard"]
    assert "contact away until 2026-12-14" in guard["detail"]
    shown = runner.invoke(app, ["--db", store.path, "contacts", "show", "ana@example.org", "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["away_until"] == "2026-12-14T00:00:00.000Z"
    human = runner.invoke(app, ["--db", store.path, "contacts", "show", "ana@example.org"], env={"COLUMNS": "200"})
    assert "away until" in human.output and "2026-12-14" in human.output
    # A message Ana writes herself afterwards shows she is reachable: the hold ends.
    back = {**question, "id": "q2", "text": "Back early! Still open Saturday?", "received_at": to_iso(NOW)}
    ingest_bytes(store, json.dumps(back).encode() + b"\n", fmt="jsonl", config=config, clock=clock,
                 secrets=Secrets({}))
    assert store.scalar("SELECT away_until FROM contacts") is None


def test_first_lines_alone_send_the_message_to_review_not_to_the_bin(store) -> None:
    from autopilot_cli.clock import FixedClock
    from autopilot_cli.config import config_from_dict
    from autopilot_cli.decide import process_events
    from autopilot_cli.decide._process import Services
    from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter
    from autopilot_cli.inbound import ingest_bytes
    from autopilot_cli.secrets import Secrets

    from .conftest import NOW

    config = config_from_dict({"autopilot": {"mode": "auto"}})
    raw = (b"From: ana@example.org\r\nSubject: Re: Order 1182\r\nDate: Wed, 25 Nov 2026 11:55:00 +0000\r\n"
           b"Message-ID: <m2@example.org>\r\n\r\nI'm away at the moment but my wife can receive the parcel.\r\n")
    ingest_bytes(store, raw, fmt="email", config=config, clock=FixedClock(NOW), secrets=Secrets({}))
    assert store.scalar("SELECT automated FROM events") == 0
    knowledge = Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml"
    process_events(store, config, FixedClock(NOW),
                   Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(knowledge)))
    assert "possible_out_of_office" in json.loads(store.scalar("SELECT reasons FROM drafts"))
    assert store.scalar("SELECT state FROM drafts") == "review"


@pytest.mark.parametrize(("asked_ago", "then"), [
    (timedelta(minutes=10), "then first allowed time"),  # a live conversation before the auto-reply
    (timedelta(days=2), "then contact has written"),     # an older question: the usual best-hour search
])
def test_auto_mode_holds_the_reply_and_the_send_time_check_says_why(store, asked_ago, then) -> None:
    from autopilot_cli.clock import FixedClock, to_iso
    from autopilot_cli.config import config_from_dict
    from autopilot_cli.decide import process_events
    from autopilot_cli.decide._process import Services
    from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter
    from autopilot_cli.inbound import ingest_bytes
    from autopilot_cli.secrets import Secrets

    from .conftest import NOW

    config = config_from_dict({"autopilot": {"mode": "auto"},
                               "channels": {"email": {"adapter": "outbox", "rate_per_second": 1000}}})
    clock = FixedClock(NOW)
    question = {"channel": "email", "id": "q1", "from": "ana@example.org", "text": "Are you open on Saturday?",
                "received_at": to_iso(NOW - asked_ago)}
    ingest_bytes(store, json.dumps(question).encode() + b"\n", fmt="jsonl", config=config, clock=clock,
                 secrets=Secrets({}))
    ingest_bytes(store, _ooo_email(NOW - timedelta(minutes=5)), fmt="email", config=config, clock=clock,
                 secrets=Secrets({}))
    knowledge = Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml"
    report = process_events(store, config, clock,
                            Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(knowledge)))
    outcomes = {d.external_id: (d.outcome, d.reasons, d.send_at) for d in report.decisions}
    assert outcomes["ooo-1@example.org"][:2] == ("skipped", ["automated", "out_of_office"])
    outcome, _, send_at = outcomes["q1"]
    assert outcome == "auto_scheduled" and send_at is not None and send_at >= "2026-12-14T00:00:00.000Z"
    assert store.scalar("SELECT send_at FROM jobs") >= "2026-12-14T00:00:00.000Z"
    checks = json.loads(store.scalar("SELECT checks FROM decisions d JOIN events e ON e.id = d.event_id "
                                     "WHERE e.external_id = 'q1'"))
    [timing] = [c for c in checks if c["name"] == "send_time"]
    assert "held: contact away until 2026-12-14" in timing["detail"] and then in timing["detail"], timing
