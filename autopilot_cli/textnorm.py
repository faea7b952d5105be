"""Text normalisation shared by the consent classifier, the gates and retrieval.

Rules match on a folded form of the text: NFKC (full-width and compatibility
forms become plain letters, "ＳＴＯＰ" → "STOP"), casefolded, curly apostrophes
straightened, invisible format characters (zero-width spaces, bidi controls)
dropped so "ki\u200bll" still reads "kill", whitespace collapsed.

Each check used to fold the same text again; the results are cached here
(a message is folded once per run, whichever gates look at it), and plain
ASCII — most messages — takes a fast path that skips Unicode work.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pt")
"""Languages whose opt-out keywords and phrases the consent rules know (config validation checks against it)."""

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_SPACES = re.compile(r"\s+")
# Unicode general category Cf (format characters: soft hyphen, zero-width and
# bidi controls, tag characters…), as one character class instead of a
# per-character category lookup.
_FORMAT_CHARS = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_SPACES_KEEP_NEWLINES = re.compile(r"[^\S\n]+")


@lru_cache(maxsize=4096)
def fold(text: str, keep_newlines: bool = False) -> str:
    if text.isascii():
        text = text.lower()
    else:
        text = drop_format_chars(unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES))
    return (_SPACES_KEEP_NEWLINES if keep_newlines else _SPACES).sub(" ", text)


@lru_cache(maxsize=4096)
def strip_accents(text: str) -> str:
    """Combining marks removed: "arrêt" → "arret" (after ``fold``)."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def drop_format_chars(text: str) -> str:
    """Invisible format characters (category Cf) removed."""
    return text if text.isascii() else _FORMAT_CHARS.sub("", text)


def typed_newlines(text: str) -> str:
    """Text typed on one command line: the two characters ``\\n`` stand for a new line
    (``approve --text``, ``ab create --variant``)."""
    return text.replace("\\n", "\n")
