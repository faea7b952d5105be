"""The figures of an evaluation: a confusion matrix and what an operator decides AUTO on.

- **auto-send precision**: of the replies that would go out on their own, the share a person would
  have sent — the case expected ``auto`` *and*, when the case names its entry, answered from it;
- **auto-send recall**: of the cases expected ``auto``, the share sent correctly on their own;
- **opt-out recall** and **false positives**: cases expected ``opt_out`` that opted the contact out,
  and cases expected otherwise that did (a count and a share of those cases).

A figure with nothing to measure (no automatic reply, no opt-out case) is ``None``, shown as n/a.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ._cases import LABELS

UNCOVERED = 30
PREDICTED: tuple[str, ...] = (*LABELS, "skip")
"""What a case can get: the expected labels, and ``skip`` (no reply and no review: a loop guard)."""


class Misjudged(BaseModel):
    line: int
    text: str
    channel: str
    expected: str
    predicted: str
    wrong_answer: bool = False
    """Sent on its own, as expected, but with another entry's answer than the case names."""
    confidence: float | None = None
    intent: str | None = None
    reasons: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class TagFigures(BaseModel):
    cases: int = 0
    correct: int = 0


class EvalReport(BaseModel):
    """``autopilot eval --json``: these keys, stable."""

    cases: int = 0
    mode: str = "auto"
    """Evaluated as AUTO would decide, whatever the config's mode (that is the question eval answers)."""
    threshold: float = 0.0
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)
    """expected → predicted → cases."""
    correct: int = 0
    auto_sent: int = 0
    auto_correct: int = 0
    auto_expected: int = 0
    auto_precision: float | None = None
    auto_recall: float | None = None
    opt_out_expected: int = 0
    opt_out_recall: float | None = None
    opt_out_false_positives: int = 0
    opt_out_false_positive_rate: float | None = None
    per_tag: dict[str, TagFigures] = Field(default_factory=dict)
    misjudged: list[Misjudged] = Field(default_factory=list)
    uncovered_words: dict[str, int] = Field(default_factory=dict)
    """Words of cases expected ``auto`` but sent to review that the best knowledge entry does not
    account for, most frequent first (as the analyser counts them: stemmed): what to add as ``tags``."""

    def add(self, *, expected: str, predicted: str, right_answer: bool, tags: list[str]) -> bool:
        """Count one case; whether it was judged right."""
        self.cases += 1
        row = self.confusion.setdefault(expected, dict.fromkeys(PREDICTED, 0))
        row[predicted] += 1
        ok = predicted == expected and (predicted != "auto" or right_answer)
        self.correct += ok
        if predicted == "auto":
            self.auto_sent += 1
            self.auto_correct += ok
        self.auto_expected += expected == "auto"
        self.opt_out_expected += expected == "opt_out"
        for tag in tags:
            figures = self.per_tag.setdefault(tag, TagFigures())
            figures.cases += 1
            figures.correct += ok
        return ok

    def finish(self) -> None:
        self.confusion = {label: self.confusion.get(label, dict.fromkeys(PREDICTED, 0)) for label in LABELS}
        self.auto_precision = _share(self.auto_correct, self.auto_sent)
        self.auto_recall = _share(self.auto_correct, self.auto_expected)
        opted = self.confusion["opt_out"]["opt_out"]
        self.opt_out_recall = _share(opted, self.opt_out_expected)
        self.opt_out_false_positives = sum(row["opt_out"] for label, row in self.confusion.items()
                                           if label != "opt_out")
        self.opt_out_false_positive_rate = _share(self.opt_out_false_positives, self.cases - self.opt_out_expected)
        self.per_tag = dict(sorted(self.per_tag.items()))
        self.uncovered_words = dict(sorted(self.uncovered_words.items(), key=lambda kv: (-kv[1], kv[0]))[:UNCOVERED])


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
