"""Deciding each inbound event: the process run, its ordered checks, the text checks done ahead, the
stored outcomes and their explanation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._explain import Explanation as Explanation, explain_event as explain_event
    from ._outcomes import Decision as Decision, send_key as send_key, text_hash as text_hash
    from ._process import ProcessReport as ProcessReport, process_events as process_events
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._explain": ("Explanation", "explain_event",),
        "._outcomes": ("Decision", "send_key", "text_hash",),
        "._process": ("ProcessReport", "process_events",),
    })
