"""Confidence learned from review: an intent earns AUTO by unchanged approvals and loses it by edits and
rejections (calibration/_model.py); the ``calibration`` report."""

from __future__ import annotations

import json
from datetime import timedelta

from autopilot_cli.calibration import Outcomes, calibrate
from autopilot_cli.cli import app
from autopilot_cli.clock import FixedClock
from autopilot_cli.drafting import DraftRequest, DraftResult
from autopilot_cli.review import approve_one, reject_one

from .conftest import NOW
from .helpers import ingest_records, message, outbox_config
from .test_process import services


class Hesitant:
    """A drafter that always answers entry 6 (payment) with raw confidence 0.80 — below 0.85."""

    name = "hesitant"

    def draft_many(self, requests: list[DraftRequest], token_budget: int | None = None) -> list[DraftResult]:
        return [DraftResult(text="We accept PayPal.", confidence=0.80, intent="faq:6",
                            drafter=self.name, sources=[6]) for r in requests]


def run(store, config, at, *texts: str):
    from autopilot_cli.decide import process_events

    base = services()
    ingest_records(store, *(message(f"{at.isoformat()}-{i}", t, sender=f"c{at.minute}{i}@example.org",
                                    minutes_ago=1) for i, t in enumerate(texts)),
                   config=config, clock=FixedClock(at))
    return process_events(store, config, FixedClock(at), type(base)(drafter=Hesitant(), index=base.index))


def test_the_formula() -> None:
    assert calibrate(0.80, Outcomes(), 4) == 0.80
    assert calibrate(0.80, Outcomes(unchanged=4), 4) == 0.90
    assert calibrate(0.80, Outcomes(unchanged=4, rejected=2), 4) == 0.72


def test_an_intent_earns_auto_by_unchanged_approvals_and_loses_it_by_edits_and_rejections(store) -> None:
    config = outbox_config("auto")
    at = NOW
    first = run(store, config, at, *["Can I pay with PayPal?"] * 4)
    assert [d.outcome for d in first.decisions] == ["review_queue"] * 4  # 0.80 < 0.85: a person looks
    for d in first.decisions:  # ... and approves each one as drafted
        approve_one(store, config, FixedClock(at), "ana", d.draft_id)
    at += timedelta(minutes=10)
    second = run(store, config, at, "Do you take PayPal?")
    [earned] = second.decisions
    assert earned.outcome == "auto_scheduled" and earned.confidence == 0.90
    from autopilot_cli.decide import explain_event

    calibration = next(c for c in explain_event(store, earned.event_id).checks if c.name == "calibration")
    assert "0.80 → 0.90 after 4 approved unchanged, 0 edited, 0 rejected" in calibration.detail

    # In one-click mode every draft waits for a person; this time reviewers edit one and reject one.
    at += timedelta(minutes=10)
    edit, rejection = run(store, outbox_config("one_click"), at, "PayPal ok?", "paypal possible?").decisions
    assert [edit.confidence, rejection.confidence] == [0.90, 0.90]
    approve_one(store, config, FixedClock(at), "ana", edit.draft_id, text="We accept PayPal and Klarna.")
    reject_one(store, FixedClock(at), "ana", rejection.draft_id, reason="wrong answer")
    at += timedelta(minutes=10)
    [lost] = run(store, config, at, "Is PayPal accepted?").decisions
    assert lost.confidence == round((4 * 0.80 + 4) / (4 + 6), 3) == 0.72  # 4 unchanged, 1 edited, 1 rejected
    assert lost.outcome == "review_queue" and "low_confidence" in lost.reasons


def test_learning_can_be_switched_off(store) -> None:
    config = outbox_config("auto", autopilot={"mode": "auto", "learn_from_review": False})
    first = run(store, config, NOW, *["Can I pay with PayPal?"] * 4)
    for d in first.decisions:
        approve_one(store, config, FixedClock(NOW), "ana", d.draft_id)
    [later] = run(store, config, NOW + timedelta(minutes=10), "Do you take PayPal?").decisions
    assert later.confidence == 0.80 and later.outcome == "review_queue"


def test_the_calibration_report(store, runner, tmp_path) -> None:
    config = outbox_config("auto")
    first = run(store, config, NOW, *["Can I pay with PayPal?"] * 3)
    for d in first.decisions[:2]:
        approve_one(store, config, FixedClock(NOW), "ana", d.draft_id)
    reject_one(store, FixedClock(NOW), "ana", first.decisions[2].draft_id, reason="no")
    result = runner.invoke(app, ["--db", store.path, "calibration", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [row] = report["intents"]
    assert (row["drafter"], row["intent"], row["drafts"]) == ("hesitant", "faq:6", 3)
    assert (row["approved_unchanged"], row["edited"], row["rejected"]) == (2, 0, 1)
    assert row["raw_confidence"] == 0.8 and row["calibrated_confidence"] == round((3.2 + 2) / 7, 3)
    [bin_] = [b for b in report["reliability"] if b["decided"]]
    assert (bin_["low"], bin_["mean_confidence"], bin_["approved_unchanged_share"]) == (0.7, 0.8, 0.667)
    assert report["expected_calibration_error"] == round(abs(0.8 - 2 / 3), 4)


def test_calibration_json_has_exactly_the_documented_keys(store, runner) -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("## Confidence learned from review"):]
    section = section[section.index("`--json` keys:"): section.index("\n## ")]
    config = outbox_config("auto")
    first = run(store, config, NOW, "Can I pay with PayPal?")
    approve_one(store, config, FixedClock(NOW), "ana", first.decisions[0].draft_id)
    report = json.loads(runner.invoke(app, ["--db", store.path, "calibration", "--json"]).output)
    nested = {"intents": set(report["intents"][0]), "reliability": set(report["reliability"][0])}
    top = set(re.findall(r"`(\w+)`", re.sub(r"\(([^)]*)\)", "", section)))
    assert set(report) == top
    for key, found in nested.items():
        documented = re.search(rf"`{key}` \(([^)]*)\)", section)
        assert documented is not None and found == set(re.findall(r"`(\w+)`", documented.group(1)))
