"""``autopilot eval``: the real pipeline on labelled cases, in memory, and the figures it reports."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from autopilot_cli.cli import app

KNOWLEDGE = Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml"


def shop(tmp_path: Path, mode: str = "one_click") -> Path:
    """A shop folder as `init` writes it, with the example knowledge file."""
    (tmp_path / "knowledge.toml").write_text(KNOWLEDGE.read_text())
    channels = "".join(f'[channels.{c}]\nadapter = "outbox"\n' for c in ("whatsapp", "email", "instagram", "linkedin"))
    config = tmp_path / "autopilot.toml"
    config.write_text(f'[autopilot]\nmode = "{mode}"\n[drafter]\nknowledge_file = "knowledge.toml"\n{channels}')
    return config


def cases_file(tmp_path: Path, *cases: dict) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


def run_eval(runner, config: Path, cases: Path, *extra: str):
    return runner.invoke(app, ["--config", str(config), "--db", str(config.parent / "autopilot.db"), "eval",
                               str(cases), *extra])


def test_figures_from_a_small_labelled_set(runner, tmp_path) -> None:
    config = shop(tmp_path)
    cases = cases_file(
        tmp_path,
        {"text": "how much is shiping?", "expected": "auto", "entry": 2, "tags": ["typo"]},
        {"text": "Are you open on Sunday?", "channel": "email", "expected": "auto", "entry": 0},
        {"text": "STOP", "expected": "opt_out", "tags": ["keyword"]},
        {"text": "I want a refund for my dead fern", "expected": "review"},
        {"text": "HELP", "expected": "help"},
        # Labelled by someone who wanted a person here: AUTO would send it, so precision drops.
        {"text": "Where is your shop?", "expected": "review", "tags": ["strict"]},
    )
    result = run_eval(runner, config, cases, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["cases"] == 6 and report["mode"] == "auto"  # one_click in the config: eval asks about AUTO
    assert report["confusion"]["auto"]["auto"] == 2 and report["confusion"]["review"]["auto"] == 1
    assert (report["auto_sent"], report["auto_correct"], report["auto_precision"]) == (3, 2, 0.6667)
    assert report["auto_recall"] == 1.0
    assert (report["opt_out_recall"], report["opt_out_false_positives"]) == (1.0, 0)
    assert report["per_tag"]["strict"] == {"cases": 1, "correct": 0}
    [wrong] = report["misjudged"]
    assert (wrong["line"], wrong["expected"], wrong["predicted"]) == (6, "review", "auto")


def test_an_automatic_reply_from_the_wrong_entry_is_a_wrong_send(runner, tmp_path) -> None:
    config = shop(tmp_path)
    # The payment entry answers this; the case says the pet-safety entry should have.
    cases = cases_file(tmp_path, {"text": "can I pay with PayPal?", "expected": "auto", "entry": 9})
    report = json.loads(run_eval(runner, config, cases, "--json").output)
    assert (report["auto_sent"], report["auto_correct"], report["auto_precision"]) == (1, 0, 0.0)
    [wrong] = report["misjudged"]
    assert wrong["wrong_answer"] is True and wrong["intent"] == "faq:6"


def test_targets_make_it_exit_8_with_one_line(runner, tmp_path) -> None:
    config = shop(tmp_path)
    cases = cases_file(tmp_path, {"text": "Where is your shop?", "expected": "review"},
                       {"text": "please stop messaging me", "expected": "opt_out"})
    result = run_eval(runner, config, cases, "--min-precision", "1.0")
    assert result.exit_code == 8
    assert result.stderr.strip().startswith("error: below target: auto-send precision 0.0% < 100.0%")
    assert len(result.stderr.strip().splitlines()) == 1
    assert run_eval(runner, config, cases, "--min-optout-recall", "1.0").exit_code == 0  # that one opts out


def test_eval_writes_nothing_to_the_database(runner, tmp_path) -> None:
    config = shop(tmp_path)
    assert runner.invoke(app, ["--config", str(config), "--db", str(tmp_path / "autopilot.db"), "ingest"],
                         input='{"channel": "email", "id": "m1", "from": "a@example.org", "text": "hi", '
                               '"received_at": "2026-11-25T10:00:00Z"}\n').exit_code == 0
    before = (tmp_path / "autopilot.db").read_bytes()
    cases = cases_file(tmp_path, {"text": "Are you open on Sunday?", "expected": "auto"})
    assert run_eval(runner, config, cases).exit_code == 0
    conn = sqlite3.connect(tmp_path / "autopilot.db")
    try:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0
    finally:
        conn.close()
    assert (tmp_path / "autopilot.db").read_bytes() == before


@pytest.mark.parametrize("content, message", [
    ('{"text": "hi"}\n', "cases.jsonl:1: 'expected': Field required"),
    ('{"text": "hi", "expected": "maybe"}\n', "cases.jsonl:1: 'expected': Input should be"),
    ('not json\n', "cases.jsonl:1: not JSON"),
    ('{"text": "hi", "expected": "auto", "channel": "sms"}\n', "cases.jsonl:1: unknown channel 'sms'"),
    ('\n\n', "has no cases"),
    (b'\xff\xfe', "is not UTF-8 text"),
])
def test_a_bad_cases_file_is_one_line_and_exit_5(runner, tmp_path, content, message) -> None:
    config = shop(tmp_path)
    path = tmp_path / "cases.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = run_eval(runner, config, path)
    assert result.exit_code == 5
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_missing_cases_file_is_exit_5(runner, tmp_path) -> None:
    result = run_eval(runner, shop(tmp_path), tmp_path / "nope.jsonl")
    assert result.exit_code == 5 and "cases file not found" in result.stderr


def test_eval_json_has_exactly_the_documented_keys(runner, tmp_path) -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("## Measuring judgement: `eval`"):]
    section = section[: section.index("\n## ", 5)]
    documented = section[section.index("keys:"):]
    documented = documented[: documented.index("A figure with nothing")]
    top = set(re.findall(r"`(\w+)`", re.sub(r"\([^()]*\)", "", documented)))  # each key's own (…) left out
    config = shop(tmp_path)
    report = json.loads(run_eval(runner, config, cases_file(tmp_path, {"text": "STOP", "expected": "opt_out"}),
                                 "--json").output)
    assert set(report) == top
    misjudged = set(re.findall(r"`(\w+)`", documented[documented.index("`misjudged` ("):].split(")")[0]))
    report = json.loads(run_eval(runner, config, cases_file(tmp_path, {"text": "STOP", "expected": "auto"}),
                                 "--json").output)
    assert set(report["misjudged"][0]) == misjudged - {"misjudged"}


def test_a_knowledge_file_in_an_unsupported_language_is_one_line_and_exit_3(runner, tmp_path) -> None:
    config = shop(tmp_path)
    knowledge = tmp_path / "knowledge.toml"
    knowledge.write_text('language = "xx"\n' + knowledge.read_text())
    result = run_eval(runner, config, cases_file(tmp_path, {"text": "STOP", "expected": "opt_out"}))
    assert result.exit_code == 3
    assert "'language': Value error, unsupported language 'xx'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_words_that_kept_answerable_cases_from_auto_are_counted(runner, tmp_path) -> None:
    config = shop(tmp_path)
    cases = cases_file(
        tmp_path,
        {"text": "how much is shipping for my terrarium?", "expected": "auto", "entry": 2},
        {"text": "is shipping free for a terrarium?", "expected": "auto", "entry": 2},
        {"text": "when are you open? my terrarium broke", "expected": "review"},  # judged right: not counted
    )
    report = json.loads(run_eval(runner, config, cases, "--json").output)
    assert report["uncovered_words"] == {"terrarium": 2}
    shown = run_eval(runner, config, cases)
    assert "terrarium (2)" in shown.output
