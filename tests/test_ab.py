"""A/B testing: statistics against published values, metrics from the real pipeline, assignment, promotion.

Reference values (scipy is not a dependency, so each is a published worked
example or a value derived by an independent route in this file):

- Wilson intervals: Newcombe, "Two-sided confidence intervals for the single
  proportion: comparison of seven methods", Statistics in Medicine 17:857–872
  (1998), Table II, method 3 (score, no continuity correction).
- Two-proportion z-test: Penn State STAT 200, lesson 9.1.2.2 (Minitab, pooled:
  56/127 vs 62/99 → Z = −2.77, p = 0.006); homework examples 140/200 vs 255/340
  (z = −1.266015) and 28/254 vs 36/301 (z = −0.344, two-sided p = 0.7307).
  The p-values are also re-derived by integrating the normal density numerically.
- Sample size: JMP 13.2 documentation, "Two Sample Proportions": p1 = 0.08,
  p2 = 0.06, alpha = 0.05 two-sided, power 0.8 → 2554 per group.
- P(B beats A) with Beta posteriors: Evan Miller's closed form (“Formulas for
  Bayesian A/B testing”), an exact sum the Monte Carlo estimate must match.
- Goodness of fit: Pearson's chi-square with 2 degrees of freedom, whose
  survival function is exactly exp(−x/2).
"""

from __future__ import annotations

import io
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from autopilot_cli.channels import Registry
from autopilot_cli.cli import app
from autopilot_cli.cli._commands.ab_cmd import render_report
from autopilot_cli.clock import FixedClock, to_iso
from autopilot_cli.config import ABSection, config_from_dict
from autopilot_cli.decide import process_events
from autopilot_cli.decide._process import Services
from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter
from autopilot_cli.errors import AutopilotError, NotFound
from autopilot_cli.experiments import (
    Experiment,
    all_reports,
    choose,
    create_experiment,
    experiment_report,
    load_experiments,
    parse_variant_spec,
    promote_winners,
    record_conversion,
    resume_experiment,
    stop_experiment,
    sync_experiments,
)
from autopilot_cli.experiments._experiments import judge
from autopilot_cli.experiments._stats import (
    bayes_probabilities,
    relative_lift,
    required_sample_size,
    thompson_pick,
    two_proportion_p_value,
    two_proportion_z,
    wilson_interval,
)
from autopilot_cli.inbound import ingest_bytes
from autopilot_cli.secrets import Secrets
from autopilot_cli.sending import execute_jobs

from .conftest import NOW
from .helpers import outbox_channels

KNOWLEDGE = Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml"
CONTROL = "Hi {greeting_name},\n\n{answer}\n\n{signature}"
WARM = "Hello {greeting_name}! {answer}\n\nHave a lovely day,\n{signature}"


# -- statistics ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("s, n, low, high", [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (29, 29, 0.8830, 1.0000),
])
def test_wilson_interval_matches_newcombe_1998(s, n, low, high) -> None:
    got = wilson_interval(s, n)
    assert got is not None
    assert got[0] == pytest.approx(low, abs=5e-5) and got[1] == pytest.approx(high, abs=5e-5)


def test_wilson_interval_edges() -> None:
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    low, high = wilson_interval(500, 1000)
    assert low == pytest.approx(1 - high) and low < 0.5 < high


def _normal_two_sided_by_integration(z: float) -> float:
    """2·∫_{|z|}^{12} φ(t) dt by Simpson's rule: independent of math.erfc."""
    a, b, steps = abs(z), 12.0, 20_000
    h = (b - a) / steps
    total = 0.0
    for i in range(steps + 1):
        t = a + i * h
        weight = 1 if i in (0, steps) else (4 if i % 2 else 2)
        total += weight * math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    return 2 * total * h / 3


@pytest.mark.parametrize("s1, n1, s2, n2, z, p", [
    (62, 99, 56, 127, -2.77, 0.006),        # PSU STAT 200 9.1.2.2 (female − male as published)
    (255, 340, 140, 200, -1.266015, None),  # homework: z only (its p used a t distribution)
    (36, 301, 28, 254, -0.344, 0.7307),     # homework: two-sided p
])
def test_two_proportion_z_test_matches_published_examples(s1, n1, s2, n2, z, p) -> None:
    assert two_proportion_z(s1, n1, s2, n2) == pytest.approx(z, abs=0.005 if abs(z) > 1 and p else 5e-4)
    got = two_proportion_p_value(s1, n1, s2, n2)
    if p is not None:
        assert got == pytest.approx(p, abs=5e-4 if p > 0.1 else 5e-4)
    assert got == pytest.approx(_normal_two_sided_by_integration(z), abs=2e-3)
    # Symmetric, and z² is Pearson's chi-square of the 2×2 table (computed from the table).
    assert two_proportion_p_value(s2, n2, s1, n1) == pytest.approx(got)
    table = [[s1, n1 - s1], [s2, n2 - s2]]
    total = n1 + n2
    cols = [s1 + s2, total - s1 - s2]
    chi2 = sum((table[i][j] - [n1, n2][i] * cols[j] / total) ** 2 / ([n1, n2][i] * cols[j] / total)
               for i in range(2) for j in range(2))
    assert two_proportion_z(s1, n1, s2, n2) ** 2 == pytest.approx(chi2)


def test_two_proportion_edges() -> None:
    assert two_proportion_p_value(0, 0, 5, 10) is None
    assert two_proportion_p_value(0, 50, 0, 60) == 1.0  # no variation: no evidence
    assert two_proportion_p_value(50, 50, 60, 60) == 1.0
    assert relative_lift(0.10, 0.12) == pytest.approx(0.2)
    assert relative_lift(0.0, 0.12) is None and relative_lift(None, 0.1) is None


def test_sample_size_matches_jmp_and_delivers_the_power() -> None:
    assert required_sample_size(0.08, 0.06, 0.05, 0.8) == 2554
    assert required_sample_size(0.06, 0.08) == 2554
    assert required_sample_size(0.2, 0.2) is None
    # Power at that n by the normal approximation of the unpooled statistic: 0.80.
    n, p1, p2 = 2554, 0.08, 0.06
    pbar = (p1 + p2) / 2
    zc = 1.959963984540054
    power = 0.5 * math.erfc(-((abs(p1 - p2) * math.sqrt(n) - zc * math.sqrt(2 * pbar * (1 - pbar)))
                              / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) / math.sqrt(2))
    assert power == pytest.approx(0.80, abs=0.002)
    assert required_sample_size(0.10, 0.15, alpha=0.025) > required_sample_size(0.10, 0.15, alpha=0.05)


def _exact_prob_b_beats_a(sa: int, na: int, sb: int, nb: int) -> float:
    """Evan Miller's closed form for P(p_B > p_A) with Beta(1+s, 1+n−s) posteriors."""
    a_a, b_a, a_b, b_b = 1 + sa, 1 + na - sa, 1 + sb, 1 + nb - sb

    def lbeta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    return sum(math.exp(lbeta(a_a + i, b_a + b_b) - math.log(b_b + i) - lbeta(1 + i, b_b) - lbeta(a_a, b_a))
               for i in range(a_b))


@pytest.mark.parametrize("arms", [[(100, 1000), (120, 1000)], [(3, 20), (5, 20)], [(40, 400), (38, 380)]])
def test_bayes_prob_beat_control_matches_the_exact_formula(arms) -> None:
    draws = 40_000
    result = bayes_probabilities(arms, draws=draws, seed=7)
    exact = _exact_prob_b_beats_a(*arms[0], *arms[1])
    se = math.sqrt(exact * (1 - exact) / draws)
    assert abs(result.prob_beat_control[1] - exact) < 4 * se + 1e-9
    assert result.prob_beat_control[0] is None
    assert result.prob_best[1] == result.prob_beat_control[1]
    assert sum(result.prob_best) == pytest.approx(1.0)


def test_bayes_is_reproducible_for_three_variants() -> None:
    # Its speed (100,000 draws) is measured in benchmarks/bench_ab_bayes.py, not here.
    arms = [(100, 1000), (120, 1000), (110, 1000)]
    first = bayes_probabilities(arms, draws=100_000, seed=1)
    assert first == bayes_probabilities(arms, draws=100_000, seed=1)
    assert sum(first.prob_best) == pytest.approx(1.0)
    assert first.prob_best[1] > first.prob_best[2] > first.prob_best[0]


# -- the verdict ----------------------------------------------------------------------------------------------------


def test_verdict_needs_the_minimum_sample_and_significance() -> None:
    settings = ABSection(min_sample_per_variant=100)
    names = ["control", "warm"]
    no_opt_outs = [(0, 1), (0, 1)]
    # Significant, but too few sends: no winner, and how many more are needed.
    small = judge(names, [(2, 40), (20, 40)], [(0, 40), (0, 40)], settings)
    assert small.status == "not_enough_data" and small.winner is None
    assert "fewer than 100 sends" in small.verdict and small.needed == [60, 60]
    # Enough sends, significant: a winner.
    won = judge(names, [(100, 1000), (150, 1000)], [(0, 1000), (0, 1000)], settings)
    assert (won.status, won.winner) == ("winner", 1) and "warm wins" in won.verdict
    # Enough sends, not significant: about how many more for the observed effect.
    flat = judge(names, [(100, 1000), (110, 1000)], [(0, 1000), (0, 1000)], settings)
    assert flat.status == "not_enough_data"
    required = required_sample_size(0.10, 0.11, 0.05, 0.8)
    assert flat.needed == [required - 1000, required - 1000]
    assert f"about {required - 1000} more sends" in flat.verdict
    # No data at all.
    assert judge(names, [(0, 0), (0, 0)], no_opt_outs, settings).status == "no_data"


def test_three_variants_split_alpha_between_comparisons() -> None:
    settings = ABSection(min_sample_per_variant=100, alpha=0.05)
    # p ≈ 0.036 against each rival: below 0.05, not below 0.025.
    arms = [(100, 1000), (129, 1000), (100, 1000)]
    p = two_proportion_p_value(100, 1000, 129, 1000)
    assert 0.025 < p < 0.05
    assert judge(["a", "b", "c"], arms, [(0, 1000)] * 3, settings).winner is None
    assert judge(["a", "b"], arms[:2], [(0, 1000)] * 2, settings).winner == 1


def test_guardrail_warns_on_a_worse_opt_out_rate() -> None:
    settings = ABSection(min_sample_per_variant=100)
    result = judge(["control", "pushy"], [(100, 500), (160, 500)], [(1, 500), (15, 500)], settings)
    assert result.winner == 1
    assert list(result.guardrail) == [1] and "pushy: opt-out rate 3.0% vs 0.2%" in result.guardrail[1]
    calm = judge(["control", "pushy"], [(100, 500), (160, 500)], [(3, 500), (5, 500)], settings)
    assert calm.guardrail == {}


def test_variant_spec_parsing() -> None:
    spec = parse_variant_spec("warm:30:Hello {greeting_name}! {answer}\\n\\nBye: {signature}")
    assert (spec.name, spec.weight) == ("warm", 30.0)
    assert spec.template == "Hello {greeting_name}! {answer}\n\nBye: {signature}"
    for bad in ("warm", "warm:x:{answer}", "warm:0:{answer}", "warm:1:no answer here", "a b:1:{answer}"):
        with pytest.raises(ValueError):
            parse_variant_spec(bad)


# -- assignment -----------------------------------------------------------------------------------------------------


def _experiment(store, name="greeting", weights=(50, 30, 20), allocation="fixed"):
    exp = {"name": name, "channels": ["email"], "allocation": allocation, "variants": [
        {"name": f"v{i}", "weight": w, "template": "{answer}"} for i, w in enumerate(weights)]}
    config = config_from_dict({"experiments": [exp]})
    with store.transaction() as conn:
        sync_experiments(conn, config.experiments, to_iso(NOW))
    return load_experiments(store.conn)


def test_assignment_honours_weights_chi_square_on_10000_contacts(store) -> None:
    experiments = _experiment(store)
    counts = {"v0": 0, "v1": 0, "v2": 0}
    for contact in range(1, 10_001):
        counts[choose(store.conn, experiments, "email", contact).variant] += 1
    expected = {"v0": 5000, "v1": 3000, "v2": 2000}
    chi2 = sum((counts[k] - e) ** 2 / e for k, e in expected.items())
    p_value = math.exp(-chi2 / 2)  # chi-square survival function, 2 degrees of freedom
    assert p_value > 0.001, (counts, chi2)
    assert choose(store.conn, experiments, "whatsapp", 1) is None  # not in this experiment's channels


def test_assignment_is_sticky(store) -> None:
    experiments = _experiment(store)
    first = {c: choose(store.conn, experiments, "email", c) for c in range(1, 200)}
    assert all(choose(store.conn, experiments, "email", c) == a for c, a in first.items())
    # A stored assignment wins over the hash, whatever the weights say later.
    moved = next(c for c, a in first.items() if a.variant != "v2")
    other = next(v for v in experiments[0].variants if v["name"] == "v2")
    with store.transaction() as conn:
        conn.execute("INSERT INTO contacts (id, created_at, updated_at) VALUES (?, 'x', 'x')", (moved,))
        conn.execute(
            "INSERT INTO assignments (experiment_id, contact_id, variant_id, assigned_at) VALUES (?, ?, ?, 'x')",
            (experiments[0].id, moved, other["id"]),
        )
    again = choose(store.conn, experiments, "email", moved)
    assert (again.variant, again.how) == ("v2", "stored")


def test_bandit_is_reproducible_and_favours_the_better_arm(store) -> None:
    [base] = _experiment(store, weights=(1, 1), allocation="bandit")

    def with_arms(arms):
        return [Experiment(base.id, base.name, base.channels, base.state, None, base.variants, allocation="bandit",
                           arms=arms, seed=42, bandit_min_sends=30)]

    better = with_arms(((10, 200), (40, 200)))
    picks = [choose(store.conn, better, "email", c).variant for c in range(1, 1001)]
    assert picks.count("v1") > 950  # Beta(41,161) vs Beta(11,191): P(v1 draw higher) ≈ 1
    assert all(choose(store.conn, better, "email", c).how == "bandit" for c in range(1, 20))
    assert picks == [choose(store.conn, better, "email", c).variant for c in range(1, 1001)]
    # Close arms: both get traffic (exploration), still reproducible.
    close = with_arms(((20, 200), (22, 200)))
    split = [choose(store.conn, close, "email", c).variant for c in range(1, 1001)]
    assert 200 < split.count("v1") < 800
    # Before every arm has bandit_min_sends sends, the weights decide.
    early = with_arms(((0, 10), (5, 29)))
    assert {choose(store.conn, early, "email", c).how for c in range(1, 50)} == {"hash"}
    # thompson_pick itself: seeded RNG, same answer.
    import random
    assert [thompson_pick([(1, 10), (2, 10)], random.Random(3)) for _ in range(3)] == \
           [thompson_pick([(1, 10), (2, 10)], random.Random(3)) for _ in range(3)]


# -- the pipeline ---------------------------------------------------------------------------------------------------


def cfg(*, experiment: dict | None = None, **ab) -> object:
    ab = {"min_sample_per_variant": 5, "mc_draws": 2000, **ab}
    experiment = experiment or {"name": "greeting", "channels": ["whatsapp", "email"], "variants": [
        {"name": "control", "template": CONTROL}, {"name": "warm", "template": WARM}]}
    return config_from_dict({
        "channels": outbox_channels(),
        "experiments": [experiment], "ab": ab,
    })


def ingest_messages(store, config, messages: list[dict], at=NOW) -> None:
    data = "".join(json.dumps(m) + "\n" for m in messages).encode()
    report = ingest_bytes(store, data, fmt="jsonl", config=config, clock=FixedClock(at), secrets=Secrets({}))
    assert report.rejected == 0, report.errors


def msg(channel: str, sender: str, text: str, at: datetime, key: str) -> dict:
    return {"channel": channel, "id": key, "from": sender, "text": text, "received_at": to_iso(at)}


def process(store, config, at):
    return process_events(store, config, FixedClock(at),
                          Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(KNOWLEDGE)))


def execute(store, config, at):
    clock = FixedClock(at)
    return execute_jobs(store, config, clock, Registry(config, Secrets({}), store.path, clock))


def ingest_read_statuses(store, config, provider_ids: list[str], at: datetime) -> None:
    statuses = [{"id": pid, "status": "read", "timestamp": str(int(at.timestamp())), "recipient_id": "447700900000"}
                for pid in provider_ids]
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "1"},
        "statuses": statuses}}]}]}
    report = ingest_bytes(store, json.dumps(payload).encode(), fmt="whatsapp", config=config, clock=FixedClock(at),
                          secrets=Secrets({}))
    assert report.statuses == len(provider_ids)


def phone(i: int) -> str:
    return f"+4477009{i:05d}"  # UK numbers: 12:00 UTC is inside the default sending hours


def first_round(store, config, whatsapp: int, email: int, tag: str = "q", at: datetime = NOW) -> dict[str, dict]:
    """Real ingest → process → execute (outbox). Returns sender → its sent job row."""
    questions = [msg("whatsapp", phone(i), "When are you open?", at - timedelta(minutes=5), f"{tag}-wa-{i}")
                 for i in range(whatsapp)]
    questions += [msg("email", f"c{i}@example.org", "When are you open?", at - timedelta(minutes=5), f"{tag}-em-{i}")
                  for i in range(email)]
    ingest_messages(store, config, questions, at)
    process(store, config, at)
    execute(store, config, at + timedelta(minutes=10))
    rows = store.query("SELECT j.*, e.sender FROM jobs j JOIN events e ON e.id = j.event_id "
                       "WHERE e.external_id LIKE ? AND j.state = 'sent'", (f"{tag}-%",))
    return {r["sender"]: dict(r) for r in rows}


def by_variant(report) -> dict[str, dict]:
    return {v.name: v.model_dump() for v in report.variants}


def test_metrics_from_real_ingest_replies_statuses_opt_outs_and_conversions(store) -> None:
    config = cfg()
    jobs = first_round(store, config, whatsapp=24, email=12)
    assert len(jobs) == 36 and all(j["provider_message_id"].startswith("outbox:") for j in jobs.values())
    sent_at = NOW + timedelta(minutes=10)
    senders = sorted(jobs)
    wa = [s for s in senders if s.startswith("+")]
    em = [s for s in senders if "@" in s]
    variant = {s: jobs[s]["variant"] for s in senders}

    readers = wa[:10]
    ingest_read_statuses(
        store, config, [jobs[s]["provider_message_id"] for s in readers], sent_at + timedelta(minutes=3)
    )
    repliers = wa[::3] + em[::2]
    late = [wa[1], em[1]]            # answer after the 72 h window: not a reply to this send
    stopper = wa[2]                  # "STOP": an opt-out, not a reply
    twice = wa[0]                    # answers twice: one reply
    messages = [msg(jobs[s]["channel"], s, "Thanks, great!", sent_at + timedelta(hours=1), f"r-{s}") for s in repliers]
    messages.append(msg("whatsapp", twice, "And one more thing", sent_at + timedelta(hours=2), "r-twice"))
    messages += [msg(jobs[s]["channel"], s, "Hello again", sent_at + timedelta(hours=80), f"late-{s}") for s in late]
    messages.append(msg("whatsapp", stopper, "STOP", sent_at + timedelta(hours=2), "stop"))
    # A message from before the send is no reply to it.
    messages.append(msg("email", em[3], "Earlier note", sent_at - timedelta(minutes=1), "early"))
    ingest_messages(store, config, messages, sent_at + timedelta(hours=81))
    process(store, config, sent_at + timedelta(hours=81))  # records the opt-out; new replies stay scheduled
    buyers = [wa[4], em[5]]
    for s in buyers:
        record_conversion(store, FixedClock(sent_at + timedelta(hours=5)), s, value=10.0)
    record_conversion(store, FixedClock(sent_at + timedelta(hours=100)), wa[5], value=99.0)  # too late

    report = experiment_report(store, config, FixedClock(sent_at + timedelta(hours=100)), "greeting")
    got = by_variant(report)
    for name in ("control", "warm"):
        mine = [s for s in senders if variant[s] == name]
        mine_wa = [s for s in mine if s.startswith("+")]
        v = got[name]
        assert v["sent"] == len(mine)
        assert v["open_tracked"] == len(mine_wa)
        assert v["opened"] == (len([s for s in readers if variant[s] == name]) if mine_wa else None)
        assert v["replied"] == len([s for s in repliers if variant[s] == name])
        assert v["opted_out"] == (1 if variant[stopper] == name else 0)
        assert v["converted"] == len([s for s in buyers if variant[s] == name])
        assert v["conversion_value"] == 10.0 * v["converted"]
        assert v["in_window"] == 0
        assert v["rate"] == pytest.approx(v["replied"] / v["sent"])
        low, high = wilson_interval(v["replied"], v["sent"])
        assert (v["ci_low"], v["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert {got["control"]["sent"], got["warm"]["sent"]} != {0}
    warm, control = got["warm"], got["control"]
    assert warm["p_value_vs_control"] == pytest.approx(two_proportion_p_value(
        control["replied"], control["sent"], warm["replied"], warm["sent"]))
    assert control["p_value_vs_control"] is None and control["prob_beat_control"] is None
    assert report.status == "not_enough_data" or report.winner is not None
    # Sends whose window is still open are counted as such.
    fresh = experiment_report(store, config, FixedClock(sent_at + timedelta(hours=1)), "greeting")
    assert sum(v.in_window for v in fresh.variants) == 36 and "still inside" in fresh.verdict


def test_a_reply_counts_for_the_last_send_before_it(store) -> None:
    config = cfg(experiment={"name": "greeting", "channels": ["email"], "variants": [
        {"name": "control", "template": CONTROL}, {"name": "warm", "template": WARM}]})
    # Two questions → two sends in one execute run; the reply credits only the later one.
    ingest_messages(
        store,
        config,
        [
            msg("email", "ana@example.org", "When are you open?", NOW - timedelta(minutes=6), "a1"),
            msg("email", "ana@example.org", "Where is my parcel?", NOW - timedelta(minutes=5), "a2"),
        ],
    )
    process(store, config, NOW)
    execute(store, config, NOW + timedelta(minutes=10))
    assert store.scalar("SELECT count(*) FROM jobs WHERE state = 'sent'") == 2
    ingest_messages(store, config, [msg("email", "ana@example.org", "Thanks!", NOW + timedelta(hours=1), "a3")])
    [v] = [
        v for v in experiment_report(store, config, FixedClock(NOW + timedelta(days=5)), "greeting").variants if v.sent
    ]
    assert (v.sent, v.replied, v.opened, v.open_tracked) == (2, 1, None, 0)  # email: opens n/a, never 0


def test_auto_promote_then_resume(store) -> None:
    experiment = {"name": "greeting", "channels": ["whatsapp"], "auto_promote": True, "variants": [
        {"name": "control", "template": CONTROL}, {"name": "warm", "template": WARM}]}
    config = cfg(experiment=experiment, min_sample_per_variant=8)
    jobs = first_round(store, config, whatsapp=40, email=0)
    sent_at = NOW + timedelta(minutes=10)
    warm = [s for s, j in jobs.items() if j["variant"] == "warm"]
    assert len(warm) >= 8 and len(jobs) - len(warm) >= 8
    # Every warm contact answers, no control contact does: a clear winner.
    ingest_messages(
        store, config, [msg("whatsapp", s, "Thanks!", sent_at + timedelta(hours=1), f"r-{s}") for s in warm]
    )
    later = sent_at + timedelta(hours=2)
    report = experiment_report(store, config, FixedClock(later), "greeting")
    assert report.winner == "warm" and "next 'process' run promotes it" in report.verdict
    assigned_before = store.scalar("SELECT count(*) FROM assignments")

    # The next process run promotes at its end; from then on new contacts get the winner,
    # without a stored assignment (so that `ab resume` can give them the weighted split again).
    process(store, config, later)
    row = store.query("SELECT state, winner_variant_id, promoted_at FROM experiments")[0]
    assert row["state"] == "promoted" and row["promoted_at"] == to_iso(later)
    audit = store.query("SELECT actor, action, detail FROM audit_log WHERE action = 'ab_promote'")
    assert len(audit) == 1 and json.loads(audit[0]["detail"])["winner"] == "warm"
    new_questions = [msg("whatsapp", phone(100 + i), "When are you open?", later, f"n1-{i}") for i in range(12)]
    ingest_messages(store, config, new_questions, later)
    process(store, config, later + timedelta(minutes=1))
    new_variants = [r[0] for r in store.query(
        "SELECT j.variant FROM jobs j JOIN events e ON e.id = j.event_id WHERE e.external_id LIKE 'n1-%'")]
    assert new_variants == ["warm"] * 12
    assert store.scalar("SELECT count(*) FROM assignments") == assigned_before
    assert experiment_report(store, config, FixedClock(later), "greeting").promoted_variant == "warm"

    # ab resume: back to the weighted split, and no automatic re-promotion.
    info = resume_experiment(store, FixedClock(later + timedelta(hours=1)), "greeting", actor="ops")
    assert (info.state, info.winner, info.hold_promotion) == ("active", None, True)
    more = [
        msg("whatsapp", phone(200 + i), "When are you open?", later + timedelta(hours=1), f"n2-{i}") for i in range(30)
    ]
    ingest_messages(store, config, more, later + timedelta(hours=1))
    process(store, config, later + timedelta(hours=1, minutes=1))
    assert store.scalar("SELECT state FROM experiments") == "active"
    split = {r[0] for r in store.query(
        "SELECT j.variant FROM jobs j JOIN events e ON e.id = j.event_id WHERE e.external_id LIKE 'n2-%'")}
    assert split == {"control", "warm"}
    actions = [r[0] for r in store.query("SELECT action FROM audit_log WHERE object_type = 'experiment' ORDER BY id")]
    assert actions == ["ab_promote", "ab_resume"]


def test_bandit_allocation_from_real_counts(store) -> None:
    experiment = {"name": "greeting", "channels": ["whatsapp"], "allocation": "bandit", "variants": [
        {"name": "control", "template": CONTROL}, {"name": "warm", "template": WARM}]}
    config = cfg(experiment=experiment, bandit_min_sends=5)
    jobs = first_round(store, config, whatsapp=30, email=0)
    sent_at = NOW + timedelta(minutes=10)
    warm = [s for s, j in jobs.items() if j["variant"] == "warm"]
    ingest_messages(
        store, config, [msg("whatsapp", s, "Thanks!", sent_at + timedelta(hours=1), f"r-{s}") for s in warm]
    )
    later = sent_at + timedelta(hours=2)
    [exp] = load_experiments(store.conn, config.ab, to_iso(later))
    assert exp.arms == ((0, len(jobs) - len(warm)), (len(warm), len(warm))) and exp.bandit_ready()
    new = [msg("whatsapp", phone(300 + i), "When are you open?", later, f"b-{i}") for i in range(20)]
    ingest_messages(store, config, new, later)
    process(store, config, later + timedelta(minutes=1))
    query = ("SELECT j.variant FROM jobs j JOIN events e ON e.id = j.event_id WHERE e.external_id LIKE 'b-%' "
             "ORDER BY e.external_id")
    picks = [r[0] for r in store.query(query)]
    assert picks.count("warm") >= 19
    # Bandit picks are stored like any assignment: sticky from then on.
    assert store.scalar("SELECT count(*) FROM assignments a JOIN variants v ON v.id = a.variant_id "
                        "WHERE v.name = 'warm'") >= len(warm) + 19


def test_a_guardrail_failing_winner_is_not_promoted(store) -> None:
    settings = ABSection(min_sample_per_variant=5)
    experiment = {"name": "greeting", "channels": ["whatsapp"], "auto_promote": True, "variants": [
        {"name": "control", "template": CONTROL}, {"name": "warm", "template": WARM}]}
    config = cfg(experiment=experiment, min_sample_per_variant=5)
    jobs = first_round(store, config, whatsapp=40, email=0)
    sent_at = NOW + timedelta(minutes=10)
    warm = [s for s, j in jobs.items() if j["variant"] == "warm"]
    # Warm contacts all answer — and most of them then opt out.
    messages = [msg("whatsapp", s, "Thanks!", sent_at + timedelta(hours=1), f"r-{s}") for s in warm]
    messages += [msg("whatsapp", s, "STOP", sent_at + timedelta(hours=1, minutes=1), f"s-{s}") for s in warm]
    ingest_messages(store, config, messages)
    process(store, config, sent_at + timedelta(hours=2))
    report = experiment_report(store, config, FixedClock(sent_at + timedelta(hours=3)), "greeting")
    assert report.winner == "warm" and report.guardrail_warnings
    with store.transaction() as conn:
        assert promote_winners(conn, settings, to_iso(sent_at + timedelta(hours=3))) == []
    assert store.scalar("SELECT state FROM experiments") == "active"


def test_stop_create_and_errors(store, clock) -> None:
    spec = [parse_variant_spec("a:1:{answer}"), parse_variant_spec("b:1:{answer} bye")]
    info = create_experiment(store, clock, "cta", spec, channels=["email"], metric="converted")
    assert (info.state, info.metric, [v.name for v in info.variants]) == ("active", "converted", ["a", "b"])
    with pytest.raises(AutopilotError, match="already running on email"):
        create_experiment(store, clock, "other", spec, channels=["email", "whatsapp"])
    with pytest.raises(AutopilotError, match="already exists"):
        create_experiment(store, clock, "cta", spec, channels=["instagram"])
    assert stop_experiment(store, clock, "cta").state == "stopped"
    assert load_experiments(store.conn) == []
    with pytest.raises(AutopilotError, match="already stopped"):
        stop_experiment(store, clock, "cta")
    assert resume_experiment(store, clock, "cta").hold_promotion is False
    with pytest.raises(NotFound, match="no experiment named 'nope'; experiments: cta"):
        stop_experiment(store, clock, "nope")


def test_a_stopped_experiment_assigns_nobody(store) -> None:
    config = cfg()
    first_round(store, config, whatsapp=4, email=0)
    stop_experiment(store, FixedClock(NOW + timedelta(hours=1)), "greeting")
    later = NOW + timedelta(hours=2)
    ingest_messages(store, config, [msg("whatsapp", phone(50), "When are you open?", later, "x")])
    process(store, config, later + timedelta(minutes=1))
    assert (
        store.query("SELECT variant FROM jobs j JOIN events e ON e.id = j.event_id WHERE e.external_id = 'x'")[0][0]
        is None
    )
    assert store.scalar("SELECT state FROM experiments") == "stopped"  # the config sync keeps the state


# -- conversions and the CLI ----------------------------------------------------------------------------------------


def test_convert_records_once_per_id(store, clock) -> None:
    config = cfg()
    ingest_messages(store, config, [msg("email", "ana@example.org", "hi", NOW, "m")])
    first = record_conversion(store, clock, "ana@example.org", value=49.9, external_id="order-1")
    again = record_conversion(store, clock, "email:ana@example.org", value=49.9, external_id="order-1")
    assert (first.duplicate, again.duplicate, again.id) == (False, True, first.id)
    assert store.scalar("SELECT count(*) FROM conversions") == 1
    with pytest.raises(NotFound):
        record_conversion(store, clock, "bob@example.org")


BRIEF_KEYS = {"experiment", "metric", "variants", "winner", "verdict"}
BRIEF_VARIANT_KEYS = {"name", "sent", "opened", "replied", "converted", "opted_out", "rate", "ci_low", "ci_high",
                      "p_value_vs_control", "lift_vs_control", "prob_beat_control", "prob_best"}


def test_cli_ab_commands_report_and_convert(runner, tmp_path) -> None:
    db = str(tmp_path / "cli.db")
    config_file = tmp_path / "autopilot.toml"
    config_file.write_text('[ab]\nmin_sample_per_variant = 5\nmc_draws = 2000\n')
    base = ["--db", db, "--config", str(config_file)]
    lines = msg("email", "ana@example.org", "When are you open?", NOW, "m1")
    assert runner.invoke(app, [*base, "ingest", "--format", "jsonl"], input=json.dumps(lines) + "\n").exit_code == 0
    created = runner.invoke(
        app,
        [
            *base,
            "ab",
            "create",
            "cta",
            "--variant",
            "a:50:{answer}",
            "--variant",
            "b:50:{answer}\\nBook now: {signature}",
            "--channels",
            "email",
            "--json",
        ],
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["variants"][1]["template"] == "{answer}\nBook now: {signature}"
    bad = runner.invoke(
        app, [*base, "ab", "create", "x", "--variant", "a:50:no placeholder", "--variant", "b:1:{answer}"]
    )
    assert bad.exit_code == 2 and "must contain {answer}" in bad.output
    wrong = runner.invoke(app, [*base, "ab", "create", "x", "--variant", "a:1:{answer}", "--variant", "b:1:{answer}",
                                "--metric", "clicks"])
    assert wrong.exit_code == 2 and "'clicks' is not one of replied, opened, converted" in wrong.output
    listed = json.loads(runner.invoke(app, [*base, "ab", "list", "--json"]).output)
    assert [e["name"] for e in listed["experiments"]] == ["cta"]
    report = runner.invoke(app, [*base, "ab-report", "cta", "--json"])
    assert report.exit_code == 0, report.output
    data = json.loads(report.output)
    assert BRIEF_KEYS <= set(data) and all(BRIEF_VARIANT_KEYS <= set(v) for v in data["variants"])
    assert data["variants"][0]["opened"] is None  # email only: n/a, not 0
    assert data["winner"] is None and data["verdict"].startswith("not enough data")
    everything = json.loads(runner.invoke(app, [*base, "ab-report", "--json"]).output)
    assert [r["experiment"] for r in everything["experiments"]] == ["cta"]
    human = runner.invoke(app, [*base, "ab-report"])
    assert human.exit_code == 0 and "not enough data" in human.output
    assert runner.invoke(app, [*base, "ab", "stop", "cta"]).exit_code == 0
    assert runner.invoke(app, [*base, "ab", "stop", "cta"]).exit_code == 1
    assert runner.invoke(app, [*base, "ab", "resume", "cta"]).exit_code == 0
    missing = runner.invoke(app, [*base, "ab-report", "nope"])
    assert missing.exit_code == 1 and "no experiment named 'nope'" in missing.output
    converted = runner.invoke(app, [*base, "convert", "ana@example.org", "--value", "12.5", "--id", "o-1", "--json"])
    assert converted.exit_code == 0 and json.loads(converted.output)["value"] == 12.5
    again = runner.invoke(app, [*base, "convert", "ana@example.org", "--id", "o-1"])
    assert again.exit_code == 0 and "already recorded" in again.output
    assert runner.invoke(app, [*base, "convert", "ana@example.org", "--at", "yesterday"]).exit_code == 2
    assert runner.invoke(app, [*base, "convert", "nobody@example.org"]).exit_code == 1


def test_human_report_fits_80_columns_and_escapes_names(store) -> None:
    experiment = {"name": "greeting", "channels": ["whatsapp", "email"], "variants": [
        {"name": "control", "template": CONTROL}, {"name": "[bold red]WINNER[/]", "template": WARM}]}
    config = cfg(experiment=experiment)
    first_round(store, config, whatsapp=12, email=4)
    [report] = all_reports(store, config, FixedClock(NOW + timedelta(days=4)))
    buffer = io.StringIO()
    render_report(report, Console(file=buffer, width=80, color_system=None))
    text = buffer.getvalue()
    assert all(len(line) <= 80 for line in text.splitlines())
    # Markup in a variant name is shown literally (the table may wrap it, the chart truncates it).
    assert "[bold" in text and "red]WINNER[/]" in text and "[bold red]WINNER" in text
    assert "├" in text and "┤" in text and "not enough data" in text


def test_config_owns_a_config_experiments_settings_but_not_its_state(store) -> None:
    _experiment(store)
    stop_experiment(store, FixedClock(NOW), "greeting")
    changed = config_from_dict({"experiments": [{"name": "greeting", "channels": ["email"], "metric": "converted",
                                                 "auto_promote": True, "variants": [
        {"name": "v0", "template": "{answer}"}, {"name": "v1", "template": "{answer}"}]}]})
    with store.transaction() as conn:
        sync_experiments(conn, changed.experiments, to_iso(NOW))
    row = store.query("SELECT state, metric, auto_promote FROM experiments")[0]
    assert (row["state"], row["metric"], row["auto_promote"]) == ("stopped", "converted", 1)
