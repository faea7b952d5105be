"""Judgement measured: ``autopilot eval`` runs the real pipeline on labelled cases and reports a
confusion matrix, auto-send precision and recall, opt-out recall and false positives, per tag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._cases import LABELS as LABELS, EvalCase as EvalCase, load_cases as load_cases, parse_cases as parse_cases
    from ._report import EvalReport as EvalReport, Misjudged as Misjudged
    from ._run import evaluate_cases as evaluate_cases
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._cases": ("EvalCase", "LABELS", "load_cases", "parse_cases"),
        "._report": ("EvalReport", "Misjudged"),
        "._run": ("evaluate_cases",),
    })
