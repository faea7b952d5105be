"""Confidence learned from review: the outcomes of decided drafts per intent and drafter, the Beta
posterior that calibrates the drafter's score, and the ``calibration`` report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._model import Calibrator as Calibrator, Outcomes as Outcomes, calibrate as calibrate
    from ._report import CalibrationReport as CalibrationReport, calibration_report as calibration_report
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._model": ("Calibrator", "Outcomes", "calibrate"),
        "._report": ("CalibrationReport", "calibration_report"),
    })
