"""Injection gate: prompt-injection markers in the inbound message.

The drafter has no tools and the customer's text is delimited as untrusted
data, but neither is trusted to hold: a message that tries to steer the model
goes to review whatever confidence the model claims (README, "Prompt
injection"). Rules (reason ``injection:<rule>``):

* ``ignore_instructions`` — "ignore/disregard/forget/override (all) previous
  instructions/rules", "ignore the above", "forget everything you were told",
  plus the same in German, French and Spanish. The customer's *own* earlier
  words are not an attack: "ignore my previous order/instructions/message and
  send the blue one" passes ("my" is not an accepted qualifier, "message" and
  "order" are not instruction nouns). Accepted: "ignore the previous
  instructions I gave the courier" is flagged.
* ``role_override`` — "you are now a/in/DAN/unrestricted...", "act as a(n)
  AI/assistant/..." or "act as if you", "pretend to be / you are",
  "role-play as", "from now on you". "Can the voucher act as a deposit?" passes.
* ``jailbreak`` — "developer mode", "jailbreak", "do anything now", and DAN
  written in capitals with context ("you are DAN", "DAN mode"), so that a
  customer called Dan does not trip it. A phone shop asked about jailbroken
  phones will see reviews: accepted.
* ``prompt_request`` — the system/initial/hidden prompt, "repeat the text
  above", or a verb asking for "your instructions/rules/guidelines" *not*
  followed by for/on/about ("what are your instructions for washing the
  jacket?" passes).
* ``secret_request`` — a request verb near API keys, access tokens, private
  keys, environment variables, or "your/admin/root password/credentials".
  "I forgot my password" is a compliance topic, not an injection.
* ``data_request`` — other customers' data: "other customers' emails",
  "customer list/database", "list all users", "someone else's order" after a
  request verb ("I received someone else's order" is a delivery complaint).
* ``role_marker`` — "system:"/"assistant:" at a line start, "###", chat
  template tokens (``<|im_start|>``, ``[INST]``, ``<<SYS>>``), fake
  delimiter tags (``</system>``, ``<instructions>``).
* ``base64_blob`` — an opaque base64 run of more than 200 characters (line
  breaks allowed), a way to smuggle instructions past readers.
* ``invisible_chars`` — zero-width and bidi controls (U+200B–U+200F,
  U+202A–U+202E, U+2060–U+2064, U+2066–U+2069, U+FEFF) and Unicode tag
  characters (U+E0000–U+E007F, "ASCII smuggling"). Legitimate uses are exempt:
  a zero-width joiner inside an emoji sequence, ZWJ/ZWNJ between letters of
  scripts that need them (Arabic, Persian, Indic), and LRM/RLM in text that
  contains right-to-left letters.
* ``hidden_html_text`` — the email parser found text hidden by CSS in HTML.

Limits: English phrasing (plus the three languages above); paraphrased or
obfuscated attacks ("i g n o r e", leetspeak) and requests for a named third
party's data ("I need John Smith's address, he's a customer of yours") pass.
These rules are a tripwire in front of a drafter that has no tools and sees
the message as delimited data — not the only defence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from ..textnorm import fold
from ._result import GateResult, rules_result

_W = r"(?:\w+(?:'\w+)*\W+)"


def _rx(*parts: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), flags)


_NOUNS = (r"instructions?|rules?|prompts?|directions?|guidelines?|directives?|commands?|programming|training"
          r"|constraints?|guardrails?|restrictions?|polic(?:y|ies)|system\s+prompt")
_QUAL = (r"(?:(?:all|any|the|your|of|everything|previous|prior|above|earlier"
         r"|preceding|former|original|initial|system|existing|those|these|safety|other)\s+)*")
_IGNORE = _rx(
    rf"\b(?:ignore|disregard|forget|override|bypass)\s+{_QUAL}(?:{_NOUNS})\b",
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:the\s+|that\s+is\s+|you\s+were\s+told\s+)?"
    r"(?:above|before|previously|so\s+far)\b",
    r"\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+"
    r"(?:you(?:'ve|\s+have|\s+were)?\s+(?:been\s+)?told|said\s+(?:above|before))",
    r"\b(?:do\s+not|don't)\s+follow\s+(?:your|the|any)\s+(?:previous\s+|system\s+)?(?:instructions|rules|guidelines)\b",
    r"\b(?:ignoriere|vergiss|missachte)\s+(?:alle\s+)?(?:vorherigen|bisherigen|obigen|deine)\s+(?:anweisungen|regeln)",
    r"\bignor(?:e|ez)\s+(?:toutes\s+)?(?:les|tes|vos)\s+(?:instructions|consignes|règles)"
    r"\s+(?:précédentes|antérieures)",
    r"\bignora\s+(?:todas\s+)?(?:las|tus)\s+(?:instrucciones|reglas)\s+(?:anteriores|previas)",
)
_ROLE = _rx(
    r"\byou\s*(?:are|'re)\s+now\s+(?:an?\s+|in\s+|called\b|named\b|no\s+longer\b|free\b|unrestricted\b|unfiltered\b"
    r"|jailbroken\b|going\s+to\s+act|my\s+(?:assistant|slave|servant))",
    r"\bact\s+as\s+(?:an?\s+|my\s+|the\s+)?" + _W + r"{0,2}(?:ai|assistant|bot|chatbot|model|gpt|llm|developer|admin"
    r"|administrator|hacker|character|human|linux|terminal|system|jailbroken|unrestricted|unfiltered|evil)\b",
    r"\bact\s+as\s+(?:if|though)\s+you\b|\bpretend\s+(?:to\s+be|(?:that\s+)?you(?:'re|\s+are|\s+have))\b",
    r"\brole-?\s?play\s+as\b|\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must|shall|can)\b",
)
_JAILBREAK = _rx(r"\bdeveloper\s+mode\b|\bjail-?break\w*|\bdo\s+anything\s+now\b|\bgod\s+mode\s+(?:on|enabled)\b")
_DAN = re.compile(r"\b(?:[Yy]ou\s+are|[Yy]ou're|[Aa]ct\s+as|[Bb]ecome|[Ee]nable|[Aa]ctivate|as)\s+(?:a\s+|the\s+)?DAN\b"
                  r"|\bDAN\s+(?:[Mm]ode|[Pp]rompt|[Jj]ailbreak)\b")
_PROMPT = _rx(
    r"\b(?:system|initial|original|hidden|secret|internal|pre-?)\s*prompt\b",
    r"\b(?:reveal|print|show|display|repeat|output|echo|dump|leak|tell\s+me|give\s+me|share|list"
    r"|write\s+out|recite|quote|translate|summari[sz]e|paraphrase|rewrite|what\s+(?:are|were|is))"
    r"\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:your\s+(?:(?:system|initial|original|hidden|secret|internal|real|actual"
    r"|full|exact|complete|first)\s+)?|the\s+(?:initial|original|hidden|secret|internal)\s+)"
    r"(?:instructions?|rules|guidelines|directives|prompt|programming|configuration)"
    r"\b(?!\s+(?:for|on|about|regarding|when|if|to)\b)",
    r"\b(?:repeat|summari[sz]e|translate|print|output|reveal|paraphrase|rewrite)\s+(?:the\s+|all\s+|everything\s+)?"
    r"(?:text\s+|words\s+|content\s+|instructions\s+)?(?:above|before\s+this)\b"
    r"|\bwhat\s+(?:were|have)\s+you\s+been\s+told\b",
)
_VERB = r"\b(?:give|send|show|tell|share|reveal|print|leak|provide|list|output|dump|paste|what(?:'s|\s+is|\s+are))\b"
_SECRET = _rx(
    rf"{_VERB}\W+{_W}{{0,4}}?(?:api[\s_-]?keys?|openai[\s_-]?(?:api[\s_-]?)?keys?|secret\s+keys?|access\s+tokens?"
    r"|auth(?:entication)?\s+tokens?|bearer\s+tokens?|app\s+secret|private\s+keys?|ssh\s+keys?"
    r"|env(?:ironment)?\s+var(?:iable)?s|\.env\b)",
    rf"{_VERB}\W+{_W}{{0,3}}?(?:your|the\s+(?:admin|root|system|database|db|server|master))\s+"
    r"(?:(?:admin|root|system|database|db|server|master|login)\s+)?(?:passwords?|credentials|tokens?|secrets?)\b"
    r"(?!\s+(?:policy|requirements|reset|rules|page|link))",
)
_PEOPLE = r"(?:customers?|users?|clients?|members?|buyers?|people)"
_DATA = _rx(
    rf"\bother\s+{_PEOPLE}(?:'s?)?\s+(?:personal\s+)?(?:data|details|info|information|e-?mails?|e-?mail\s+addresses"
    r"|addresses|phone\s+numbers|numbers|names|accounts?|contact|records|order\s+history|purchase\s+history|payment)",
    r"\b(?:orders?|data|details|e-?mails?|addresses|accounts?|information)"
    rf"\s+of\s+(?:other|all|every|another)\s+{_PEOPLE}",
    r"\b(?:customer|client|user)\s+(?:list|database|db|records|e-?mail\s+list)\b",
    r"\b(?:list|export|dump|show|give|send|share|download|print)\s+(?:me\s+)?(?:the\s+|a\s+)?(?:list\s+of\s+)?"
    r"(?:all|every)\s+(?:(?:your|the|of\s+the|other)\s+)?(?:customers|users|clients|accounts|orders)\b",
    r"\ball\s+(?:users|customers)(?:'s?)?\s+(?:data|details|e-?mails?|addresses|phone\s+numbers|passwords)\b",
    r"\b(?:show|give|send|tell|check|look\s+up|access|see|find|track|status\s+of)\b\W+" + _W
    + r"{0,4}?(?:someone|somebody|anyone|another\s+(?:customer|person|user|client))(?:\s+else)?'?s\s+"
    r"(?:order|account|address|details|data|info|information|e-?mail|phone|number|purchase|parcel)",
)
_MARKER = _rx(
    r"(?im:^[^\S\n]*(?:system|assistant|###[^\S\n]*(?:system|instruction|assistant))[^\S\n]*:)",
    r"###|<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?inst\]|<</?sys>>",
    r"</?\s*(?:system|assistant|instructions?|untrusted[\w-]*|prompt)\s*>",
    flags=re.IGNORECASE,
)
_B64_RUN = re.compile(r"[A-Za-z0-9+/=_-]{8,}(?:\r?\n[A-Za-z0-9+/=_-]{8,})*")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")


def _norm(text: str) -> str:
    return fold(text, keep_newlines=True)


def _has_base64_blob(text: str) -> bool:
    for match in _B64_RUN.finditer(text):
        run = re.sub(r"\s", "", match.group())
        if len(run) > 200 and re.search(r"[a-z]", run) and re.search(r"[A-Z]", run) and re.search(r"\d", run):
            return True
    return False


def _is_emojiish(ch: str) -> bool:
    return ord(ch) >= 0x1F000 or unicodedata.category(ch) == "So" or ch == "\ufe0f"


def _needs_joiners(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM" and ord(ch) >= 0x0590  # Hebrew, Arabic, Persian, Indic and later scripts


def _has_invisible(text: str) -> bool:
    if not _INVISIBLE.search(text):
        return False
    rtl = any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)
    for match in _INVISIBLE.finditer(text):
        ch, i = match.group(), match.start()
        before = text[i - 1] if i > 0 else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if ch == "\u200d" and before and after and _is_emojiish(before) and _is_emojiish(after):
            continue
        if ch in "\u200c\u200d" and before and after and _needs_joiners(before) and _needs_joiners(after):
            continue
        if ch in "\u200e\u200f" and rtl:
            continue
        return True
    return False


def check_injection(inbound: str, metadata: Mapping[str, object] | None) -> GateResult:
    """Fail when the inbound message carries prompt-injection markers."""
    raw = inbound or ""
    text = _norm(raw)
    nfkc = unicodedata.normalize("NFKC", raw)
    rules = (
        ("ignore_instructions", "an instruction to ignore previous instructions", _IGNORE.search(text)),
        ("role_override", "an attempt to give the assistant a new role", _ROLE.search(text)),
        ("jailbreak", "a jailbreak phrase", _JAILBREAK.search(text) or _DAN.search(nfkc)),
        ("prompt_request", "a request for the system prompt or instructions", _PROMPT.search(text)),
        ("secret_request", "a request for keys, tokens or credentials", _SECRET.search(text)),
        ("data_request", "a request for other customers' data", _DATA.search(text)),
        ("role_marker", "chat role markers or template tokens", _MARKER.search(text)),
        ("base64_blob", "a long base64 blob", _has_base64_blob(nfkc)),
        ("invisible_chars", "invisible or bidi control characters", _has_invisible(raw)),
        ("hidden_html_text", "text hidden in the HTML email",
         bool(metadata.get("hidden_text")) if isinstance(metadata, Mapping) else False),
    )
    return rules_result("injection", rules, "No prompt-injection marker found in the inbound message.",
                        "The inbound message contains ")
