"""What the analyser knows about a language beyond its stemmer: words customers use for one thing in any
shop (``synonyms``) and words that never change which answer fits (``incidental``).

Data, not code: ``lexicon/<language>.toml``, shipped with the package and written apart from the
labelled sets that measure it (tests/judgement/). A shop adds its own words as ``tags`` in the
knowledge file; this file holds what is true for every shop:

    [[synonyms]]
    words = ["price", "cost", "fee"]      # the first is the one the others become

    [incidental]
    words = ["mum", "colleague", ...]     # who, why and when around a question, never what is asked

    [vague]
    words = ["order", "question", ...]    # too general to be a question on their own

Synonyms are compared by their Snowball stem, so "sending" and "shipped" meet; incidental words as written
(or with a plural "s": "friends", "mum's"), since by stem "lately" would make "late" incidental; phrases
("gift card", "web shop") are replaced in the folded text before it is split into words.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import resources

from ..textnorm import fold, strip_accents


class Lexicon:
    __slots__ = ("_canonical", "incidental", "phrases", "synonyms", "vague", "variants")

    def __init__(self, groups: Sequence[Sequence[str]], incidental: Sequence[str], stem: Callable[[str], str],
                 vague: Sequence[str]) -> None:
        phrases: list[tuple[str, str]] = []
        self.synonyms: dict[str, str] = {}
        # Every single word the lexicon names: known words, so a typo of one is corrected towards it and the
        # word itself is never "corrected" into a knowledge-file word ("sister" is not a typo of "sitter").
        self.variants: list[str] = []
        for group in groups:
            words = [_fold(w) for w in group if w.strip()]
            if len(words) < 2:
                continue
            canonical = words[0]
            for variant in words[1:]:
                if " " in variant or "-" in variant or " " in canonical:
                    phrases.append((variant, canonical))
                else:
                    self.synonyms.setdefault(stem(variant), stem(canonical))
                    self.variants.append(variant)
        # One pattern, longest variant first, so "online shop" wins over "shop" where both start. A phrase becomes
        # one word ("pick up", "collect" → "pickup"): one thing is one term, however many words name it.
        phrases.sort(key=lambda p: -len(p[0]))
        self._canonical = {_key(v): c.replace(" ", "").replace("-", "") for v, c in reversed(phrases)}
        alternatives = [r"[\s-]?".join(map(re.escape, re.split(r"[\s-]+", v))) for v, _ in phrases]
        self.phrases = re.compile(r"\b(?:" + "|".join(alternatives) + r")s?\b") if alternatives else None
        words = [_fold(w) for w in incidental if w.strip() and " " not in w.strip()]
        # As written, or with a plural or possessive "s": by stem, "lately" would make "late" incidental.
        self.incidental = frozenset(words) | {w + "s" for w in words} | {w + "es" for w in words}
        self.variants += words
        stems = {stem(_fold(w)) for w in vague if w.strip()}
        self.vague = frozenset(self.synonyms.get(s, s) for s in stems)

    def replace_phrases(self, folded: str) -> str:
        if self.phrases is None:
            return folded
        return self.phrases.sub(self._replace, folded)

    def _replace(self, match: re.Match[str]) -> str:
        key = _key(match.group(0))
        canonical = self._canonical.get(key) or self._canonical.get(key[:-1])  # a plural "s"
        return f" {canonical} " if canonical else match.group(0)


def _key(phrase: str) -> str:
    return re.sub(r"[\s-]+", "", phrase)


def _fold(text: str) -> str:
    return " ".join(strip_accents(fold(text)).split())


@lru_cache(maxsize=16)
def _data(language: str) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...], tuple[str, ...]]:
    source = resources.files("autopilot_cli.drafting").joinpath("lexicon", f"{language}.toml")
    if not source.is_file():
        return (), (), ()
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    groups = tuple(tuple(g.get("words", [])) for g in data.get("synonyms", []))
    return (groups, tuple(data.get("incidental", {}).get("words", [])),
            tuple(data.get("vague", {}).get("words", [])))


def load_lexicon(language: str, stem: Callable[[str], str]) -> Lexicon:
    """The shipped lexicon of ``language`` (empty when there is none)."""
    groups, incidental, vague = _data(language)
    return Lexicon(groups, incidental, stem, vague)
