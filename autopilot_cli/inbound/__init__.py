"""Inbound: provider payloads in (ingest, one result per file), parsed records, webhook signatures and
delivery statuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._files import (
        STDIN as STDIN,
        IngestProgress as IngestProgress,
        IngestRun as IngestRun,
        InputResult as InputResult,
        ingest_inputs as ingest_inputs,
    )
    from ._ingest import IngestReport as IngestReport, ingest_bytes as ingest_bytes
    from ._parsers import FORMATS as FORMATS
    from ._records import PreferenceUpdate as PreferenceUpdate
    from ._signature import verify as verify
    from ._statuses import adopt_statuses as adopt_statuses
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._files": ("IngestProgress", "IngestRun", "InputResult", "STDIN", "ingest_inputs",),
        "._ingest": ("IngestReport", "ingest_bytes",),
        "._parsers": ("FORMATS",),
        "._records": ("PreferenceUpdate",),
        "._signature": ("verify",),
        "._statuses": ("adopt_statuses",),
    })
