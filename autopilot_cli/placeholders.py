"""Reply-template placeholders: the names a template may use, and the one check that config validation,
``ab create`` and the drafters share (a typo'd placeholder would otherwise reach a customer as is)."""

from __future__ import annotations

import re

TEMPLATE_FIELDS = ("greeting_name", "answer", "signature")
_ANY_PLACEHOLDER = re.compile(r"\{([^{}\s]{1,40})\}")


def template_problem(template: str) -> str | None:
    """Why a reply template is unusable, else None."""
    if "{answer}" not in template:
        return "the template must contain {answer}; {greeting_name} and {signature} are optional"
    unknown = sorted({m for m in _ANY_PLACEHOLDER.findall(template)} - set(TEMPLATE_FIELDS))
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}; use {{greeting_name}}, {{answer}}, {{signature}}"
    return None
