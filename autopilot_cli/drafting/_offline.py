"""The offline drafter: answers from the knowledge file, no network.

The reply is the best passage's answer inside the request's template. The confidence comes from
retrieval alone, so it means the same thing on every run (same inputs, same decisions):

    coverage   share of the message's content terms the entry accounts for (questions, tags, answer)
    anchor     share found in the entry's questions or tags
    confidence = min(0.99, coverage × (0.85 + 0.15 × anchor)),  × 0.6 when the runner-up covers the
                 message as well with a BM25 score within 10 % (two entries fit: a person chooses) — unless the
                 message is one of the best entry's own questions (and not the runner-up's)

Greetings, thanks, filler and a signature are not content terms (see ``_analyser.py``), so they
never lower it. Two cases go to a person with a reason:

- ``no_knowledge_match`` (confidence 0, a holding reply): no entry is anchored in the message, or
  the best covers less than half of it;
- ``partly_answered``: the best entry leaves part of the message unanswered. (Answering two questions
  from two entries together was measured on tests/judgement/kb_dev.jsonl and left out: it answered
  "store hours" with the address too.)
"""

from __future__ import annotations

from ._base import DraftRequest, DraftResult, Passage
from ._templates import HOLDING_ANSWER, render

WEAK_COVERAGE = 0.5
TIE_SCORE = 0.9
TIE_FACTOR = 0.6


def _confidence(coverage: float, anchor: float) -> float:
    return min(0.99, round(coverage * (0.85 + 0.15 * anchor), 3))


def confidence_from(passages: list[Passage]) -> tuple[float, float]:
    """(confidence, coverage) of the best passage."""
    if not passages or passages[0].question_coverage <= 0:
        return 0.0, 0.0
    best = passages[0]
    confidence = _confidence(best.coverage, best.question_coverage)
    for other in passages[1:]:
        if best.exact and not other.exact:  # the message is one of the best entry's own questions
            break
        if other.coverage >= best.coverage and other.question_coverage > 0 and other.score >= TIE_SCORE * best.score:
            confidence = round(confidence * TIE_FACTOR, 3)
            break
    return confidence, best.coverage


class OfflineDrafter:
    name = "offline"

    def draft(self, request: DraftRequest) -> DraftResult:
        confidence, coverage = confidence_from(request.passages)
        if coverage < WEAK_COVERAGE:
            text = render(request.template, answer=HOLDING_ANSWER, name=request.contact_name,
                          signature=request.signature)
            return DraftResult(text=text, confidence=0.0, intent="unknown", needs_human=True,
                               reasons=["no_knowledge_match"], drafter=self.name)
        best = request.passages[0]
        reasons = ["partly_answered"] if best.missing else []
        text = render(request.template, answer=best.answer, name=request.contact_name, signature=request.signature)
        return DraftResult(text=text, confidence=confidence, intent=f"faq:{best.entry_id}", drafter=self.name,
                           needs_human=bool(reasons), reasons=reasons, sources=[best.entry_id])

    def draft_many(self, requests: list[DraftRequest], token_budget: int | None = None) -> list[DraftResult]:
        return [self.draft(r) for r in requests]
