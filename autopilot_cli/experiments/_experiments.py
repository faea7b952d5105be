"""A/B experiments: create, list, stop, resume, report, and auto-promotion.

Experiments come from the config (``[[experiments]]``, synced by ``process``)
or from ``autopilot ab create``. The first variant is the control.

``experiment_report`` assembles what ``autopilot ab-report`` shows: per
variant the counts (``ab_metrics``), the rate of the experiment's metric with
its 95% Wilson interval, and against the control the two-sided z-test
p-value, the relative lift, P(beat control) and P(best) (``ab_stats``). The
verdict follows the significance rule in ``ab_stats``: a **winner** only when
every variant has ``[ab] min_sample_per_variant`` sends and the leader's
z-test against every other variant has p < alpha / (variants - 1); otherwise
**not enough data**, with about how many more sends each variant needs to
detect the observed difference between the leader and its closest rival at
``[ab] power``.

Guardrail: a variant whose opt-out rate is higher than the control's with a
two-sided p < alpha (no multiple-comparison split: a guardrail should rather
warn once too often) gets a warning, whatever the sample size; such a
variant is never auto-promoted.

Auto-promotion (``promote_winners``, run at the end of every ``process``
run, after the run's events — and the opt-outs they carried — are recorded):
an active experiment with ``auto_promote`` whose verdict names a winner that
passes the guardrail becomes ``promoted`` — from the next run on, new contacts
get the winner — recorded in ``audit_log``. ``ab resume`` undoes it and holds further auto-promotion of
that experiment, since an operator has overruled it.

Caveat, also in the README: looking at the report every day and stopping at
the first significant result inflates the false-positive rate (the
"peeking" problem); the minimum sample is the guard against the worst of
it. Decide the sample size up front and wait for it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from ..channels.policy import CHANNELS
from ..clock import Clock, to_iso
from ..config import ABSection, Config
from ..db import audit, experiments as experiment_rows
from ..db.connection import Store
from ..errors import AutopilotError, NotFound
from ..placeholders import template_problem
from ..textnorm import typed_newlines
from ._metrics import VariantCounts, metric_arm, variant_counts
from ._stats import bayes_probabilities, relative_lift, required_sample_size, two_proportion_p_value, wilson_interval

METRICS = ("replied", "opened", "converted")
ALLOCATIONS = ("fixed", "bandit")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


# -- experiments --------------------------------------------------------------------------------------------------


class VariantInfo(BaseModel):
    name: str
    weight: float
    template: str
    assigned: int
    """Contacts with a stored (sticky) assignment to this variant."""


class ExperimentInfo(BaseModel):
    name: str
    state: str
    origin: str
    channels: list[str]
    metric: str
    allocation: str
    auto_promote: bool
    hold_promotion: bool
    winner: str | None
    promoted_at: str | None
    created_at: str
    updated_at: str
    variants: list[VariantInfo]


@dataclass(frozen=True)
class VariantSpec:
    name: str
    weight: float
    template: str


def parse_variant_spec(text: str) -> VariantSpec:
    """``NAME:WEIGHT:TEMPLATE`` (the template may contain colons; ``\\n`` means a new line)."""
    parts = text.split(":", 2)
    if len(parts) != 3:
        raise ValueError(f"{text!r} is not NAME:WEIGHT:TEMPLATE")
    name, weight_text, template = parts[0].strip(), parts[1].strip(), typed_newlines(parts[2])
    if not _NAME.match(name):
        raise ValueError(f"variant name {name!r}: use letters, digits, '_', '-' or '.' (at most 64)")
    try:
        weight = float(weight_text)
    except ValueError:
        raise ValueError(f"variant {name!r}: weight {weight_text!r} is not a number") from None
    if not weight > 0 or weight != weight or weight == float("inf"):
        raise ValueError(f"variant {name!r}: weight must be a positive number")
    problem = template_problem(template)
    if problem:
        raise ValueError(f"variant {name!r}: {problem}")
    return VariantSpec(name, weight, template)


def _experiment_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = experiment_rows.by_name(conn, name)
    if row is None:
        names = experiment_rows.names(conn)
        known = f"; experiments: {', '.join(names)}" if names else "; there are no experiments yet"
        raise NotFound(f"no experiment named {name!r}{known}")
    return row


def _variants(conn: sqlite3.Connection, experiment_id: int) -> list[sqlite3.Row]:
    return experiment_rows.variants_of(conn, experiment_id)


def _info(conn: sqlite3.Connection, row: sqlite3.Row) -> ExperimentInfo:
    variants = _variants(conn, row["id"])
    assigned = experiment_rows.assignment_counts(conn, row["id"])
    winner = next((v["name"] for v in variants if v["id"] == row["winner_variant_id"]), None)
    return ExperimentInfo(
        name=row["name"], state=row["state"], origin=row["origin"], channels=json.loads(row["channels"]),
        metric=row["metric"], allocation=row["allocation"], auto_promote=bool(row["auto_promote"]),
        hold_promotion=bool(row["hold_promotion"]), winner=winner, promoted_at=row["promoted_at"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        variants=[VariantInfo(name=v["name"], weight=v["weight"], template=v["template"],
                              assigned=assigned.get(v["id"], 0)) for v in variants],
    )


def _audit(conn: sqlite3.Connection, now: str, actor: str, action: str, name: str, detail: dict) -> None:
    audit.record(conn, at=now, actor=actor, action=action, object_type="experiment", object_id=name, detail=detail)


def create_experiment(
    store: Store, clock: Clock, name: str, variants: Sequence[VariantSpec], *,
    channels: Sequence[str] | None = None, metric: str = "replied", allocation: str = "fixed",
    auto_promote: bool = False, actor: str = "cli",
) -> ExperimentInfo:
    """A new active experiment; the first variant is the control."""
    if not _NAME.match(name):
        raise AutopilotError(f"experiment name {name!r}: use letters, digits, '_', '-' or '.' (at most 64)")
    if len(variants) < 2:
        raise AutopilotError("an experiment needs at least two variants (the first is the control)")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise AutopilotError("variant names must be unique")
    chosen = list(channels) if channels else list(CHANNELS)
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown:
        raise AutopilotError(f"unknown channel {unknown[0]!r}; channels are {', '.join(CHANNELS)}")
    if metric not in METRICS:
        raise AutopilotError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    if allocation not in ALLOCATIONS:
        raise AutopilotError(f"unknown allocation {allocation!r}; one of {', '.join(ALLOCATIONS)}")
    now = to_iso(clock.now())
    with store.transaction() as conn:
        if experiment_rows.by_name(conn, name) is not None:
            raise AutopilotError(f"experiment {name!r} already exists (see 'autopilot ab list')")
        taken = experiment_rows.running_except(conn)
        for other in taken:
            overlap = sorted(set(chosen) & set(json.loads(other["channels"])))
            if overlap:
                # One experiment per channel at a time: the first active one would win
                # silently and this one would never get a contact.
                raise AutopilotError(
                    f"experiment {other['name']!r} is already running on {', '.join(overlap)}; "
                    f"stop it first ('autopilot ab stop {other['name']}') or choose other --channels"
                )
        experiment_rows.create(conn, name=name, channels=chosen, metric=metric, allocation=allocation,
                               auto_promote=auto_promote, variants=[(v.name, v.weight, v.template) for v in variants],
                               now=now)
        _audit(conn, now, actor, "ab_create", name, {"variants": names, "channels": chosen, "metric": metric,
                                                      "allocation": allocation, "auto_promote": auto_promote})
        return _info(conn, _experiment_row(conn, name))


def list_experiments(store: Store) -> list[ExperimentInfo]:
    conn = store.conn
    return [_info(conn, row) for row in experiment_rows.every(store)]


def stop_experiment(store: Store, clock: Clock, name: str, *, actor: str = "cli") -> ExperimentInfo:
    """No new assignments; contacts get the default template. Data and reports stay."""
    now = to_iso(clock.now())
    with store.transaction() as conn:
        row = _experiment_row(conn, name)
        if row["state"] == "stopped":
            raise AutopilotError(f"experiment {name!r} is already stopped")
        experiment_rows.stop(conn, row["id"], now)
        _audit(conn, now, actor, "ab_stop", name, {"from": row["state"]})
        return _info(conn, _experiment_row(conn, name))


def resume_experiment(store: Store, clock: Clock, name: str, *, actor: str = "cli") -> ExperimentInfo:
    """A stopped or promoted experiment assigns by weight (or bandit) again.

    Resuming a promoted experiment clears the winner and holds auto-promotion
    for it: the operator has overruled the automatic decision.
    """
    now = to_iso(clock.now())
    with store.transaction() as conn:
        row = _experiment_row(conn, name)
        if row["state"] == "active":
            raise AutopilotError(f"experiment {name!r} is already active")
        hold = 1 if row["state"] == "promoted" else row["hold_promotion"]
        for other in experiment_rows.running_except(conn, row["id"]):
            overlap = sorted(set(json.loads(row["channels"])) & set(json.loads(other["channels"])))
            if overlap:
                raise AutopilotError(f"experiment {other['name']!r} is running on {', '.join(overlap)}; stop it first")
        experiment_rows.resume(conn, row["id"], hold, now)
        winner = next((v["name"] for v in _variants(conn, row["id"]) if v["id"] == row["winner_variant_id"]), None)
        _audit(conn, now, actor, "ab_resume", name, {"from": row["state"], "winner_was": winner,
                                                      "hold_promotion": bool(hold)})
        return _info(conn, _experiment_row(conn, name))


# -- the verdict --------------------------------------------------------------------------------------------------


@dataclass
class Judgement:
    status: str
    """winner | not_enough_data | no_data"""
    verdict: str
    winner: int | None = None
    needed: list[int | None] = field(default_factory=list)
    guardrail: dict[int, str] = field(default_factory=dict)


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _p(x: float) -> str:
    return f"{x:.2g}" if x >= 0.001 else "< 0.001"


def judge(names: Sequence[str], arms: Sequence[tuple[int, int]], opt_outs: Sequence[tuple[int, int]],
          settings: ABSection, metric: str = "replied") -> Judgement:
    """The verdict from counts alone (no Monte Carlo): what the report says and auto-promotion acts on."""
    k = len(arms)
    guardrail: dict[int, str] = {}
    c_out, c_sent = opt_outs[0]
    for j in range(1, k):
        o, n = opt_outs[j]
        p = two_proportion_p_value(c_out, c_sent, o, n)
        if p is not None and p < settings.alpha and o / n > c_out / c_sent:
            guardrail[j] = (f"{names[j]}: opt-out rate {_pct(o / n)} vs {_pct(c_out / c_sent)} for "
                            f"{names[0]} (p = {_p(p)}): significantly worse")
    trials = [n for _, n in arms]
    if all(n == 0 for n in trials):
        what = ("no sends on channels that report reads (email opens are not tracked)" if metric == "opened"
                else "no sends yet")
        return Judgement("no_data", f"not enough data: {what}", None, [settings.min_sample_per_variant] * k, guardrail)
    rates: list[float | None] = [s / n if n else None for s, n in arms]
    alpha_adj = settings.alpha / max(1, k - 1)
    known = [r for r in rates if r is not None]
    top = max(known)
    leaders = [i for i, r in enumerate(rates) if r == top]
    leader = leaders[0]
    comparisons = []
    for j in range(k):
        if j == leader:
            continue
        s1, n1 = arms[j]
        s2, n2 = arms[leader]
        p = two_proportion_p_value(s1, n1, s2, n2)
        comparisons.append((1.0 if p is None else p, j))
    worst_p, rival = max(comparisons)
    short = [i for i in range(k) if trials[i] < settings.min_sample_per_variant]
    if not short and len(leaders) == 1 and worst_p < alpha_adj:
        s_r, n_r = arms[rival]
        verdict = (f"{names[leader]} wins: {metric} rate {_pct(top)} vs {_pct(s_r / n_r)} for "
                   f"{names[rival]} (p = {_p(worst_p)} < {alpha_adj:.3g})")
        if leader in guardrail:
            verdict += "; but its opt-out rate is worse than the control's"
        return Judgement("winner", verdict, leader, [0] * k, guardrail)
    reasons = []
    if short:
        reasons.append("fewer than {} sends for {}".format(
            settings.min_sample_per_variant, ", ".join(f"{names[i]} ({trials[i]})" for i in short)))
    empty = [names[i] for i in range(k) if trials[i] == 0]
    if not empty and (len(leaders) > 1 or worst_p >= alpha_adj):
        reasons.append(f"the difference is not significant (p = {_p(worst_p)}, needs < {alpha_adj:.3g})")
    rival_rate = rates[rival] or 0.0
    required = required_sample_size(rival_rate, top, alpha_adj, settings.power) if not empty else None
    if required is None:
        needed: list[int | None] = [None] * k
        tail = ("no sends yet for " + ", ".join(empty) if empty else "no difference observed yet") + \
            ", so no sample size can be estimated"
        if short:
            needed = [max(0, settings.min_sample_per_variant - n) for n in trials]
            tail += f"; at least {max(v for v in needed if v is not None)} more sends per variant to reach the minimum"
    else:
        target = max(settings.min_sample_per_variant, required)
        needed = [max(0, target - n) for n in trials]
        tail = (f"about {max(v for v in needed if v is not None)} more sends per variant to detect "
                f"{_pct(top)} vs {_pct(rival_rate)} ({target} each) at {settings.power:.0%} power")
    return Judgement("not_enough_data", f"not enough data: {'; '.join(reasons)}; {tail}", None, needed, guardrail)


# -- the report ---------------------------------------------------------------------------------------------------


class VariantReport(BaseModel):
    name: str
    weight: float
    sent: int
    opened: int | None
    """WhatsApp/Instagram ``read`` statuses; None (n/a) when the variant has no sends on those channels."""
    open_tracked: int
    replied: int
    converted: int
    conversion_value: float
    opted_out: int
    opt_out_rate: float | None
    in_window: int
    """Sends whose attribution window is still open: rates may still rise."""
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value_vs_control: float | None
    lift_vs_control: float | None
    prob_beat_control: float | None
    prob_best: float | None


class ABReport(BaseModel):
    """``ab-report --json``: keys are stable and documented in the README."""

    experiment: str
    state: str
    metric: str
    allocation: str
    auto_promote: bool
    channels: list[str]
    alpha: float
    min_sample_per_variant: int
    attribution_hours: float
    as_of: str
    variants: list[VariantReport]
    winner: str | None
    promoted_variant: str | None
    status: str
    """winner | not_enough_data | no_data"""
    verdict: str
    needed_per_variant: dict[str, int | None] = Field(default_factory=dict)
    """About how many more sends each variant needs (0 = enough; None = cannot be estimated yet)."""
    guardrail_warnings: list[str] = Field(default_factory=list)


def _counts(conn: sqlite3.Connection, variants: list[sqlite3.Row], settings: ABSection,
            now: str) -> list[VariantCounts]:
    counts = variant_counts(conn, [v["id"] for v in variants], attribution_hours=settings.attribution_hours, now=now)
    return [counts[v["id"]] for v in variants]


def _report(conn: sqlite3.Connection, row: sqlite3.Row, settings: ABSection, now: str) -> ABReport:
    variants = _variants(conn, row["id"])
    metric = row["metric"]
    counts = _counts(conn, variants, settings, now)
    names = [v["name"] for v in variants]
    arms = [metric_arm(c, metric) for c in counts]
    judgement = judge(names, arms, [(c.opted_out, c.sent) for c in counts], settings, metric)
    bayes = bayes_probabilities(arms, settings.mc_draws, settings.seed) if any(n for _, n in arms) else None
    control_s, control_n = arms[0]
    control_rate = control_s / control_n if control_n else None
    out = []
    for i, (variant, c, (s, n)) in enumerate(zip(variants, counts, arms)):
        interval = wilson_interval(s, n)
        rate = s / n if n else None
        out.append(VariantReport(
            name=variant["name"], weight=variant["weight"], sent=c.sent, opened=c.opened, open_tracked=c.open_tracked,
            replied=c.replied, converted=c.converted, conversion_value=round(c.conversion_value, 2),
            opted_out=c.opted_out, opt_out_rate=c.opted_out / c.sent if c.sent else None, in_window=c.in_window,
            rate=rate, ci_low=interval[0] if interval else None, ci_high=interval[1] if interval else None,
            p_value_vs_control=None if i == 0 else two_proportion_p_value(control_s, control_n, s, n),
            lift_vs_control=None if i == 0 else relative_lift(control_rate, rate),
            prob_beat_control=None if i == 0 or bayes is None else bayes.prob_beat_control[i],
            prob_best=None if bayes is None else bayes.prob_best[i],
        ))
    promoted = next((v["name"] for v in variants if v["id"] == row["winner_variant_id"]), None)
    verdict = judgement.verdict
    if judgement.status == "winner" and row["state"] == "active" and row["auto_promote"] and not row["hold_promotion"]:
        verdict += ("; auto_promote is on, but not for a variant that fails the opt-out guardrail"
                    if judgement.winner in judgement.guardrail else "; the next 'process' run promotes it")
    pending = sum(c.in_window for c in counts)
    if pending:
        verdict += (f" ({pending} {'send is' if pending == 1 else 'sends are'} still inside the "
                    f"{settings.attribution_hours:g} h attribution window: rates may still rise)")
    return ABReport(
        experiment=row["name"], state=row["state"], metric=metric, allocation=row["allocation"],
        auto_promote=bool(row["auto_promote"]), channels=json.loads(row["channels"]), alpha=settings.alpha,
        min_sample_per_variant=settings.min_sample_per_variant, attribution_hours=settings.attribution_hours,
        as_of=now, variants=out, winner=names[judgement.winner] if judgement.winner is not None else None,
        promoted_variant=promoted if row["state"] == "promoted" else None, status=judgement.status, verdict=verdict,
        needed_per_variant=dict(zip(names, judgement.needed)),
        guardrail_warnings=[judgement.guardrail[i] for i in sorted(judgement.guardrail)],
    )


def experiment_report(store: Store, config: Config, clock: Clock, name: str) -> ABReport:
    conn = store.conn
    return _report(conn, _experiment_row(conn, name), config.ab, to_iso(clock.now()))


def all_reports(store: Store, config: Config, clock: Clock) -> list[ABReport]:
    now = to_iso(clock.now())
    return [_report(store.conn, row, config.ab, now) for row in experiment_rows.every(store)]


# -- auto-promotion -----------------------------------------------------------------------------------------------


def promote_winners(conn: sqlite3.Connection, settings: ABSection, now: str) -> list[str]:
    """Promote the winner of each active auto_promote experiment (inside the caller's transaction)."""
    promoted = []
    for row in experiment_rows.awaiting_promotion(conn):
        variants = _variants(conn, row["id"])
        if len(variants) < 2:
            continue
        counts = _counts(conn, variants, settings, now)
        names = [v["name"] for v in variants]
        judgement = judge(names, [metric_arm(c, row["metric"]) for c in counts],
                          [(c.opted_out, c.sent) for c in counts], settings, row["metric"])
        if judgement.winner is None or judgement.winner in judgement.guardrail:
            continue
        winner = variants[judgement.winner]
        experiment_rows.promote(conn, row["id"], winner["id"], now)
        _audit(conn, now, "autopilot", "ab_promote", row["name"], {
            "winner": winner["name"], "verdict": judgement.verdict,
            "counts": {n: {"sent": c.sent, "replied": c.replied, "opened": c.opened, "converted": c.converted,
                           "opted_out": c.opted_out} for n, c in zip(names, counts)},
        })
        promoted.append(row["name"])
    return promoted
