"""The knowledge file and the retriever over it.

The knowledge file is TOML with ``[[faq]]`` tables: ``questions = [...]``, ``answer = "..."``,
optional ``tags = [...]`` (more words customers use for the same thing). ``KnowledgeIndex`` is the
``Retriever`` the drafters use: it ranks entries by BM25 over the terms of one ``Analyser`` (the
questions weigh 3, tags 2, the answer 1) and measures, for each passage, how much of the message
the entry accounts for:

- ``coverage``: the share of the message's content terms found anywhere in the entry — its
  questions, its tags or its answer ("open on Monday" is covered by an answer listing Monday's
  hours);
- ``question_coverage``: the share found in its questions or tags. A match needs at least one such
  anchor: a word that only the answer mentions ("Monstera", in the answer on pet safety) does not
  make a message about it a question this entry answers.

The knowledge file stays the single source of truth; the index is rebuilt from it in milliseconds.
"""

from __future__ import annotations

import math
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from ._analyser import LANGUAGES, Analyser
from ._base import Passage

QUESTION_WEIGHT, TAG_WEIGHT, ANSWER_WEIGHT = 3.0, 2.0, 1.0
_K1, _B = 1.2, 0.75  # BM25's usual constants


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[str] = Field(min_length=1)
    answer: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)

    @field_validator("questions")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not q.strip() for q in value):
            raise ValueError("questions must not be empty strings")
        return value


class KnowledgeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = "en"
    """The language the entries are written in: its stemmer analyses them and the messages."""

    @field_validator("language")
    @classmethod
    def _stemmed_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"unsupported language {value!r}; supported: {', '.join(LANGUAGES)}")
        return value
    faq: list[FaqEntry] = Field(default_factory=list)


def load_knowledge(path: Path) -> KnowledgeFile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"knowledge file not found: {path} (drafter.knowledge_file)") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"knowledge file {path} is not valid TOML ({exc})") from None
    try:
        return KnowledgeFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"knowledge file {path}: '{where}': {err['msg']}") from None


class Retriever(Protocol):
    """What drafters and the process run need from a knowledge source: the best passages for a
    message, each with how much of the message it accounts for. A semantic retriever can take this
    place without touching the callers."""

    def search(self, text: str, limit: int = 3, ignore: Iterable[str] = ()) -> list[Passage]: ...


class _Entry:
    __slots__ = ("anchors", "everything", "question_terms", "weights", "length")

    def __init__(self, analyser: Analyser, entry: FaqEntry) -> None:
        self.question_terms = [set(analyser.terms(q)) for q in entry.questions]
        tags = set(analyser.terms(" ".join(entry.tags)))
        answer = analyser.terms(entry.answer)
        self.anchors = set().union(*self.question_terms) | tags
        self.everything = self.anchors | set(answer)
        weights: dict[str, float] = defaultdict(float)
        for q in entry.questions:
            for term in analyser.terms(q):
                weights[term] += QUESTION_WEIGHT
        for term in tags:
            weights[term] += TAG_WEIGHT
        for term in answer:
            weights[term] += ANSWER_WEIGHT
        self.weights = weights
        self.length = sum(weights.values())


class KnowledgeIndex:
    """The knowledge file's retriever (see the module docstring)."""

    def __init__(self, knowledge: KnowledgeFile) -> None:
        self.knowledge = knowledge  # kept so a worker process can build the same index
        self.entries = knowledge.faq
        self.analyser = Analyser(knowledge.language)
        self.analyser.learn(text for e in self.entries for text in (*e.questions, *e.tags, e.answer))
        self._entries = [_Entry(self.analyser, e) for e in self.entries]
        n = len(self._entries)
        df: Counter[str] = Counter(t for e in self._entries for t in e.weights)
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._avg_length = (sum(e.length for e in self._entries) / n) if n else 1.0
        # Which entries ask exactly these terms: one lookup per search instead of a pass over every question.
        self._asked: dict[frozenset[str], set[int]] = defaultdict(set)
        for i, entry in enumerate(self._entries):
            for question in entry.question_terms:
                self._asked[frozenset(question)].add(i)

    @classmethod
    def from_file(cls, path: Path) -> KnowledgeIndex:
        return cls(load_knowledge(path))

    def search(self, text: str, limit: int = 3, ignore: Iterable[str] = ()) -> list[Passage]:
        terms = self.analyser.query_terms(text, ignore)
        if not terms or not self._entries or self.analyser.vague(terms):
            return []
        scored = []
        for i, entry in enumerate(self._entries):
            score = 0.0
            norm = _K1 * (1 - _B + _B * entry.length / self._avg_length)
            for term in terms:
                tf = entry.weights.get(term)
                if tf:
                    score += self._idf[term] * tf * (_K1 + 1) / (tf + norm)
            if score > 0:
                scored.append((score, i))
        query = set(terms)
        exact = self._asked.get(frozenset(query), set())
        scored.sort(key=lambda s: (s[1] not in exact, -s[0], s[1]))
        passages = []
        for score, i in scored[:limit]:
            entry, faq = self._entries[i], self.entries[i]
            best_q = max(range(len(faq.questions)), key=lambda q: len(entry.question_terms[q] & query))
            passages.append(Passage(
                entry_id=i,
                question=faq.questions[best_q],
                answer=faq.answer,
                score=round(score, 6),
                coverage=round(len(query & entry.everything) / len(query), 6),
                question_coverage=round(len(query & entry.anchors) / len(query), 6),
                missing=[t for t in terms if t not in entry.everything],
                exact=i in exact,
            ))
        return passages
