"""One text analysis for the knowledge file and the messages matched against it.

Indexing, ranking and coverage all go through ``Analyser.terms`` — the same words, folded, filler
removed and stemmed by the Snowball stemmer of the knowledge file's language — so a word can never
count for ranking under one form and for coverage under another (the old FTS5 porter index ranked
"shipping" as "ship" while coverage looked for "shipp").

What a message says around its question never counts against it: greetings and small talk ("how are
you today?"), thanks, politeness, filler ("I was wondering", "quick question"), a signature after a
sign-off ("thanks, Lena"), the contact's own name words, and the lexicon's incidental words ("for my
mum's birthday"; ``_lexicon.py``). Everything else does, context included: "My e-bike has a Panasonic
motor. Can you service it?" asks about that motor, so a message is measured whole (measured: keeping
only the question sentences sent wrong answers on a second shop's messages). How a question is framed
is kept as one term, since it says what is asked: "how much" → cost, "how long" → duration, "what
time"/"when do you…" → time, "how often" → frequency. Words a shop uses for one thing meet in one
term (the lexicon's synonyms, and ``tags`` in the knowledge file). "ID", "US" and "IT" in capitals are
words, not "I'd", "us" and "it"; "e-bike" is one word, not "bike".

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
from ._lexicon import load_lexicon

# Words that carry no topic in a customer's question. Greetings, thanks and politeness are here on
# purpose: "Hi! … thanks" must not dilute how well a question is covered; so are filler phrases
# ("I was wondering", "quick question") — the topic is elsewhere.
FILLER = frozenset(
    """a an the and or but if of to in on at for from by with about into over is are was were be been being
    am do does did doing have has had having i me my mine myself we us our ours you your yours he him his she
    her hers it its they them their theirs this that these those what which who whom whose where why how when
    can could would should will shall may might must there here then than not no yes so too very just also any
    some all both each every other such only own same again further once please pls plz kindly thanks thank
    thx ty tks cheers hi hello hey hiya hallo dear good regards best wishes
    greetings regarding concerning ok okay im i'm ive i've id i'd ill
    i'll it's let lets get got getting tell telling know like want
    wanted wanting need needed wondering wonder wondered question questions quick curious asking ask asked
    info information possible anyone someone somebody guys folks team many more most one ever still
    really actually maybe perhaps already yet currently u ur r ya yo
    pls lol haha hehe xx xxx btw fyi oh ah hmm well sure great nice lovely love awesome cool whats wheres
    hows whos thats theres help until till exactly please""".split()
    # The business itself: "is the shop open?" asks whether you are open.
    + """shop store business place""".split()
    # Light verbs and vague words that carry no shop topic ("come", "see", "take", "a new way", "any idea").
    + """as come coming came go going went see seen look looking take taking make making give put keep find
    found way kind sort idea ideas option options thing things stuff bit lot lots few new usual usually around
    after before last next around roughly approximately rough something anything everything maybe else
    bought buy buying hope hoping dont don't does doesnt sorry bother bothering""".split()
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
        # "When do you open?" asks for a time; "a tracking number when my order ships" does not.
        (r"\bwhat time\b|\bwhat hours\b|\bwhen(?= (?:do|does|did|are|is|was|will|would|can|could|should|r|"
         r"ya|ur|exactly)\b| ?[?]|$)", " time "),
        (r"\bhow often\b", " frequency "),
        # "Where is my order?" asks where something of the customer's is now (not where the shop is).
        (r"\bwhere(?:'s|s| is| are| r)? (?=(?:my|our)\b)", " whereabouts "),
        # "Where are you / is your shop?" asks for the location; "where is my parcel?" does not.
        (r"\bwhere(?:'s|s| is| are| r| exactly| can i find| do i find)?(?= (?:you|your|ur|u|the shop|the store|"
         r"exactly|located)\b)", " location "),
        (r"\bhow (?:do|can|would) (?:i|we) (?:find|get to|reach) (?=(?:you|your|ur|u|the shop|the store)\b)",
         " location "),
    )],
}


_ONE_LETTER_PREFIX = re.compile(r"\b([^\W\d_])-(?=[^\W\d_]{2,})|\b(e) (?=(?:bikes?|mails?|scooters?|cars?)\b)")
# Greetings, and greetings that look like questions: "Good morning!", "How are you today?" ask nothing of the
# knowledge file — but "in the morning" and "the same day" do.
_SMALL_TALK = re.compile(r"\b(?:good (?:morning|afternoon|evening|day|night)|morning all|"
                         r"how (?:are|r) (?:you|u|ya)(?: (?:doing|all))?(?: today| guys)?|hows it going|"
                         r"how is it going|hope (?:you|u) (?:are|re|r) (?:well|good|doing well)(?: today)?|"
                         r"have a (?:nice|good|great) (?:day|weekend|evening))\b")
_CURRENCIES = {"€": "euro", "$": "dollar", "£": "pound", "eur": "euro", "usd": "dollar", "gbp": "pound"}
_CURRENCY = re.compile(r"[€$£]|\b(?:eur|usd|gbp)\b")
_NUMBER_UNIT = re.compile(r"\b(\d+(?:[.,]\d+)?) ?(euros?|dollars?|pounds?|cm|mm|m|km|kg|g|l|ml|days?|weeks?|months?|"
                          r"years?|hours?|hrs?|h|minutes?|mins?|min|percent|%)(?![^\W\d_])")
_ACRONYM_WORDS = ("ID", "US", "IT")
_ACRONYM = re.compile(rf"\b(?:{'|'.join(_ACRONYM_WORDS)})\b")

LANGUAGES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian",
             "nl": "dutch", "pt": "portuguese"}


def _fold(text: str) -> str:
    return strip_accents(fold(text))


def _number_unit(match: re.Match[str]) -> str:
    unit = match.group(2).replace("%", "percent")
    unit = unit[:-1] if len(unit) > 2 and unit.endswith("s") else unit  # "euros", "days", "hrs"
    return f" {match.group(1).replace('.', '').replace(',', '')}{unit} "


def _acronyms(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _ACRONYM.findall(text)) if not text.isupper() else frozenset()


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
        self.lexicon = load_lexicon(language, self.stem)
        # A synonym of a filler word is filler too: "order" and "purchase" are "buy".
        self._filler_stems = frozenset(self.stem(w) for w in FILLER) - {w.lower() for w in _ACRONYM_WORDS}

    def words(self, text: str, acronyms: frozenset[str] = frozenset()) -> list[str]:
        """Folded content words of ``text`` in order, de-duplicated."""
        folded = _fold(text)
        folded = _ONE_LETTER_PREFIX.sub(r"\1\2", folded)  # "e-bike" is not a bike, "U-Bahn" not a "Bahn"
        folded = _CURRENCY.sub(lambda m: f" {_CURRENCIES[m.group(0)]} ", folded)
        # A number is a term together with its unit: "15 euros" in an answer says nothing of "my son is 15".
        folded = _NUMBER_UNIT.sub(_number_unit, folded)
        folded = _SMALL_TALK.sub(" ", folded)
        for pattern, term in self._frames:
            folded = pattern.sub(term, folded)
        folded = self.lexicon.replace_phrases(folded)
        # "ID", "US", "IT" in capitals are not "I'd", "us" and "it".
        acronyms = acronyms | _acronyms(text)
        seen: dict[str, None] = {}
        for word in _WORD.findall(folded):
            word = word.replace("'", "")
            if word in acronyms:
                seen.setdefault(word, None)
                continue
            # Numbers stay: "a gift card for 300 euros" is not answered by "from 10 to 200 euros".
            if _HELD.sub(r"\1", word) in FILLER:  # "hiii", "heyyy", "thanksss"
                continue
            if word not in FILLER and (len(word) >= 2 or word.isdigit()):
                seen.setdefault(word, None)
        return list(seen)

    def stem(self, word: str) -> str:
        return str(self._stem(word))

    def term(self, word: str) -> str | None:
        """The stem a word counts as: its synonym group's, or None for an incidental word."""
        if word in self.lexicon.incidental:
            return None
        stem = self.stem(word)
        mapped = self.lexicon.synonyms.get(stem, stem)
        return None if mapped != stem and mapped in self._filler_stems else mapped

    def terms(self, text: str) -> list[str]:
        """Stemmed content terms of knowledge-file text (questions, tags, answers)."""
        return [t for t in dict.fromkeys(self.term(w) for w in self.words(text)) if t is not None]

    def vague(self, terms: list[str]) -> bool:
        """Whether every term is too general to be a question ("a question regarding my order")."""
        return bool(terms) and all(t in self.lexicon.vague for t in terms)

    def learn(self, texts: Iterable[str]) -> None:
        """The vocabulary that typos in messages are corrected towards (the knowledge file's words)."""
        known = {w for text in texts for w in self.words(text)} | set(self.lexicon.variants)
        self._vocabulary = sorted(known)
        self._known = frozenset(known) | {self.stem(w) for w in known}
        self._correct.cache_clear()

    def query_terms(self, text: str, ignore: Iterable[str] = ()) -> list[str]:
        """Stemmed content terms of a customer's message: signature and ``ignore`` words (the contact's
        name) dropped, typos corrected towards the vocabulary."""
        skip = {w for name in ignore for w in self.words(name)}
        terms: dict[str, None] = {}
        for word in self.words(without_signature(text), _acronyms(text)):
            if word in skip:
                continue
            term = self.term(self._correct(word))
            if term is not None:
                terms.setdefault(term, None)
        return list(terms)

    def _closest(self, word: str) -> str:
        # Known as it is, or as its stem ("ebike" when the file says "e-bikes"): not a typo.
        if word in self._known or self.stem(word) in self._known or len(word) < 5 or not self._vocabulary:
            return word
        if any(ch.isdigit() for ch in word):  # "300euro" is no typo of "200euro"
            return word
        limit = 1 if len(word) <= 8 else 2
        found = process.extractOne(word, self._vocabulary, scorer=OSA.distance, score_cutoff=limit)
        return found[0] if found is not None else word
