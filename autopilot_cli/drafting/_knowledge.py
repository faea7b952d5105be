"""The knowledge file and its full-text index.

The knowledge file is TOML with ``[[faq]]`` tables: ``questions = [...]``,
``answer = "..."``, optional ``tags = [...]``. It is indexed in an in-memory
SQLite FTS5 table (porter stemming, diacritics folded) — small, rebuilt in
milliseconds, and it keeps the knowledge file the single source of truth.

``search()`` returns passages ranked by BM25 over questions (weight 3) and
answers (weight 1), each with its *coverage*: the share of the message's
content words (stemmed, stop words removed) that appear in the entry's
questions or tags. Answers are left out of coverage on purpose: an answer's
incidental words say little about whether the customer asked that question. The
offline drafter turns these into a confidence (see ``drafting/_offline.py``).
"""

from __future__ import annotations

import re
import sqlite3
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from ..textnorm import fold, strip_accents
from ._base import Passage

# Words that carry no topic. Greetings and politeness are included: "Hi! …
# thanks" must not dilute how well a question is covered.
STOP_WORDS = frozenset(
    """a an the and or but if of to in on at for from by with about into over is are was were be been
    am do does did doing have has had i me my mine we us our you your yours he she it its they them their
    this that these those what which who whom whose when where why how can could would should will shall
    may might must there here not no yes so too very just also any some all please thanks thank hi hello
    hey dear hallo regards best cheers ok okay im i'm it's its let get got tell know like want need would
    much many more most one ever still""".split()
)

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


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


def _fold(text: str) -> str:
    return strip_accents(fold(text))


def _stem(word: str) -> str:
    # A light suffix stripper, enough to match "opening"/"open", "ships"/"ship".
    for suffix in ("ings", "ing", "ies", "ied", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return word


def content_words(text: str) -> list[str]:
    """Folded, de-duplicated content words (stop words removed) in order of appearance."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(_fold(text)):
        if word not in STOP_WORDS and len(word) >= 2:
            seen.setdefault(word.replace("'", ""), None)
    return list(seen)


def content_terms(text: str) -> list[str]:
    """Stemmed content words, for measuring coverage."""
    return list(dict.fromkeys(_stem(w) for w in content_words(text)))


class KnowledgeIndex:
    def __init__(self, knowledge: KnowledgeFile) -> None:
        self.knowledge = knowledge  # kept so a worker process can build the same index
        self.entries = knowledge.faq
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute(
            "CREATE VIRTUAL TABLE kb USING fts5(questions, answer, tokenize='porter unicode61 remove_diacritics 2')"
        )
        self._terms: list[set[str]] = []
        self._question_terms: list[list[set[str]]] = []
        for i, entry in enumerate(self.entries):
            self._conn.execute(
                "INSERT INTO kb (rowid, questions, answer) VALUES (?, ?, ?)",
                (i, "\n".join(entry.questions), entry.answer),
            )
            q_terms = [set(content_terms(q)) for q in entry.questions]
            self._question_terms.append(q_terms)
            self._terms.append(set().union(*q_terms) | set(content_terms(" ".join(entry.tags))))

    @classmethod
    def from_file(cls, path: Path) -> KnowledgeIndex:
        return cls(load_knowledge(path))

    def search(self, text: str, limit: int = 3) -> list[Passage]:
        words = content_words(text)
        terms = {_stem(w) for w in words}
        if not words or not self.entries:
            return []
        # FTS5 stems the query words itself (porter); quoting keeps user text
        # from being read as FTS query syntax.
        query = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
        rows = self._conn.execute(
            "SELECT rowid, -bm25(kb, 3.0, 1.0) AS score FROM kb WHERE kb MATCH ? ORDER BY score DESC LIMIT ?",
            (query, limit),
        ).fetchall()
        passages = []
        for rowid, score in rows:
            entry = self.entries[rowid]
            q_cover = [
                len(q & terms) / len(q) if q else 0.0 for q in self._question_terms[rowid]
            ]
            best_q = max(range(len(q_cover)), key=q_cover.__getitem__)
            coverage = len(terms & self._terms[rowid]) / len(terms)
            passages.append(
                Passage(
                    entry_id=rowid,
                    question=entry.questions[best_q],
                    answer=entry.answer,
                    score=round(float(score), 6),
                    coverage=round(coverage, 6),
                    question_coverage=round(q_cover[best_q], 6),
                )
            )
        return passages
