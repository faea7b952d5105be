"""``autopilot calibration``: per intent and drafter, what reviewers did and what it does to confidence;
and a reliability table — how often drafts of each confidence went out unchanged."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..config import Config
from ..db import calibration as rows
from ..db.connection import Store
from ._model import Calibrator, Outcomes, calibrate

BINS: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 0.95), (0.95, 1.0001))


class IntentFigures(BaseModel):
    drafter: str
    intent: str
    drafts: int
    approved_unchanged: int
    edited: int
    rejected: int
    raw_confidence: float | None
    """Mean of the drafter's own confidence over the intent's drafts."""
    calibrated_confidence: float | None
    """What that mean becomes with the outcomes (the formula in the README)."""


class ReliabilityBin(BaseModel):
    low: float
    high: float
    decided: int
    mean_confidence: float | None
    approved_unchanged_share: float | None


class CalibrationReport(BaseModel):
    """``calibration --json``: these keys, stable."""

    learn_from_review: bool
    strength: float
    intents: list[IntentFigures] = Field(default_factory=list)
    reliability: list[ReliabilityBin] = Field(default_factory=list)
    expected_calibration_error: float | None = None
    """Σ over bins of (decided in bin / decided) × |mean confidence − share approved unchanged|."""


def calibration_report(store: Store, config: Config) -> CalibrationReport:
    strength = config.autopilot.calibration_strength
    report = CalibrationReport(learn_from_review=config.autopilot.learn_from_review, strength=strength)
    outcomes = Calibrator.load(store.conn, strength).outcomes
    for row in rows.drafts_by_intent(store.conn):
        found = outcomes.get((row["drafter"], row["intent"]), Outcomes())
        raw = None if row["raw"] is None else round(float(row["raw"]), 3)
        report.intents.append(IntentFigures(
            drafter=row["drafter"], intent=row["intent"], drafts=int(row["drafts"]),
            approved_unchanged=found.unchanged, edited=found.edited, rejected=found.rejected,
            raw_confidence=raw, calibrated_confidence=None if raw is None else calibrate(raw, found, strength)))
    decided = rows.decided(store.conn)
    error = 0.0
    for low, high in BINS:
        inside = [r for r in decided if low <= float(r["raw"]) < high]
        mean = sum(float(r["raw"]) for r in inside) / len(inside) if inside else None
        share = sum(int(r["unchanged"]) for r in inside) / len(inside) if inside else None
        report.reliability.append(ReliabilityBin(
            low=low, high=min(high, 1.0), decided=len(inside), mean_confidence=None if mean is None else round(mean, 3),
            approved_unchanged_share=None if share is None else round(share, 3)))
        if inside and mean is not None and share is not None:
            error += len(inside) / len(decided) * abs(mean - share)
    report.expected_calibration_error = round(error, 4) if decided else None
    return report
