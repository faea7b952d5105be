"""Opt-out judged on labelled sets written apart from the rules (tests/judgement/optout_*.jsonl).

``optout_dev.jsonl`` (774 messages in seven languages: 359 opt-outs — polite, angry, misspelt, run
together, keyword plus complaint, erase my data, first person, emoji, a stop with a question — and
353 tricky look-alikes, plus opt-ins and help requests) is what the rules were developed against.
``optout_holdout.jsonl`` (303 messages) was written afterwards, by the same brief but other wording,
and is only measured: its figures say how the rules do on messages nobody tuned them for. Run with
``-s`` to print the figures; the README and the issue's closing note quote them.
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


@pytest.mark.parametrize("languages", [SUPPORTED_LANGUAGES, ("en",)])
def test_holdout_set_floor(languages: tuple[str, ...]) -> None:
    """Not tuned on: a floor under today's figures (recall 79.9 %, false positives 1.8 % with every
    language; see the README), so that a change that generalises worse fails here."""
    figures = measure("optout_holdout.jsonl", languages)
    if len(languages) > 1:
        assert figures["opt_out_recall"] >= 0.78
    assert figures["opt_out_missed"] <= (0.20 if len(languages) == 1 else 0.18)
    assert figures["false_positive_rate"] <= 0.025


def test_fresh_set_floor() -> None:
    """optout_fresh.jsonl (285 messages) was written by another helper after every change of this issue,
    measured once: recall 89.0 %, false opt-outs 0.7 % with every language. Its one "opt-in" among the
    look-alikes ("…clicked unsubscribe by accident, can you add me back?") is rightly one: that set was
    labelled opt_out / none only."""
    figures = measure("optout_fresh.jsonl", SUPPORTED_LANGUAGES)
    assert figures["opt_out_recall"] >= 0.88 and figures["false_positive_rate"] <= 0.01
