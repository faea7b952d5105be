"""The offline drafter: answers from the knowledge file, no network.

The reply is the best passage's answer inside the request's template. The confidence comes from
retrieval alone, so it means the same thing on every run (same inputs, same decisions):

    coverage   share of the message's content terms the entry accounts for (questions, tags, answer)
    anchor     share found in the entry's questions or tags
    confidence = min(0.99, coverage × (0.85 + 0.15 × anchor)),  × 0.6 when the runner-up covers the
                 message as well with a BM25 score within 10 % (two entries fit: a person chooses)

Greetings, thanks, filler and a signature are not content terms (see ``_analyser.py``), so they
never lower it. Two cases go to a person with a reason:

- ``no_knowledge_match`` (confidence 0, a holding reply): no entry is anchored in the message, or
  the best covers less than half of it;
- ``partly_answered``: the best entry leaves part of the message unanswered — unless a second entry
  accounts for exactly that part and is anchored in it, in which case both answers go together
  (intent ``faq:A+B``), the confidence computed on the two entries' terms together.
"""

from __future__ import annotations

from ._base import DraftRequest, DraftResult, Passage
from ._templates import HOLDING_ANSWER, render

WEAK_COVERAGE = 0.5
COMBINE_TWO_ENTRIES = False
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
        if other.coverage >= best.coverage and other.question_coverage > 0 and other.score >= TIE_SCORE * best.score:
            confidence = round(confidence * TIE_FACTOR, 3)
            break
    return confidence, best.coverage


def _second_answer(passages: list[Passage]) -> Passage | None:
    """A runner-up that accounts for everything the best passage leaves out, and is anchored there (its
    questions or tags name part of what is left): the message asked two things, both answered."""
    best = passages[0]
    for other in passages[1:]:
        left = set(best.missing)
        if left.isdisjoint(other.missing) and left & set(other.anchors) and other.answer != best.answer:
            return other
    return None


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
        answer, intent, reasons = best.answer, f"faq:{best.entry_id}", []
        if best.missing:
            # Two questions answered by two entries could go together; measured on the labelled set
            # (tests/judgement/kb_dev.jsonl) the pairing answered "store hours" with the address too,
            # so a message the best entry leaves partly open goes to a person.
            second = _second_answer(request.passages) if COMBINE_TWO_ENTRIES else None
            if second is not None:
                answer = f"{best.answer}\n\n{second.answer}"
                intent = f"faq:{best.entry_id}+{second.entry_id}"
                anchored = len(set(best.anchors) | set(second.anchors)) / (len(best.anchors) / best.question_coverage)
                confidence = _confidence(1.0, anchored)
            else:
                reasons = ["partly_answered"]
        text = render(request.template, answer=answer, name=request.contact_name, signature=request.signature)
        cited = [int(part) for part in intent.removeprefix("faq:").split("+")]
        return DraftResult(text=text, confidence=round(confidence, 3), intent=intent, drafter=self.name,
                           needs_human=bool(reasons), reasons=reasons, sources=cited)

    def draft_many(self, requests: list[DraftRequest], token_budget: int | None = None) -> list[DraftResult]:
        return [self.draft(r) for r in requests]
