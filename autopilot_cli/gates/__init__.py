"""Gates: checks on the inbound message and the draft. Any failed gate sends the draft to review.

Each gate is a pure function returning a ``GateResult``; none touches the
database or the network (the moderation endpoint is called by the orchestrator
and passed in). Reason codes are ``<gate>:<rule>`` so that reviewers and
``explain`` can say exactly what fired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._compliance import (
        check_compliance as check_compliance,
        mentioned_topics as mentioned_topics,
        topic_keys as topic_keys,
    )
    from ._grounding import check_grounding as check_grounding
    from ._injection import check_injection as check_injection
    from ._manipulation import check_manipulation as check_manipulation
    from ._result import GateResult as GateResult
    from ._safety import (
        check_safety as check_safety,
        matching_rules as matching_rules,
        moderation_result as moderation_result,
    )
    from ._sanity import (
        CHANNEL_LIMITS as CHANNEL_LIMITS,
        check_sanity as check_sanity,
        find_placeholders as find_placeholders,
        measure as measure,
    )
    from ._spam import check_spam as check_spam
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._compliance": ("check_compliance", "mentioned_topics", "topic_keys",),
        "._grounding": ("check_grounding",),
        "._injection": ("check_injection",),
        "._manipulation": ("check_manipulation",),
        "._result": ("GateResult",),
        "._safety": ("check_safety", "matching_rules", "moderation_result",),
        "._sanity": ("CHANNEL_LIMITS", "check_sanity", "find_placeholders", "measure",),
        "._spam": ("check_spam",),
    })
