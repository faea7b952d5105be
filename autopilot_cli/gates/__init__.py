"""Gates: checks on the inbound message and the draft. Any failed gate sends the draft to review.

Each gate is a pure function returning a ``GateResult``; none touches the
database or the network (the moderation endpoint is called by the orchestrator
and passed in). Reason codes are ``<gate>:<rule>`` so that reviewers and
``explain`` can say exactly what fired.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    reasons: tuple[str, ...] = field(default=())
    detail: str = ""
