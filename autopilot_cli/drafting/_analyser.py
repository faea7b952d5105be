"""One text analysis for the knowledge file and the messages matched against it.

Indexing, ranking and coverage all go through ``Analyser.terms`` — the same words, folded, filler
removed and stemmed by the Snowball stemmer of the knowledge file's language — so a word can never
count for ranking under one form and for coverage under another (the old FTS5 porter index ranked
"shipping" as "ship" while coverage looked for "shipp").

What a message says around its question never counts against it: greetings, thanks, politeness,
filler ("I was wondering", "quick question") and a signature after a sign-off ("thanks, Lena") are
dropped before coverage is measured, as are the contact's own name words. How a question is framed
is kept as one term, since it says what is asked: "how much" → cost, "how long" → duration, "what
time"/"when" → time, "how often" → frequency.
A word that is not in the knowledge file's vocabulary is corrected to the closest word that is, when
one is within a small edit distance (none under five letters, where one edit makes another word —
"came", "care" —, one up to eight letters, two beyond; a transposition counts once): "shiping",
"oppening", "adress".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

from ..textnorm import fold, strip_accents

# Words that carry no topic in a customer's question. Greetings, thanks and politeness are here on
# purpose: "Hi! … thanks" must not dilute how well a question is covered; so are filler phrases
# ("I was wondering", "quick question") — the topic is elsewhere.
FILLER = frozenset(
    """a an the and or but if of to in on at for from by with about into over is are was were be been being
    am do does did doing have has had having i me my mine myself we us our ours you your yours he him his she
    her hers it its they them their theirs this that these those what which who whom whose where why how
    can could would should will shall may might must there here then than not no yes so too very just also any
    some all both each every other such only own same again further once please pls plz kindly thanks thank
    thx ty tks cheers hi hello hey hiya hallo dear good morning afternoon evening day regards best wishes
    greetings ok okay im i'm ive i've id i'd ill i'll it's let lets get got getting tell telling know like want
    wanted wanting need needed wondering wonder wondered question questions quick curious asking ask asked
    info information possible anyone someone somebody guys folks team many more most one ever still
    soon really actually maybe perhaps already yet now today currently u ur r ya yo
    pls lol haha hehe xx xxx btw fyi oh ah hmm well sure great nice lovely love awesome cool whats wheres
    hows whos thats theres help until till exactly please""".split()
    # The business itself: "is the shop open?" asks whether you are open.
    + """shop store business place""".split()
    # Light verbs and vague words that carry no shop topic ("come", "see", "take", "a new way", "any idea").
    + """as come coming came go going went see seen look looking take taking make making give put keep find
    found way kind sort idea ideas option options thing things stuff bit lot lots few new usual usually around
    after before last next around roughly approximately rough something anything everything maybe else
    bought buy buying work works working hope hoping dont don't does doesnt sorry bother bothering""".split()
)
# Words after which the rest of a short final line is a signature ("thanks, Lena", "cheers — Tom").
_SIGN_OFF = re.compile(
    r"(?:^|[\s,.!?;:])(?:(?:thanks|thank you) (?:so much|a lot|very much|in advance)|thanks|thank you|thx|ty|"
    r"cheers|regards|best|kind regards|best wishes|greetings|"
    r"bye|love|xoxo|br|warm regards|many thanks|sincerely)[\s,.!?;:~\-–—]*([^\W\d_]+(?:[\s.\-]+[^\W\d_]+){0,2})"
    r"[\s,.!?~\-–—]*$",
    re.UNICODE,
)
_HELD = re.compile(r"(\w)\1{2,}")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
# How a question is framed says what it asks ("how much" is about a price, "how long" about a duration):
# these phrases become one term, in the knowledge file and in messages alike, so "How much is shipping?"
# and "How long does shipping take?" no longer look the same once the filler is gone.
_FRAMES: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "en": [(re.compile(p), term) for p, term in (
        (r"\bhow much\b|\bprice of\b|\bwhat does (?=.*\bcost\b)", " cost "),
        (r"\bhow long\b|\bhow many days\b", " duration "),
        (r"\bwhat time\b|\bwhen\b|\bwhat hours\b", " time "),
        (r"\bhow often\b", " frequency "),
        # "Where are you / is your shop?" asks for the location; "where is my parcel?" does not.
        (r"\bwhere(?:'s|s| is| are| r| exactly| can i find| do i find)?(?= (?:you|your|ur|u|the shop|the store|"
         r"exactly|located)\b)", " location "),
    )],
}

# Context that changes what a question asks: "I ordered three weeks ago and nothing came. When will my
# order arrive?" is a late parcel, not a question about delivery times.
TROUBLE = frozenset(
    """never nothing not no didnt didn't dont don't doesnt doesn't havent haven't hasnt hasn't wasnt wasn't
    isnt isn't wont won't cant can't couldnt couldn't still yet late delayed delay missing lost wrong damaged
    broken dead dying died rotten mouldy moldy complaint complain refund return returned cancel cancelled
    canceled ago already again problem issue error disappointed angry unhappy terrible awful worst bad
    charged twice instead but however unfortunately sadly""".split()
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")

LANGUAGES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian",
             "nl": "dutch", "pt": "portuguese"}


def _fold(text: str) -> str:
    return strip_accents(fold(text))


def without_signature(text: str) -> str:
    """The message without a trailing sign-off and the name after it."""
    folded = _fold(text).rstrip()
    match = _SIGN_OFF.search(folded[-80:])
    if match is None:
        return folded
    return folded[: len(folded) - 80 + match.start(1)] if len(folded) > 80 else folded[: match.start(1)]


class Analyser:
    """Folded words → filler out → typo-corrected against a vocabulary → Snowball stems."""

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self._stemmer = snowballstemmer.stemmer(LANGUAGES.get(language, language))
        self._frames = _FRAMES.get(language, [])
        self._vocabulary: list[str] = []
        self._known: frozenset[str] = frozenset()
        self._stem = lru_cache(maxsize=65536)(self._stemmer.stemWord)
        self._correct = lru_cache(maxsize=65536)(self._closest)

    def words(self, text: str) -> list[str]:
        """Folded content words of ``text`` in order, de-duplicated."""
        folded = _fold(text)
        for pattern, term in self._frames:
            folded = pattern.sub(term, folded)
        seen: dict[str, None] = {}
        for word in _WORD.findall(folded):
            word = word.replace("'", "")
            # Numbers stay: "a gift card for 300 euros" is not answered by "from 10 to 200 euros".
            if _HELD.sub(r"\1", word) in FILLER:  # "hiii", "heyyy", "thanksss"
                continue
            if word not in FILLER and (len(word) >= 2 or word.isdigit()):
                seen.setdefault(word, None)
        return list(seen)

    def ask(self, text: str) -> str:
        """What a message asks: its questions ("…?") when it has some and the rest is harmless
        context ("I'd like to visit your shop next week."); the whole message when it has no
        question mark or the context holds trouble (a complaint, a negation, a number)."""
        folded = without_signature(text)
        sentences = [s.strip() for s in _SENTENCE.findall(folded) if s.strip()]
        questions = [s for s in sentences if s.endswith("?")]
        if not questions or len(questions) == len(sentences):
            return folded
        context = " ".join(s for s in sentences if not s.endswith("?"))
        if any(ch.isdigit() for ch in context) or not TROUBLE.isdisjoint(_WORD.findall(context)):
            return folded
        return " ".join(questions)

    def stem(self, word: str) -> str:
        return str(self._stem(word))

    def terms(self, text: str) -> list[str]:
        """Stemmed content terms of knowledge-file text (questions, tags, answers)."""
        return list(dict.fromkeys(self.stem(w) for w in self.words(text)))

    def learn(self, texts: Iterable[str]) -> None:
        """The vocabulary that typos in messages are corrected towards (the knowledge file's words)."""
        known = {w for text in texts for w in self.words(text)}
        self._vocabulary = sorted(known)
        self._known = frozenset(known)
        self._correct.cache_clear()

    def query_terms(self, text: str, ignore: Iterable[str] = ()) -> list[str]:
        """Stemmed content terms of a customer's message: signature and ``ignore`` words (the contact's
        name) dropped, typos corrected towards the vocabulary."""
        skip = {w for name in ignore for w in self.words(name)}
        terms: dict[str, None] = {}
        for word in self.words(self.ask(text)):
            if word in skip:
                continue
            terms.setdefault(self.stem(self._correct(word)), None)
        return list(terms)

    def _closest(self, word: str) -> str:
        if word in self._known or len(word) < 5 or not self._vocabulary:
            return word
        limit = 1 if len(word) <= 8 else 2
        found = process.extractOne(word, self._vocabulary, scorer=OSA.distance, score_cutoff=limit)
        return found[0] if found is not None else word
