"""Reply templates: the A/B variant's (or the default) wording around an answer.

Placeholders: ``{greeting_name}`` (the contact's first name, or "there"),
``{answer}``, ``{signature}``. Anything else in braces is left as written, so
a template can never raise on a customer's name or crash a run; an unfilled
``{answer}`` would be caught by the sanity gate.
"""

from __future__ import annotations

import re

DEFAULT_TEMPLATE = "Hi {greeting_name},\n\n{answer}\n\n{signature}"
HOLDING_ANSWER = "Thanks for your message! A member of our team will get back to you shortly."

_PLACEHOLDER = re.compile(r"\{(greeting_name|answer|signature)\}")


# A first name is letters, with inner apostrophes or hyphens and an optional
# final dot ("O'Neil", "Jean-Luc", "J."). Anything else — inner dots (domains) — digits, links, markup,
# emoji — could carry a customer's payload into our automatic reply, so it is not echoed back.
_NAME = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019\-](?=[^\W\d_]))*\.?")


def first_name(name: str | None) -> str:
    """The contact's first name if it is plainly a name, else "there"."""
    if not name or not name.strip():
        return "there"
    first = name.strip().split()[0]
    if len(first) > 30 or not _NAME.fullmatch(first):
        return "there"
    return first


def render(template: str, *, answer: str, name: str | None, signature: str) -> str:
    values = {"greeting_name": first_name(name), "answer": answer.strip(), "signature": signature.strip()}
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    # An empty signature must not leave trailing blank lines behind.
    return re.sub(r"\n{3,}", "\n\n", text).strip()
