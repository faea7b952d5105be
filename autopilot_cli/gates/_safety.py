"""Safety gate: abuse, threats, self-harm, sexual content involving minors, violence.

An offline rule set, so that a deployment without a moderation endpoint still
routes the worst messages to a person, and a deployment with one still has a
floor when the endpoint is down. Both the inbound message and the draft are
checked: a customer in distress or making threats needs a human, not an
automatic answer, and a draft must never carry such content out.

Text is NFKC-normalised and casefolded, curly apostrophes become ``'``,
invisible format characters are dropped (so ``ki<U+200B>ll`` still reads ``kill``)
and whitespace is collapsed; every rule uses word boundaries.

Rules (reason ``safety:<rule>``), each erring towards review, because a false
positive costs a reviewer a few seconds and a miss costs far more:

* ``harassment`` — insults aimed at a person ("you idiot", "you're so stupid",
  "your staff are morons", "fuck you"/"f*** you", "kill yourself") and a
  short list of slurs. Criticism of a thing ("your app is useless") is not harassment: that
  is an ordinary complaint. Slurs that double as ordinary words in shop
  messages (cigarettes, car transmissions, "chink in the armour") are left out.
* ``threat`` — a first-person *future or intended* harm to a person ("I'll
  kill you", "I'm going to hurt your staff", "I will shoot them", "I'm gonna
  come down there and beat the crap out of you"), wishing harm ("I hope you
  die"), "I know where you live", "watch your back", bomb threats. A modal is
  required, so "sorry if I hurt you" and "this price is killing me" pass;
  "I'll shoot you an email", "I'll hit you up later" and "we'll beat your
  price" pass. Decided: hyperbole such as "I could kill you
  for this lol" is flagged — the rules cannot tell a joke from a threat.
* ``self_harm`` — "kill myself" (not "killing myself laughing"), "end my
  life", "want to die", "suicide" (not "Suicide Squad", "suicide doors"),
  intent to hurt oneself. An accident ("I cut myself on the lid") is not
  self-harm. "I'm dying to try it" and "my phone died" pass.
* ``sexual_minors`` — deliberately blunt: a sexual term within six words of a
  term for a child, plus a few unambiguous names. Costume-shop or sex-ed
  false positives are accepted.
* ``violence`` — graphic descriptions (beheading, dismembering, slit throats)
  and a weapon named near a violent act against people, or brought to a place
  ("we'll come to your office with guns").
  "Do you sell kitchen knives?" and "how far does the water gun shoot?" pass.

``moderation_result`` turns the OpenAI moderation endpoint's outcome into a
``GateResult``; when moderation is configured but fails, it fails closed.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..textnorm import fold
from ._result import GateResult, found_where

# Backticks and acute accents used as apostrophes ("don`t"), beyond what fold() straightens.
_QUOTES = str.maketrans({"`": "'", "\u00b4": "'"})


def _norm(text: str) -> str:
    return fold(text).translate(_QUOTES)


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


_NOUN = (r"idiots?|morons?|imbeciles?|losers?|bitch(?:es)?|bastards?|assholes?|arseholes?|dickheads?"
         r"|scumbags?|scum|cunts?|twats?|wankers?|retards?|pieces? of (?:shit|crap|garbage|trash)")
_ADJ = r"stupid|dumb|useless|worthless|pathetic|incompetent|retarded|brainless"
_FILL = (r"(?:(?:such|so|a|an|the|all|just|really|very|total|complete|absolute"
         rf"|fucking|fuckin|bloody|bunch of|nothing but|utter|little|lazy|{_ADJ})\s+)*")
_HARASSMENT = _rx(
    r"\b(?:you|u|ya)\s+(?:(?:stupid|dumb|fucking|fuckin|useless|worthless|pathetic"
    rf"|lazy|little|absolute|complete|total|bloody)\s+){{0,3}}(?:{_NOUN})\b",
    rf"\b(?:you\s*(?:are|'re|r)|u\s*(?:are|r)|ur)\s+{_FILL}(?:{_NOUN}|{_ADJ})\b(?!-\w)",
    rf"\bare\s+(?:you|u)\s+(?:(?:so|that|an?|really|just|fucking)\s+)*(?:{_NOUN}|{_ADJ})\b(?!-\w)",
    rf"\byour\s+(?:\w+\s+){{0,2}}(?:is|are)\s+{_FILL}(?:{_NOUN})\b(?!-\w)",
    r"\bscrew\s+(?:you|u|off|yourself|yourselves)\b",
    r"\bf[uc*#@$%!.-][c*#@$%!.-]{0,2}k?\s+(?:you|u|off|yourself|yourselves)\b",  # fuck/f*** /f**k/fck you
    r"\bgo\s+(?:fuck|screw)\s+yourself\b|\bgo\s+to\s+hell\b|\bgo\s+die\b|\bshut\s+the\s+(?:fuck|hell)\s+up\b|\bstfu\b",
    r"\bkill\s+yoursel(?:f|ves)\b|\bkys\b",
    # A modest slur list; see the module docstring for what is left out and why.
    r"\b(?:n[i1]gg(?:er|a)s?|f[a@]gg[o0]ts?|kikes?|spics?|wetbacks?|retards?)\b",
)

_MODAL = (r"\b(?:i|we)\s*(?:'?ll|will|shall|would|'d|could|(?:am|'?m|are|'re)\s+(?:going\s+to|gonna|about\s+to"
          r"|coming\s+to)|gonna|wanna|want\s+to|need\s+to|have\s+to|gotta|'?ma|mma)\s+")
_ADV = (r"(?:(?:literally|really|actually|personally|seriously|fucking|fuckin|definitely|just"
        r"|come\s+(?:(?!and\b|come\b)\w+\s+){0,2}?and|find\s+you\s+and|hunt\s+you\s+down\s+and)\s+)*")
_VICTIM = (r"(?:you|u|ya|him|her|them|everyone|everybody"
           r"|your\s+(?:family|kids|children|wife|husband|staff|boss|manager|employees|mother|mom|mum|dad))\b")
_PLACE = r"(?:your|the|this|that)\s+(?:store|shop|office|building|place|house|home|school|warehouse|business)"
_THREAT = _rx(
    rf"{_MODAL}{_ADV}(?:kill|murder|hurt|stab|strangle|choke|slaughter|butcher"
    rf"|rape|torture|behead|execute|attack|punch|end)\s+{_VICTIM}",
    rf"{_MODAL}{_ADV}(?:slap|smack|kick|hit)\s+{_VICTIM}"
    r"(?!\s+(?:up|back|with\s+(?:an?|the|some)\s+(?:email|text|call|message|discount|deal|offer)))",
    rf"{_MODAL}{_ADV}shoot\s+{_VICTIM}(?=\s*(?:$|[.!?,;]|\s(?:dead|down|in\s+the|in\s+your|if|unless|when)\b))",
    rf"{_MODAL}{_ADV}(?:beat\s+(?:you|u)\s+(?:up|to\s+death|senseless)"
    r"|beat\s+the\s+(?:shit|crap|hell|life)\s+out\s+of\s+(?:you|u))",
    rf"{_MODAL}{_ADV}(?:break\s+your\s+(?:legs?|neck|face|bones|arms?|jaw)"
    rf"|burn\s+(?:down\s+)?{_PLACE}|come\s+for\s+you)\b",
    r"\b(?:you|u)\s*(?:'ll|will|are\s+going\s+to|'re\s+going\s+to|are\s+gonna|'re\s+gonna)"
    r"\s+(?:die|be\s+dead|get\s+hurt)\b",
    r"\b(?:you|u)\s*(?:are|'re)\s+(?:dead\s+meat|a\s+dead\s+(?:man|woman))\b"
    r"|\bwatch\s+your\s+back\b|\byour\s+days\s+are\s+numbered\b",
    r"\b(?:hope|wish)\s+(?:you|u|your\s+\w+)\s+(?:die|dies|rots?\s+in\s+hell|burns?\s+(?:down|in\s+hell)"
    r"|gets?\s+(?:hurt|killed|shot|stabbed|raped))\b",
    r"\bi\s+know\s+where\s+(?:you|u)\s+(?:live|sleep)\b|\bi\s+know\s+where\s+your\s+(?:kids|children|family)\b",
    r"\bthere\s*(?:is|'s|will\s+be)\s+a\s+bomb\b"
    r"|\b(?:plant|planted|place|placed|put|set\s+off|detonate)\s+(?:a|the)\s+bomb\b",
    rf"\bbomb\s+{_PLACE}\b|\bblow\s+up\s+{_PLACE}\b|\bblow\s+{_PLACE}\s+up\b|\bshoot\s+up\s+{_PLACE}\b",
)

_SELF_HARM = _rx(
    r"\bkill(?:ing|ed)?\s+myself\b(?!\s+(?:laughing|with\s+laughter))|\bkms\s+(?:now|tonight|today)\b",
    r"\b(?:end|ending|ended|take|taking|took)\s+my\s+(?:own\s+)?life\b|\bend(?:ing)?\s+it\s+all\b",
    r"\bsuicid(?:e|al)\b(?!\s+(?:squad|doors?|mission))",
    r"\b(?:i|just)\s+(?:want|wanna|wish\s+i\s+could|am\s+ready|'m\s+ready)\s+(?:to\s+)?die\b"
    r"|\bwish\s+i\s+(?:was|were)\s+dead\b|\bbetter\s+off\s+dead\b",
    r"\b(?:want|wanna|going|gonna|urge|thinking\s+(?:of|about)|feel\s+like|been|keep|started)"
    r"\s+(?:to\s+)?(?:hurt|harm|cut|hurting|harming|cutting)\s+myself\b",
    r"\bself[\s-]?harm(?:ing)?\b|\bno\s+(?:reason|point)\s+(?:(?:to|in)\s+)?(?:live|living|going\s+on)\b"
    r"|\bnot\s+worth\s+living\b",
    r"\b(?:do\s+not|don't|dont)\s+want\s+to\s+(?:live|be\s+alive|exist)\s+(?:anymore|any\s+more)\b",
)

_SEXUAL = (r"sex|sexual(?:ly)?|sexy|sext(?:ing)?|porn\w*|erotic\w*|nsfw|lewd|molest\w*|nudes|undress(?:ed|ing)?"
           r"|(?:nude|naked)\s+(?:photos?|pics?|pictures?|images?|videos?|selfies?|bod(?:y|ies))|get\s+naked")
_MINOR = (r"child(?:ren)?(?:'s)?|kids?(?:'s?)?|kiddies?|minors?|under-?aged?|pre-?teens?"
          r"|teen(?:s|age|agers?)?|toddlers?"
          r"|(?:little|young)\s+(?:girls?|boys?)|(?:[1-9]|1[0-7])\s*(?:yo|y/o|yrs?\s+old|years?[\s-]old)")
_GAP = r"\W+(?:\w+(?:'\w+)*\W+){0,6}?"
_SEXUAL_MINORS = _rx(
    rf"\b(?:{_SEXUAL})\b{_GAP}(?:{_MINOR})\b",
    rf"\b(?:{_MINOR})\b{_GAP}(?:{_SEXUAL})\b",
    r"\b(?:csam|child\s+porn\w*|p(?:a|ae|e)dophil(?:e|es|ia)|pedos?|cp\s+(?:links?|videos?|pics?))\b",
)

_WEAPON = (r"guns?|rifles?|shotguns?|pistols?|handguns?|knife|knives|machetes?|bombs?"
           r"|explosives?|grenades?|ak-?47s?|ar-?15s?")
_ACT = (r"(?:shoot|shot|stab|stabbed|kill|murder|slaughter|attack|gun\s+down|massacre)"
        r"\s+(?:you|u|him|her|them|everyone|everybody"
        r"|people|us|your\s+\w+|the\s+(?:staff|manager|owner|cashier|employees?|workers?|customers?))\b")
_VIOLENCE = _rx(
    r"\b(?:behead\w*|decapitat\w*|dismember\w*|disembowel\w*)\b",
    r"\bslit\s+(?:his|her|their|your|my)\s+throats?\b|\bgouged?\s+(?:out\s+)?(?:his|her|their|your)\s+eyes\b",
    r"\bmutilat\w*\s+(?:him|her|them|you|bod(?:y|ies)|corpses?|animals?)\b"
    r"|\btortur\w*\s+(?:him|her|them|animals?|people)\b",
    r"\bblood\s+(?:everywhere|all\s+over\s+the)\b|\b(?:guts|brains)\s+(?:spilled|splattered|all\s+over)\b",
    r"\bstabbed\s+(?:him|her|them|you)\s+(?:\d+|multiple|several|many|over\s+and\s+over)\b",
    rf"\b(?:{_WEAPON})\b{_GAP}{_ACT}",
    rf"\b{_ACT}{_GAP}(?:{_WEAPON})\b",
    rf"\bbring(?:ing)?\s+(?:a|my|our|the)\s+(?:{_WEAPON})\s+(?:to|into)\s+{_PLACE}\b",
    rf"\b(?:come|coming|show\s+up|turn\s+up)\s+(?:to|at|into)\s+{_PLACE}"
    rf"\s+with\s+(?:a\s+|my\s+|our\s+)?(?:{_WEAPON})\b",
)

_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("harassment", "harassment", _HARASSMENT),
    ("threat", "a threat", _THREAT),
    ("self_harm", "self-harm", _SELF_HARM),
    ("sexual_minors", "sexual content involving minors", _SEXUAL_MINORS),
    ("violence", "violence", _VIOLENCE),
)


def check_safety(inbound: str, draft: str, inbound_rules: frozenset[str] | None = None) -> GateResult:
    """Fail when the inbound message or the draft matches any safety rule.

    ``inbound_rules``: ``matching_rules(inbound)`` when already known."""
    if inbound_rules is None:
        inbound_rules = matching_rules(inbound or "")
    found = found_where((rule for rule, _label, _pattern in _RULES), inbound_rules, matching_rules(draft or ""))
    if not found:
        return GateResult("safety", True, (), "No safety rule matched.")
    labels = {rule: label for rule, label, _pattern in _RULES}
    return GateResult("safety", False, tuple(f"safety:{rule}" for rule, _ in found),
                      "Safety rules matched: " + "; ".join(f"{labels[rule]} in {where}" for rule, where in found) + ".")


@lru_cache(maxsize=4096)  # drafts repeat across a run: each distinct text is scanned once
def matching_rules(text: str) -> frozenset[str]:
    folded = _norm(text)
    return frozenset(rule for rule, _label, pattern in _RULES if pattern.search(folded))


def _slug(category: str) -> str:
    return re.sub(r"[^a-z0-9/_-]+", "_", category.strip().casefold()).strip("_") or "unspecified"


def moderation_result(flagged: bool | None, categories: list[str], error: str | None) -> GateResult:
    """The moderation endpoint's outcome as a gate result.

    ``error`` set (moderation configured but the call failed) fails closed:
    an unchecked draft goes to review. ``flagged`` None with no error means
    moderation is not configured: pass. Flagged categories become
    ``safety:moderation:<category>``; a flag without categories becomes
    ``safety:moderation:flagged``.
    """
    if error is not None:
        return GateResult("moderation", False, ("safety:moderation_unavailable",),
                          f"The moderation endpoint failed ({error}), so the draft goes to review.")
    if flagged is None and not categories:
        return GateResult("moderation", True, (), "Moderation is not configured.")
    if not flagged and not categories:
        return GateResult("moderation", True, (), "The moderation endpoint flagged nothing.")
    codes = tuple(dict.fromkeys(f"safety:moderation:{_slug(c)}" for c in categories)) or ("safety:moderation:flagged",)
    names = ", ".join(code.removeprefix("safety:moderation:") for code in codes)
    return GateResult("moderation", False, codes, f"The moderation endpoint flagged the draft: {names}.")
