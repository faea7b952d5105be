"""Sending due jobs: the engine (claims, waves, pacing, outcomes), the checks just before a send, and
the one-run-per-channel locks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._engine import ExecuteReport as ExecuteReport, execute_jobs as execute_jobs
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._engine": ("ExecuteReport", "execute_jobs",),
    })
