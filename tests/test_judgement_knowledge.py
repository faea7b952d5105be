"""Auto vs. review judged on the example shop's knowledge file (autopilot_cli/templates/knowledge.toml)
with labelled messages written apart from the rules (tests/judgement/kb_*.jsonl: questions the file
answers, in customers' words; others; attacks; consent). Development set: 473 messages; holdout: 255,
only measured. ``autopilot eval`` does the measuring, as an operator would. Run with ``-s``.

These figures are far from the issue's targets (85 % of answerable questions sent automatically at
100 % precision): the offline drafter's coverage rule sends most answerable questions to review, and on
the holdout set some automatic replies are wrong. The floors below are today's figures, so that a change
that makes them worse fails; they are no claim that the targets are met.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autopilot_cli.clock import FixedClock
from autopilot_cli.config import config_from_dict
from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter, Services
from autopilot_cli.evaluation import EvalReport, evaluate_cases, load_cases

from .conftest import NOW

HERE = Path(__file__).parent / "judgement"
KNOWLEDGE = Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml"


def evaluate(name: str) -> EvalReport:
    services = Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(KNOWLEDGE))
    report = evaluate_cases(None, config_from_dict({}), FixedClock(NOW), services, load_cases(HERE / name))
    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    print(f"\n{name}: {report.cases} cases, auto-send precision {share(report.auto_precision)} "
          f"({report.auto_correct}/{report.auto_sent}), recall {share(report.auto_recall)} of {report.auto_expected}, "
          f"opt-out recall {share(report.opt_out_recall)}, false opt-outs {report.opt_out_false_positives}")
    return report


def test_development_set() -> None:
    report = evaluate("kb_dev.jsonl")
    assert report.auto_precision == 1.0  # no automatic reply a person would not send
    assert report.auto_recall is not None and report.auto_recall >= 0.41
    assert report.opt_out_recall == 1.0 and report.opt_out_false_positives == 0


@pytest.mark.parametrize("name, floor_precision, floor_recall", [
    ("kb_holdout.jsonl", 0.87, 0.25),
    # Written by another helper after every change of this issue, from the knowledge file alone; measured once.
    ("kb_fresh.jsonl", 1.0, 0.55),
])
def test_unseen_sets_floor(name: str, floor_precision: float, floor_recall: float) -> None:
    report = evaluate(name)
    assert report.auto_precision is not None and report.auto_precision >= floor_precision
    assert report.auto_recall is not None and report.auto_recall >= floor_recall
    # kb_fresh was labelled auto/review only: its "Please unsubscribe me from your newsletter." (review) is
    # rightly an opt-out, so opt-out figures are judged on the holdout set alone.
    if name == "kb_holdout.jsonl":
        assert report.opt_out_false_positives == 0
