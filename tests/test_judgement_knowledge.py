"""Auto vs. review judged on knowledge files with labelled messages written apart from the rules
(tests/judgement/): questions the file answers, in customers' words; others; attacks; consent.
``autopilot eval`` does the measuring, as an operator would. Run with ``-s``.

- the example plant shop (autopilot_cli/templates/knowledge.toml): ``kb_dev.jsonl`` (473, the rules
  were developed on it), ``kb_holdout.jsonl`` (255) and ``kb_fresh.jsonl`` (197), measured before and
  looked at since; ``kb_fresh2.jsonl`` (209), written by a helper from the knowledge file alone and
  measured once after the last change of the analyser;
- a second business, a bike repair and rental shop whose knowledge file the same helper wrote
  (``bikes_knowledge.toml``, ``bikes_cases.jsonl``, 271): its wrong automatic replies at the start
  of the fourth session showed that keeping only a message's question sentences loses what they point
  at ("My e-bike has a Panasonic motor. Can you service it?"), so it is a development set since.

Precision holds at 100 % on every set but the old holdout (one: "Is the shop dog-friendly?" gets the
pet-safety answer); on the unseen kb_fresh2 too (37/37, where the rules before that session sent 4
wrong of 49). Recall is far below the issue's 85 %: a word the knowledge file does not know
keeps a message from AUTO, and a quarter of such words change the answer (measured: ignoring them
reaches 64–80 % recall at 74–78 % precision). The floors below are today's figures, so that a change
that makes them worse fails; they are no claim that the recall target is met.
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


def evaluate(name: str, knowledge: Path = KNOWLEDGE) -> EvalReport:
    services = Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(knowledge))
    report = evaluate_cases(None, config_from_dict({}), FixedClock(NOW), services, load_cases(HERE / name))
    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    print(f"\n{name}: {report.cases} cases, auto-send precision {share(report.auto_precision)} "
          f"({report.auto_correct}/{report.auto_sent}), recall {share(report.auto_recall)} of {report.auto_expected}, "
          f"opt-out recall {share(report.opt_out_recall)}, false opt-outs {report.opt_out_false_positives}")
    return report


BIKES = HERE / "bikes_knowledge.toml"


@pytest.mark.parametrize("name, knowledge, floor_recall", [
    ("kb_dev.jsonl", KNOWLEDGE, 0.37),
    ("kb_fresh.jsonl", KNOWLEDGE, 0.55),
    ("bikes_cases.jsonl", BIKES, 0.38),
    # Never studied, measured after each change of the analyser: the figure for messages nobody tuned for.
    ("kb_fresh2.jsonl", KNOWLEDGE, 0.33),
])
def test_no_automatic_reply_a_person_would_not_send(name: str, knowledge: Path, floor_recall: float) -> None:
    report = evaluate(name, knowledge)
    assert report.auto_precision == 1.0
    assert report.auto_recall is not None and report.auto_recall >= floor_recall
    if name == "kb_dev.jsonl":
        assert report.opt_out_recall == 1.0 and report.opt_out_false_positives == 0


def test_old_holdout_floor() -> None:
    report = evaluate("kb_holdout.jsonl")
    assert report.auto_precision is not None and report.auto_precision >= 0.97  # 34/35
    assert report.auto_recall is not None and report.auto_recall >= 0.25
    assert report.opt_out_false_positives == 0
