"""The Drafter interface and the data that crosses it.

The orchestrator (``decide/_process.py``) retrieves knowledge passages and the recent
conversation, builds one ``DraftRequest`` per event, and hands a batch to
``Drafter.draft_many``. A drafter never touches the database and never raises
for one request: a failure is a ``DraftResult`` with ``error`` set, which the
orchestrator routes to review — never a crash, never a lost event.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field


class Passage(BaseModel):
    """A knowledge entry retrieved for a message."""

    entry_id: int
    question: str
    """The entry's question that best matches the message."""
    answer: str
    score: float
    """BM25 relevance, positive, higher is better."""
    coverage: float
    """Share (0..1) of the message's content terms the entry accounts for (its questions, tags or answer)."""
    question_coverage: float = 0.0
    """Share (0..1) of the message's content terms found in the entry's questions or tags: what anchors the
    match to the entry's topic (a word only its answer mentions cannot carry a match alone)."""
    missing: list[str] = Field(default_factory=list)
    exact: bool = False
    """The message asks one of the entry's questions, word for word once analysed: that entry answers it, whatever
    else shares its words."""
    """The message's terms the entry does not account for (stems): any of them makes it ``partly_answered``."""


class HistoryItem(BaseModel):
    role: Literal["contact", "us"]
    text: str
    at: str


class DraftRequest(BaseModel):
    event_id: int
    channel: str
    contact_name: str | None = None
    inbound_text: str
    subject: str | None = None
    history: list[HistoryItem] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    template: str
    """The reply template of the contact's A/B variant (or the default): placeholders
    ``{greeting_name}``, ``{answer}``, ``{signature}``."""
    signature: str = ""
    max_chars: int = 4096


class DraftResult(BaseModel):
    text: str
    confidence: float = Field(ge=0.0, le=1.0)
    intent: str | None = None
    needs_human: bool = False
    reasons: list[str] = Field(default_factory=list)
    """Why the drafter itself wants a human (machine codes, e.g. ``no_knowledge_match``)."""
    drafter: str
    tokens: int = 0
    sources: list[int] | None = None
    """The knowledge passages (entry ids) the reply rests on; None for a reply that is no answer (a
    holding reply, the help text). The grounding gate checks them."""
    error: str | None = None
    """Set when no real draft could be made (model unavailable, budget spent)."""


class Drafter(Protocol):
    name: str

    def draft_many(self, requests: list[DraftRequest], token_budget: int | None = None) -> list[DraftResult]:
        """One result per request, in order. ``token_budget``: tokens this call may still spend."""
        ...
