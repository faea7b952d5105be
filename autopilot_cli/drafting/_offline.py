"""The offline drafter: answers from the knowledge file, no network.

The reply is the best passage's answer inside the request's template. The
confidence is computed from retrieval alone, so it means the same thing on
every run (same inputs, same decisions):

    strength   = (question_coverage + coverage) / 2
    margin     = (s1 - s2) / s1          s1, s2: BM25 of the best and runner-up entry
                                          (margin = 1 when there is no runner-up)
    confidence = min(0.99, strength × (0.5 + 0.5 × margin))

``question_coverage`` — how much of the best-matching question the message
contains; ``coverage`` — how much of the message the entry accounts for (extra
topics lower it: the answer would not address them). The margin halves the
confidence when two entries match equally well. A message that matches no
entry, or only weakly (strength < 0.3), gets a holding reply with confidence 0
and the reason ``no_knowledge_match``: a human writes that answer.
"""

from __future__ import annotations

from ._base import DraftRequest, DraftResult, Passage
from ._templates import HOLDING_ANSWER, render

WEAK_STRENGTH = 0.3


def confidence_from(passages: list[Passage]) -> tuple[float, float]:
    """(confidence, strength) for ranked passages."""
    if not passages:
        return 0.0, 0.0
    best = passages[0]
    strength = (best.question_coverage + best.coverage) / 2
    runner_up = passages[1].score if len(passages) > 1 else 0.0
    margin = (best.score - runner_up) / best.score if best.score > 0 else 0.0
    return min(0.99, round(strength * (0.5 + 0.5 * max(0.0, margin)), 3)), strength


class OfflineDrafter:
    name = "offline"

    def draft(self, request: DraftRequest) -> DraftResult:
        confidence, strength = confidence_from(request.passages)
        if strength < WEAK_STRENGTH:
            text = render(request.template, answer=HOLDING_ANSWER, name=request.contact_name,
                          signature=request.signature)
            return DraftResult(text=text, confidence=0.0, intent="unknown", needs_human=True,
                               reasons=["no_knowledge_match"], drafter=self.name)
        best = request.passages[0]
        text = render(request.template, answer=best.answer, name=request.contact_name, signature=request.signature)
        return DraftResult(text=text, confidence=confidence, intent=f"faq:{best.entry_id}", drafter=self.name)

    def draft_many(self, requests: list[DraftRequest], token_budget: int | None = None) -> list[DraftResult]:
        return [self.draft(r) for r in requests]
