"""When a reply may and should go out: the planner (pure), the rules, the inputs read from the
database, and contacts' time zones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._inputs import (
        plan_reply_time as plan_reply_time,
        reply_limits as reply_limits,
        window_closes as window_closes,
    )
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._inputs": ("plan_reply_time", "reply_limits", "window_closes",),
    })
