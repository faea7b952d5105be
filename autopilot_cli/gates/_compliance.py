"""Compliance gate: topics that always need a human, in the message or the draft.

Money, contracts, legal questions and account security are where an automatic
answer can create an obligation (a promised refund, a quoted price, a
"guarantee") or a security hole (a password reset handled by a bot). So when
a configured topic is mentioned by the customer *or* by the draft, the draft
goes to review (reason ``compliance:<topic>``; the detail says where it was).

Matching (NFKC, casefolded, curly apostrophes straightened, invisible format
characters dropped):

* A topic word matches as a whole word with simple English inflections:
  ``refund`` → refunds/refunded/refunding, ``price`` → prices/priced/pricing,
  ``cancel`` → cancels/cancelled/canceled/cancelling. Word boundaries keep
  "priceless", "legalize", "contractor" and "passport" out.
* A multi-word topic matches its words in order with up to two words in
  between: "cancel subscription" matches "cancel my subscription" and
  "cancelling the subscription", not "cancel the order, and my subscription".
* The default topics carry a small synonyms table (``_SYNONYMS``) for the
  words customers actually use: money back/"return the money"/reimburse/
  chargeback (refund),
  pricey (price), coupon/promo code (discount), contractual (contract),
  lawyer/attorney/solicitor/lawsuit/suing/"sue you"/illegal (legal — bare
  "sue" is left out: it is also a first name), warranty (guarantee),
  passcode/login details (password), cancellation of/terminate/stop my
  subscription (cancel subscription). Topics added in the config get the
  inflections only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from ..textnorm import fold
from ._result import GateResult, found_where

DEFAULT_TOPICS = ("refund", "price", "discount", "contract", "legal", "guarantee", "password", "cancel subscription")

_GAP = r"\W+(?:\w+(?:'\w+)*\W+){0,2}?"
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "refund": (r"(?:non-?)?refundable", r"reimburse(?:s|d|ments?)?", r"reimbursing", r"money\s+back",
               r"(?:return|give\s+back|send\s+back|pay\s+back)\s+(?:me\s+)?(?:the|my|our)\s+money", r"charge-?backs?"),
    "price": (r"pricey",),
    "discount": (r"coupons?", r"promo(?:tion(?:al)?)?\s+codes?"),
    "contract": (r"contractual(?:ly)?",),
    "legal": (r"legally", r"illegal(?:ly)?", r"lawyers?", r"attorneys?", r"solicitors?", r"lawsuits?",
              r"su(?:e|ing)\s+(?:you|your|the|them|him|her|us)", r"suing", r"sued"),
    "guarantee": (r"warrant(?:y|ies)",),
    "password": (r"passcodes?", r"passphrases?", r"log-?in\s+(?:details|credentials)"),
    "cancel subscription": (rf"cancell?ations?{_GAP}subscriptions?", r"subscriptions?\W+cancell?ations?",
                            rf"(?:terminat(?:e|ing)|stop(?:ping)?){_GAP}subscriptions?"),
}


def _norm(text: str) -> str:
    return fold(text)


def _topic_key(topic: str) -> str:
    return " ".join(_norm(topic).split())


def _forms(word: str) -> str:
    """A regex for one word and its simple inflections."""
    if not word.isalpha() or len(word) < 3:
        return re.escape(word)
    if word.endswith("ee"):
        return re.escape(word) + "(?:s|d|ing)?"
    if word.endswith("e"):
        return re.escape(word[:-1]) + "(?:e|es|ed|ing)"
    if word.endswith("y") and word[-2] not in "aeiou":
        return re.escape(word[:-1]) + "(?:y|ies|ied|ying)"
    last = word[-1]
    doubled = f"|{re.escape(last)}(?:ed|ing)" if last in "bdglmnprt" and word[-2] in "aeiou" else ""
    return re.escape(word) + f"(?:s|es|ed|ing{doubled})?"


@lru_cache(maxsize=256)
def _pattern(key: str) -> re.Pattern[str]:
    words = [w for w in re.split(r"[\s-]+", key) if w]
    phrase = _GAP.join(_forms(w) for w in words)
    alternatives = (phrase, *_SYNONYMS.get(key, ()))
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


def topic_keys(topics: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for k in (_topic_key(t) for t in topics if isinstance(t, str)) if k))


def check_compliance(inbound: str, draft: str, topics: Sequence[str],
                     inbound_topics: frozenset[str] | None = None) -> GateResult:
    """Fail when any topic is mentioned in the inbound message or the draft.

    ``inbound_topics``: ``mentioned_topics(inbound, topic_keys(topics))`` when already known."""
    keys = topic_keys(topics)
    if inbound_topics is None:
        inbound_topics = mentioned_topics(inbound or "", keys)
    found = found_where(keys, inbound_topics, mentioned_topics(draft or "", keys))
    if not found:
        return GateResult("compliance", True, (), "No compliance topic was mentioned.")
    return GateResult("compliance", False, tuple(f"compliance:{key}" for key, _ in found),
                      "Topics that need a human: " + ", ".join(f"{key} (in {where})" for key, where in found) + ".")


@lru_cache(maxsize=4096)  # drafts repeat across a run: each distinct text is scanned once
def mentioned_topics(text: str, keys: tuple[str, ...]) -> frozenset[str]:
    folded = _norm(text)
    return frozenset(key for key in keys if _pattern(key).search(folded))
