"""Channel adapters: one module per provider behind the ``Adapter`` protocol (``_base.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._base import (
        MAX_ERROR_CHARS as MAX_ERROR_CHARS,
        REQUEST_WRITTEN as REQUEST_WRITTEN,
        Adapter as Adapter,
        Outcome as Outcome,
        Outgoing as Outgoing,
        SendResult as SendResult,
    )
    from ._registry import Registry as Registry
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._base": ("Adapter", "MAX_ERROR_CHARS", "Outcome", "Outgoing", "REQUEST_WRITTEN", "SendResult",),
        "._registry": ("Registry",),
    })
