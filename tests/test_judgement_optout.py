"""Opt-out judged on labelled sets written apart from the rules (tests/judgement/optout_*.jsonl).

``optout_dev.jsonl`` (774 messages in seven languages: 359 opt-outs — polite, angry, misspelt, run
together, keyword plus complaint, erase my data, first person, emoji, a stop with a question — and
353 tricky look-alikes, plus opt-ins and help requests) is what the rules were developed against.
``optout_holdout.jsonl`` (303 messages) was written afterwards, by the same brief but other wording,
and is only measured: its figures say how the rules do on messages nobody tuned them for. Run with
``-s`` to print the figures; the README and the issue's closing note quote them.

A fourth session of this issue studied the misses of ``optout_holdout.jsonl`` and ``optout_fresh.jsonl``
(both measured before) and widened the rules by kind — the negation built into "I don't want", passive
"be contacted", "no more" only about messages ("keine Fragen mehr" is no opt-out), "I said STOP", verbs of
stopping alone in Spanish and Portuguese, every word a stop keyword ("STOPP 🛑"), a list of something
else ("the pickup list"). Those two sets are development sets since. ``optout_fresh2.jsonl`` (352
messages, written by another helper in the meantime from the brief alone) was measured once afterwards:
recall 92.9 %, false opt-outs 3.9 % (6 of 155; "stop sending me the wrong plant" is one) — the figure for
messages nobody tuned for. The rules before that session scored 87.8 % and 4.5 % on it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from autopilot_cli.contacts._optout import classify_consent
from autopilot_cli.textnorm import SUPPORTED_LANGUAGES

HERE = Path(__file__).parent / "judgement"


def measure(name: str, languages: tuple[str, ...]) -> dict[str, float]:
    rows = [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    got: Counter[tuple[str, str]] = Counter()
    for row in rows:
        signal = classify_consent(row["text"], languages)
        got[(row["expected"], signal.action if signal else "none")] += 1
    opt_outs = sum(n for (expected, _), n in got.items() if expected == "opt_out")
    others = len(rows) - opt_outs
    figures = {
        "opt_out_recall": got[("opt_out", "opt_out")] / opt_outs,
        # an opt-out nobody sees: neither opted out nor sent to a person as a possible one
        "opt_out_missed": got[("opt_out", "none")] / opt_outs,
        "false_positive_rate": sum(n for (e, a), n in got.items() if e != "opt_out" and a == "opt_out") / others,
    }
    print(f"\n{name} with {','.join(languages)}: " + ", ".join(f"{k} {v:.1%}" for k, v in figures.items()))
    return figures


def test_the_sets_are_big_enough_and_cover_every_language() -> None:
    for name, least in (("optout_dev.jsonl", 300), ("optout_holdout.jsonl", 100)):
        rows = [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line]
        kinds = Counter(r["expected"] for r in rows)
        assert kinds["opt_out"] >= least and kinds["none"] >= least, (name, kinds)
        assert {r["lang"] for r in rows} == set(SUPPORTED_LANGUAGES)


def test_development_set_with_every_language_configured() -> None:
    figures = measure("optout_dev.jsonl", SUPPORTED_LANGUAGES)
    assert figures["opt_out_recall"] >= 0.99
    assert figures["false_positive_rate"] <= 0.01


def test_development_set_with_english_only() -> None:
    # Other languages' phrases are not switched on: they reach a person as possible opt-outs.
    figures = measure("optout_dev.jsonl", ("en",))
    assert figures["opt_out_missed"] <= 0.01
    assert figures["false_positive_rate"] <= 0.01


@pytest.mark.parametrize("name", ["optout_holdout.jsonl", "optout_fresh.jsonl"])
def test_sets_studied_this_session(name: str) -> None:
    figures = measure(name, SUPPORTED_LANGUAGES)
    assert figures["opt_out_recall"] >= 0.99 and figures["false_positive_rate"] == 0
    # English only: every other language's opt-out still reaches a person (possible_opt_out).
    assert measure(name, ("en",))["opt_out_missed"] <= 0.01


def test_unseen_set_floor() -> None:
    """optout_fresh2.jsonl, measured once after the last change: floors under those figures, so that a
    change that generalises worse fails here."""
    figures = measure("optout_fresh2.jsonl", SUPPORTED_LANGUAGES)
    assert figures["opt_out_recall"] >= 0.92 and figures["false_positive_rate"] <= 0.04
    assert measure("optout_fresh2.jsonl", ("en",))["opt_out_missed"] <= 0.07
