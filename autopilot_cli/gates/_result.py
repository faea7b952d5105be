"""What every gate returns, and the helpers that build it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    reasons: tuple[str, ...] = field(default=())
    detail: str = ""


def found_where(names: Iterable[str], inbound: frozenset[str], draft: frozenset[str]) -> list[tuple[str, str]]:
    """``(name, "the inbound message" | "the draft" | "the inbound message and the draft")`` for each
    name, in order, found in either text."""
    found = []
    for name in names:
        where = [text for text, hits in (("inbound message", inbound), ("draft", draft)) if name in hits]
        if where:
            found.append((name, "the " + " and the ".join(where)))
    return found


def rules_result(gate: str, rules: Iterable[tuple[str, str, Any]], passed: str, failed: str,
                 sep: str = "; ") -> GateResult:
    """A gate's result from its ``(rule, label, found)`` checks: reasons ``<gate>:<rule>`` for the
    ones found, and ``failed`` followed by their labels as the detail."""
    hits = [(rule, label) for rule, label, found in rules if found]
    if not hits:
        return GateResult(gate, True, (), passed)
    return GateResult(gate, False, tuple(f"{gate}:{rule}" for rule, _ in hits),
                      failed + sep.join(label for _, label in hits) + ".")
