"""Drafting replies: one ``Drafter`` interface, an offline and an OpenAI implementation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._base import DraftRequest as DraftRequest, DraftResult as DraftResult, Passage as Passage
    from ._conversation import recent_history as recent_history
    from ._factory import Services as Services, build_services as build_services
    from ._knowledge import KnowledgeFile as KnowledgeFile, KnowledgeIndex as KnowledgeIndex
    from ._offline import OfflineDrafter as OfflineDrafter
    from ._templates import render as render
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._base": ("DraftRequest", "DraftResult", "Passage",),
        "._conversation": ("recent_history",),
        "._factory": ("Services", "build_services",),
        "._knowledge": ("KnowledgeFile", "KnowledgeIndex",),
        "._offline": ("OfflineDrafter",),
        "._templates": ("render",),
    })
