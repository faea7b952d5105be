"""Grounding gate: a model's reply says only what its sources say.

The model drafter returns, with its reply, the ids of the knowledge passages it relied on
(``sources``). Before anything is sent on its own this gate checks (reason ``grounding:<rule>``):

* ``no_source`` — the reply cites no passage. It may be a fine small-talk answer, but a reply that
  rests on nothing the shop wrote is never sent automatically;
* ``unknown_source`` — it cites a passage that was not offered (a made-up id);
* ``off_topic`` — none of the cited passages answers what the message asks: none accounts for half of
  its words with one of them among the entry's questions or tags (the retriever's coverage) — a model
  that obliges a request for a poem, a joke or a price cites some passage, but not one that answers it;
* ``number``, ``url``, ``email_address``, ``phone`` — a number (price, time, date, quantity), a URL, an
  e-mail address or a phone number in the reply that appears in none of the cited passages, the
  customer's message or the reply template. Numbers are compared as written with ``,``/``.``/``:``
  treated alike ("4,90" = "4.90", "9:00" = "9.00"); phone numbers by their digits.

A model that invents a bereavement refund, a "$1" price or a tracking URL is caught here, whatever
confidence it claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._result import GateResult, rules_result

OFF_TOPIC = 0.5
"""Least share of the message a cited passage must account for (the offline drafter's own floor): a poem
about monsteras cites the pet-safety entry, which mentions Monstera, but does not answer the request."""
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w.,:])\+?\d[\d ()/.-]{6,}\d(?![\w])")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def _numbers(text: str) -> set[str]:
    found = set()
    for match in _NUMBER.finditer(text):
        value = re.sub(r"[,:]", ".", match.group())
        found.add(value)
        found.add(re.sub(r"\.0+$", "", value))  # "10.00" cites "10"
    return found


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def check_grounding(reply: str, sources: Iterable[int], offered: dict[int, str], inbound: str,
                    template: str, coverage: dict[int, float] | None = None) -> GateResult:
    """``offered``: passage id → its text (question and answer) as the drafter saw it; ``template``: the
    reply template as rendered around the answer (greeting, signature); ``coverage``: passage id → how much
    of the message it accounts for, 0 when no word of the message is in its questions or tags."""
    cited = list(dict.fromkeys(sources))
    unknown = [i for i in cited if i not in offered]
    allowed = "\n".join([*(offered[i] for i in cited if i in offered), inbound or "", template or ""])
    allowed_lower = allowed.casefold()
    text = _URL.sub(" ", reply)
    urls = [u.rstrip(".,;:!?") for u in _URL.findall(reply)]
    emails = _EMAIL.findall(text)
    text = _EMAIL.sub(" ", text)
    phones = [p for p in _PHONE.findall(text) if len(_digits(p)) >= 7]
    allowed_digits = {_digits(p) for p in _PHONE.findall(allowed)}
    for phone in phones:
        text = text.replace(phone, " ")
    numbers = _numbers(text)
    covered = max((coverage.get(i, 0.0) for i in cited), default=0.0) if coverage is not None else 1.0
    rules = (
        ("no_source", "it cites no knowledge passage", not cited),
        ("off_topic", "the passages it cites do not answer what the message asks",
         bool(cited) and covered < OFF_TOPIC),
        ("unknown_source", "it cites a passage that was not offered", unknown),
        ("url", "a URL the sources do not contain", [u for u in urls if u.casefold() not in allowed_lower]),
        ("email_address", "an e-mail address the sources do not contain",
         [e for e in emails if e.casefold() not in allowed_lower]),
        ("phone", "a phone number the sources do not contain", [p for p in phones if _digits(p) not in allowed_digits]),
        ("number", "a number the sources do not contain", sorted(numbers - _numbers(allowed))),
    )
    return rules_result("grounding", rules, "Every fact in the reply comes from its sources.",
                        "The reply is not grounded: ")
