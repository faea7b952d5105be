"""A person's decisions: the review queue, approvals and rejections, and the actions on jobs the engine
will not decide alone (reconcile, retry, resume).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._approvals import (
        ApprovalRefused as ApprovalRefused,
        Approved as Approved,
        Batch as Batch,
        approve as approve,
        approve_all_ready as approve_all_ready,
        approve_one as approve_one,
        opt_out_contact as opt_out_contact,
        reject as reject,
        reject_one as reject_one,
    )
    from ._job_actions import (
        jobs_needing_reconcile as jobs_needing_reconcile,
        reconcile as reconcile,
        resume_channel as resume_channel,
        retry as retry,
    )
    from ._queue import (
        ReviewFilter as ReviewFilter,
        ReviewItem as ReviewItem,
        drafts_in_review as drafts_in_review,
        format_duration as format_duration,
        get_item as get_item,
        load_details as load_details,
        review_queue as review_queue,
        window_text as window_text,
    )
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._approvals": (
            "ApprovalRefused", "Approved", "Batch", "approve", "approve_all_ready", "approve_one", "opt_out_contact",
            "reject", "reject_one",
        ),
        "._job_actions": ("jobs_needing_reconcile", "reconcile", "resume_channel", "retry",),
        "._queue": (
            "ReviewFilter", "ReviewItem", "drafts_in_review", "format_duration", "get_item", "load_details",
            "review_queue", "window_text",
        ),
    })
