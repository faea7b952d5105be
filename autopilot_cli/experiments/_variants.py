"""A/B variant assignment: sticky per contact, honouring weights.

Experiments from the config are synced into the database at the start of
``process``. A contact's variant is a pure function of (experiment, contact):
sha256 of both, read as a number in [0, 1), picks a variant by cumulative
weight. The first assignment is stored, and a stored assignment always wins —
so a weight change later never moves a contact between variants.

Two states change how a *new* contact (no stored assignment) is placed:

- ``promoted`` (``ab.py``: a winner was declared and ``auto_promote`` is on):
  the winner, without storing an assignment — ``ab resume`` brings back the
  weighted split for these contacts.
- ``allocation = "bandit"``: once every variant has ``[ab] bandit_min_sends``
  sends, Thompson sampling — one draw from each variant's Beta(1 + successes,
  1 + failures) posterior on the experiment's metric, the highest wins. The
  draw's RNG is seeded with ``[ab] seed``, the experiment and the contact, so
  the same data always gives the same assignment. The counts are read once
  per ``process`` run (``load_experiments``), so within a run allocation does
  not drift with the run's own sends.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..config import ABSection, ExperimentConfig
from ..db import experiments as experiment_rows
from ._metrics import metric_arm, variant_counts
from ._stats import thompson_pick


@dataclass(frozen=True)
class Assignment:
    experiment_id: int
    experiment: str
    variant_id: int
    variant: str
    template: str
    sticky: bool = True
    """False for a promoted winner given to a new contact: not stored, so ``ab resume`` undoes it."""
    how: str = "hash"
    """stored, hash, bandit or promoted."""


def sync_experiments(conn: sqlite3.Connection, experiments: list[ExperimentConfig], now: str) -> None:
    """Create config-defined experiments and their variants; existing ones keep their state.

    The config owns a config-made experiment's channels, metric, allocation and
    auto_promote: a change in the file applies at the next run. Its state
    (active, stopped, promoted) belongs to the database (``ab stop``/``resume``).
    """
    for exp in experiments:
        settings: dict[str, Any] = {"channels": list(exp.channels), "metric": exp.metric,
                                    "allocation": exp.allocation, "auto_promote": exp.auto_promote, "now": now}
        exp_id = experiment_rows.id_by_name(conn, exp.name)
        if exp_id is None:
            exp_id = experiment_rows.insert_from_config(conn, name=exp.name, **settings)
        else:
            experiment_rows.update_from_config(conn, exp_id, **settings)
        for position, variant in enumerate(exp.variants):
            experiment_rows.add_variant_once(conn, exp_id, name=variant.name, position=position,
                                             weight=variant.weight, template=variant.template)


def bucket(experiment: str, contact_id: int) -> float:
    digest = hashlib.sha256(f"{experiment}\x00{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(variants: list[sqlite3.Row], point: float) -> sqlite3.Row:
    total = sum(v["weight"] for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant["weight"] / total
        if point < edge:
            return variant
    return variants[-1]


@dataclass(frozen=True)
class Experiment:
    id: int
    name: str
    channels: tuple[str, ...]
    state: str
    winner_variant_id: int | None
    variants: tuple[sqlite3.Row, ...]
    allocation: str = "fixed"
    arms: tuple[tuple[int, int], ...] | None = None
    """Bandit experiments: (successes, trials) per variant, in order, on the experiment's metric."""
    seed: int = 0
    bandit_min_sends: int = 30

    def bandit_ready(self) -> bool:
        return (self.allocation == "bandit" and self.arms is not None and len(self.arms) == len(self.variants)
                and min(n for _, n in self.arms) >= self.bandit_min_sends)


def load_experiments(conn: sqlite3.Connection, ab: ABSection | None = None, now: str | None = None) -> list[Experiment]:
    """Active experiments with their variants: read once per run, not once per event.

    ``ab`` and ``now`` are needed for bandit allocation (its counts); without
    them a bandit experiment falls back to its weights.
    """
    experiments = []
    for row in experiment_rows.running(conn):
        variants = experiment_rows.variants_of(conn, row["id"])
        if not variants:
            continue
        arms = None
        if row["allocation"] == "bandit" and ab is not None and now is not None:
            counts = variant_counts(conn, [v["id"] for v in variants], attribution_hours=ab.attribution_hours, now=now)
            arms = tuple(metric_arm(counts[v["id"]], row["metric"]) for v in variants)
        experiments.append(Experiment(
            row["id"], row["name"], tuple(json.loads(row["channels"])), row["state"], row["winner_variant_id"],
            tuple(variants), allocation=row["allocation"], arms=arms,
            seed=ab.seed if ab is not None else 0,
            bandit_min_sends=ab.bandit_min_sends if ab is not None else 30,
        ))
    return experiments


def bandit_rng(seed: int, experiment: str, contact_id: int) -> random.Random:
    # A str seed is hashed with SHA-512 (random.seed version 2): stable across
    # processes and Python runs, unlike hash().
    return random.Random(f"{seed}\x00{experiment}\x00{contact_id}")


def choose(conn: sqlite3.Connection, experiments: list[Experiment], channel: str, contact_id: int) -> Assignment | None:
    """The contact's variant for the channel's active experiment, without writing anything."""
    exp = next((e for e in experiments if channel in e.channels), None)
    if exp is None:
        return None
    stored = experiment_rows.assigned_variant(conn, exp.id, contact_id)
    by_id = {v["id"]: v for v in exp.variants}
    sticky, how = True, "hash"
    if stored is not None and stored in by_id:
        chosen, how = by_id[stored], "stored"
    elif exp.state == "promoted" and exp.winner_variant_id in by_id:
        chosen, sticky, how = by_id[exp.winner_variant_id], False, "promoted"
    elif exp.bandit_ready():
        assert exp.arms is not None
        chosen, how = exp.variants[thompson_pick(exp.arms, bandit_rng(exp.seed, exp.name, contact_id))], "bandit"
    else:
        chosen = pick(list(exp.variants), bucket(exp.name, contact_id))
    return Assignment(exp.id, exp.name, chosen["id"], chosen["name"], chosen["template"], sticky, how)


def record_assignment(conn: sqlite3.Connection, contact_id: int, assignment: Assignment, now: str) -> None:
    if not assignment.sticky:
        return
    experiment_rows.assign_once(conn, assignment.experiment_id, contact_id, assignment.variant_id, now)
