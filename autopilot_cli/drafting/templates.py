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


def first_name(name: str | None) -> str:
    if not name or not name.strip():
        return "there"
    return name.strip().split()[0][:40]


def render(template: str, *, answer: str, name: str | None, signature: str) -> str:
    values = {"greeting_name": first_name(name), "answer": answer.strip(), "signature": signature.strip()}
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    # An empty signature must not leave trailing blank lines behind.
    return re.sub(r"\n{3,}", "\n\n", text).strip()
