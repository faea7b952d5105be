"""Spam gate: markers in the draft that read as marketing spam.

An automatic reply that looks like spam hurts twice: the customer is put off,
and spam complaints cost the sender's reputation (Gmail/Yahoo want complaint
rates under 0.1 %; WhatsApp lowers the quality rating and messaging limits of
numbers that users block or report). So a draft with these markers waits for
a person. Rules (reason ``spam:<rule>``), checked on the NFKC-normalised draft:

* ``all_caps`` — three or more consecutive ALL-CAPS words of at least three
  letters ("FREE GIFT TODAY"; one- and two-letter words in between are
  skipped), or more than 40 % capitals among the cased letters of a draft
  with at least 20 of them, not counting acronyms (all-caps words of up to
  four letters). Acronyms ("USA", "EU", "DHL, UPS and GLS") are fine.
* ``links`` — more than two links (``http(s)://`` or ``www.``, plus bare
  short links such as ``bit.ly/x``). One or two links are a normal answer.
* ``exclamation`` — more than three "!" in total, or any "!!" (a repeated
  "!"; NFKC turns "‼" and full-width "！" into plain ones).
* ``shortener`` — a URL shortener domain (bit.ly, tinyurl.com, t.co, goo.gl,
  ow.ly, is.gd, buff.ly, cutt.ly, rebrand.ly, shorturl.at, tiny.cc): it hides
  where the link goes, and spam filters score it. Matched as a whole host, so
  "at.com" is not "t.co".
* ``trigger_phrase`` — classic spam-filter phrases (act now, 100 % free, click
  here, limited time offer, you are a winner, risk-free, guaranteed income,
  no credit check, buy now, order now, cash bonus, earn money fast, while
  supplies last). Matched as whole words with only spaces or hyphens between
  them: "place your order, now ..." does not match "order now". Accepted: a
  plain "you can order now and it ships tomorrow" is flagged.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ._result import GateResult, rules_result

_SHORTENERS = ("bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "cutt.ly", "rebrand.ly",
               "shorturl.at", "tiny.cc")
_SHORTENER = re.compile(
    r"(?<![\w.@-])(?:https?://)?(?:www\.)?(?:" + "|".join(re.escape(d) for d in _SHORTENERS) + r")(?![\w-]|\.[a-z0-9])",
    re.IGNORECASE,
)
_LINK = re.compile(r"(?<![\w@])(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_PHRASES = ("act now", "100% free", "click here", "limited time offer", "you are a winner", "you're a winner",
            "risk free", "guaranteed income", "no credit check", "buy now", "order now", "cash bonus",
            "earn money fast", "while supplies last")
_SEP = r"[\s-]+"
_TRIGGER = re.compile(
    r"\b(?:" + "|".join(_SEP.join(re.escape(w).replace("%", r"\s*%") for w in p.split()) for p in _PHRASES) + r")(?!\w)"
)


def _caps_run(text: str) -> bool:
    """Three or more consecutive all-caps words of three letters or more.

    One- and two-letter capitals ("WE", "SO", "A") neither count nor break a
    run, so "WE ARE SO HAPPY TO SEE YOU" is a run; any other word breaks it.
    """
    run = 0
    for token in text.split():
        letters = "".join(ch for ch in token if ch.isalpha())
        if letters and letters.isupper() and not any(ch.isdigit() for ch in token):
            if len(letters) < 3:
                continue
            run += 1
            if run >= 3:
                return True
        else:
            run = 0
    return False


def _caps_ratio(text: str) -> bool:
    """More than 40 % capitals among the cased letters (at least 20), acronyms left out.

    All-caps words of up to four letters (USA, EU, DHL, UPS, GDPR) are not
    counted: "We ship with UPS, DPD and GLS." is not shouting.
    """
    words = [w for w in text.split() if not (w.isupper() and sum(ch.isalpha() for ch in w) <= 4)]
    upper = sum(1 for w in words for ch in w if ch.isupper())
    cased = upper + sum(1 for w in words for ch in w if ch.islower())
    return cased >= 20 and upper / cased > 0.40


# Drafts repeat (the same knowledge answer in the same template): a pure
# function of the text, so each distinct draft is checked once per run.
@lru_cache(maxsize=2048)
def check_spam(draft: str) -> GateResult:
    """Fail when the draft carries spam markers."""
    text = unicodedata.normalize("NFKC", draft or "")
    folded = re.sub(r"\s+", " ", text.casefold())
    spans = [m.span() for m in _LINK.finditer(text)]
    # Bare short links ("bit.ly/x") count too; one inside a full link is counted once.
    bare = [m for m in _SHORTENER.finditer(text) if not any(a <= m.start() < b for a, b in spans)]
    links = len(spans) + len(bare)
    rules = (
        ("all_caps", "shouting in capitals", _caps_run(text) or _caps_ratio(text)),
        ("links", f"{links} links", links > 2),
        ("exclamation", "too many exclamation marks", text.count("!") > 3 or "!!" in text),
        ("shortener", "a URL shortener", bool(_SHORTENER.search(text))),
        ("trigger_phrase", "spam trigger phrases", bool(_TRIGGER.search(folded))),
    )
    return rules_result("spam", rules, "No spam marker found in the draft.",
                        "The draft reads like spam: ", sep=", ")
