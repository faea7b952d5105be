"""Confidence learned from review.

Every draft a person decided is an outcome for its (drafter, intent) — the knowledge entry for the
offline drafter (``faq:3``), the model's label for a model: approved unchanged (a success), approved
after an edit, or rejected (failures). With ``[autopilot] learn_from_review`` on, the confidence the
threshold sees is the mean of a Beta posterior whose prior is the drafter's own score:

    calibrated = (k × raw + unchanged) / (k + unchanged + edited + rejected)

``k`` (``calibration_strength``, default 4) is how many reviews the drafter's score weighs: with
raw 0.80, four unchanged approvals give (3.2 + 4) / 8 = 0.90 — above a 0.85 threshold, so the intent
earns AUTO — and two rejections after that give 7.2 / 10 = 0.72, and it loses it. Calibration moves
confidence only: the safety, compliance, injection, manipulation and grounding gates still decide.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..db import calibration as rows


@dataclass(frozen=True)
class Outcomes:
    unchanged: int = 0
    edited: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return self.unchanged + self.edited + self.rejected

    def describe(self) -> str:
        return f"{self.unchanged} approved unchanged, {self.edited} edited, {self.rejected} rejected"


def calibrate(raw: float, outcomes: Outcomes, strength: float) -> float:
    """The Beta-posterior mean (module docstring)."""
    if outcomes.total == 0:
        return raw
    return round((strength * raw + outcomes.unchanged) / (strength + outcomes.total), 3)


class Calibrator:
    """The review outcomes of every (drafter, intent), read once per run."""

    def __init__(self, outcomes: dict[tuple[str, str], Outcomes], strength: float) -> None:
        self.outcomes, self.strength = outcomes, strength

    @classmethod
    def load(cls, conn: sqlite3.Connection, strength: float) -> Calibrator:
        return cls({(r["drafter"], r["intent"]): Outcomes(int(r["unchanged"] or 0), int(r["edited"] or 0),
                                                          int(r["rejected"] or 0))
                    for r in rows.outcomes(conn)}, strength)

    def __call__(self, raw: float, drafter: str, intent: str | None) -> tuple[float, Outcomes]:
        found = self.outcomes.get((drafter, intent or ""), Outcomes())
        return calibrate(raw, found, self.strength), found
