"""Sanity gate: is the draft a message we can send at all?

Rules (reason ``sanity:<rule>``):

* ``empty`` — nothing but whitespace or invisible characters: the provider
  rejects it or the customer gets a blank message. The other rules are skipped.
* ``too_long`` — over the channel's limit (``CHANNEL_LIMITS``, the providers'
  published limits: WhatsApp text body 4096 characters, Instagram 1000 bytes of UTF-8). The
  provider would reject the send, or an email would be absurd. "chars" are
  counted as UTF-16 code units, never fewer than code points, so a draft that
  passes fits whichever way the provider counts (an emoji counts 2). A channel
  without an entry gets WhatsApp's 4096, as the drafter's request does.
* ``leaked_prompt`` — a protected fragment of the system prompt (at least 20
  characters) appears in the draft, compared casefolded with whitespace
  collapsed; for fragments longer than eight words any eight consecutive
  words (40+ characters) count too, so a partial leak is caught.
* ``secret`` — something that looks like a credential: OpenAI ``sk-`` keys,
  Meta ``EAA`` tokens, ``Bearer`` tokens, AWS ``AKIA``/``ASIA`` key ids, PEM
  private keys, Slack ``xox?-`` tokens, GitHub ``ghp_``/``github_pat_``
  tokens, 40+ hex digits, and base64-like runs of 40+ characters mixing
  upper case, lower case and digits with high entropy. The two generic rules
  skip text inside URLs (a tracking link's id is not a secret); the specific
  ones do not.
* ``placeholder`` — an unfilled template slot: ``{answer}``, ``{{ name }}``,
  ``{% ... %}``, ``${name}``, ``[ANSWER]``/``[YOUR NAME]`` (the OpenAI
  drafter's template uses ``[ANSWER]``) or ``[your name]``-style brackets.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from ..channels.policy import POLICIES
from ..textnorm import drop_format_chars
from ._result import GateResult, rules_result

CHANNEL_LIMITS: dict[str, tuple[str, int]] = {name: (p.text_limit_unit, p.text_limit) for name, p in POLICIES.items()}
_DEFAULT_LIMIT = ("chars", 4096)

_SPECIFIC_SECRETS = (
    re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9])EAA[A-Za-z0-9]{30,}"),
    re.compile(r"\bbearer\s+[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE),
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"),
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"),
    re.compile(r"(?<![\w-])xox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
)
_HEX = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{40,}(?![0-9A-Za-z])")
_B64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,}={0,2}")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"\{\{[^{}\n]{0,80}\}\}|\{%[^%\n]{0,80}%\}|\$\{\s*\w+\s*\}|\{\s*[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\s*\}"
    r"|\[[A-Z][A-Z0-9_ ]{2,40}\]"
    r"|\[(?i:your|customer|company|first|last|insert|agent|recipient|name)\b[^\]\n]{0,30}\]"
)


def find_placeholders(text: str) -> list[str]:
    """Unfilled template slots in ``text`` (``{first_name}``, ``{{ name }}``, ``[YOUR NAME]`` …), in order."""
    return [m.group(0) for m in _PLACEHOLDER.finditer(text)]


def _visible(text: str) -> str:
    return drop_format_chars(text)


def _squash(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def measure(text: str, channel: str) -> tuple[int, str, int]:
    """(size, unit, limit): the text's size as the channel's provider counts it (UTF-8 bytes, or UTF-16
    code units — an emoji counts two), and that channel's limit. The one measure for drafts and edits."""
    unit, limit = CHANNEL_LIMITS.get((channel or "").casefold(), _DEFAULT_LIMIT)
    return _length(text, unit), unit, limit


def _length(draft: str, unit: str) -> int:
    encoding = "utf-8" if unit == "bytes" else "utf-16-le"
    size = len(draft.encode(encoding, "surrogatepass"))
    return size if unit == "bytes" else size // 2


def _leaks(draft: str, fragments: Sequence[str]) -> bool:
    text = _squash(draft)
    for fragment in fragments:
        squashed = _squash(fragment) if isinstance(fragment, str) else ""
        if len(squashed) < 20:
            continue
        if squashed in text:
            return True
        words = squashed.split()
        for i in range(len(words) - 8 + 1 if len(words) > 8 else 0):
            window = " ".join(words[i:i + 8])
            if len(window) >= 40 and window in text:
                return True
    return False


def _entropy(token: str) -> float:
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def _generic_secret(draft: str) -> bool:
    urls = [m.span() for m in _URL.finditer(draft)]

    def in_url(start: int) -> bool:
        return any(a <= start < b for a, b in urls)

    for m in _HEX.finditer(draft):
        token = m.group()
        if not in_url(m.start()) and re.search(r"[A-Fa-f]", token) and re.search(r"\d", token):
            return True
    for m in _B64.finditer(draft):
        token = m.group().rstrip("=")
        if in_url(m.start()) or not (
            re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"\d", token)
        ):
            continue
        # A slug ("winter-jacket-blue-XL-2024-...") splits into short pieces; a key does not.
        if max(len(part) for part in re.split(r"[-_/+]", token)) >= 16 and _entropy(token) >= 4.2:
            return True
    return False


def _secret(draft: str) -> bool:
    for pattern in _SPECIFIC_SECRETS:
        for m in pattern.finditer(draft):
            token = m.group()
            if token.startswith("sk-") and not any(
                len(part) >= 16 and re.search(r"\d", part) and re.search(r"[A-Za-z]", part)
                for part in re.split(r"[-_]", token[3:])
            ):
                continue  # "sk-ii-facial-treatment-essence-230ml" is a product, not a key
            if token[:6].casefold() == "bearer" and not re.search(r"[\d._~+/=-]", token[6:].strip()):
                continue
            return True
    return _generic_secret(draft)


def check_sanity(draft: str, channel: str, protected_fragments: Sequence[str] = ()) -> GateResult:
    return _check_sanity(draft, channel, tuple(protected_fragments))


@lru_cache(maxsize=2048)  # drafts repeat; the check is a pure function of its arguments
def _check_sanity(draft: str, channel: str, protected_fragments: tuple[str, ...]) -> GateResult:
    """Fail when the draft is empty, too long, leaks the prompt or a secret, or has unfilled slots."""
    draft = draft or ""
    if not _visible(draft).strip():
        return GateResult("sanity", False, ("sanity:empty",), "The draft is empty.")
    size, unit, limit = measure(draft, channel)
    rules = (
        ("too_long", f"it is {size} {unit} long, over the {channel} limit of {limit}", size > limit),
        ("leaked_prompt", "it repeats part of the system prompt", _leaks(draft, protected_fragments)),
        ("secret", "it contains a secret-looking string", _secret(draft)),
        ("placeholder", "it has an unfilled template placeholder", bool(_PLACEHOLDER.search(draft))),
    )
    return rules_result("sanity", rules, "The draft is non-empty, within the channel limit and clean.",
                        "The draft cannot be sent as is: ")
