"""autopilot: answer inbound messages with AI drafts, safe sends and a review queue.

The public Python API. The CLI (``autopilot_cli.cli``) is a thin layer over
these names; every other module is internal and may change.

Names are imported on first use (PEP 562) so that ``autopilot execute``, which
cron starts every minute, does not pay for modules it does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .channels import Registry as Registry
    from .clock import Clock as Clock, FixedClock as FixedClock, SystemClock as SystemClock
    from .config import Config as Config, config_from_dict as config_from_dict, load_config as load_config
    from .db.connection import Store as Store
    from .db.migrations import migrate as migrate, open_store as open_store
    from .decide import (
        Explanation as Explanation,
        ProcessReport as ProcessReport,
        explain_event as explain,  # noqa: F401  (the pipeline's name for it)
        process_events as process_events,
    )
    from .drafting import Services as Services, build_services as build_services
    from .errors import (
        AutopilotError as AutopilotError,
        ConfigError as ConfigError,
        DatabaseCorrupt as DatabaseCorrupt,
        DatabaseFull as DatabaseFull,
        DatabaseLocked as DatabaseLocked,
        InputError as InputError,
        NotFound as NotFound,
        SchemaTooNew as SchemaTooNew,
        SecretMissing as SecretMissing,
        SignatureMismatch as SignatureMismatch,
        StoreError as StoreError,
        UnknownFormat as UnknownFormat,
    )
    from .inbound import (
        IngestReport as IngestReport,
        ingest_bytes as ingest,  # noqa: F401  (the pipeline's name for it)
        ingest_bytes as ingest_bytes,
    )
    from .ops import StatusReport as StatusReport, init_directory as init_directory, system_status as system_status
    from .review import (
        Batch as Batch,
        ReviewFilter as ReviewFilter,
        ReviewItem as ReviewItem,
        approve as approve,
        approve_all_ready as approve_all_ready,
        reject as reject,
        review_queue as review_queue,
    )
    from .secrets import Secrets as Secrets, secrets_from_environment as secrets_from_environment
    from .sending import ExecuteReport as ExecuteReport, execute_jobs as execute_jobs
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        ".channels": (
            "Registry",
        ),
        ".clock": (
            "Clock", "FixedClock", "SystemClock",
        ),
        ".config": (
            "Config", "config_from_dict", "load_config",
        ),
        ".db.connection": (
            "Store",
        ),
        ".db.migrations": (
            "migrate", "open_store",
        ),
        ".decide": (
            "Explanation", "ProcessReport", "explain=explain_event", "process_events",
        ),
        ".drafting": (
            "Services", "build_services",
        ),
        ".errors": (
            "AutopilotError", "ConfigError", "DatabaseCorrupt", "DatabaseFull", "DatabaseLocked", "InputError",
            "NotFound", "SchemaTooNew", "SecretMissing", "SignatureMismatch", "StoreError", "UnknownFormat",
        ),
        ".inbound": (
            "IngestReport", "ingest=ingest_bytes", "ingest_bytes",
        ),
        ".ops": (
            "StatusReport", "init_directory", "system_status",
        ),
        ".review": (
            "Batch", "ReviewFilter", "ReviewItem", "approve", "approve_all_ready", "reject", "review_queue",
        ),
        ".secrets": (
            "Secrets", "secrets_from_environment",
        ),
        ".sending": (
            "ExecuteReport", "execute_jobs",
        ),
    })
