"""Building a run's services (drafter, knowledge index, moderation) from the config.

The CLI calls ``build_services`` with the secrets it resolved; tests build
``Services`` directly with whatever drafter they need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config import Config
from ..gates import GateResult
from ..secrets import Secrets
from ._base import Drafter
from ._knowledge import KnowledgeIndex

Moderator = Callable[[list[str]], list[GateResult]]


@dataclass
class Services:
    """What a ``process`` run needs besides the database: built by the caller from the config."""

    drafter: Drafter
    index: KnowledgeIndex | None
    moderator: Moderator | None = None


def build_services(config: Config, secrets: Secrets) -> tuple[Services, tuple[str, ...]]:
    """The services and the text fragments a draft must never reveal (the system prompt)."""
    index = KnowledgeIndex.from_file(config.resolve_path(config.drafter.knowledge_file))
    if config.drafter.kind == "offline":
        from ._offline import OfflineDrafter

        return Services(drafter=OfflineDrafter(), index=index), ()
    from ._openai_drafter import OpenAIDrafter, build_moderator

    api_key = secrets.require(config.drafter.api_key_env, "API key for [drafter] kind = 'openai'")
    drafter = OpenAIDrafter.from_config(config.drafter, api_key)
    moderator = build_moderator(config.drafter, api_key) if config.drafter.moderation else None
    return Services(drafter=drafter, index=index, moderator=moderator), drafter.protected_fragments
