"""Statistics for A/B reports: pure functions, standard library only.

Everything here works on counts — successes ``s`` out of trials ``n`` per
variant — and never touches the database.

- **Wilson score interval** (Wilson 1927; Newcombe 1998, method 3, no
  continuity correction) for each rate: unlike the textbook Wald interval
  ``p ± z·sqrt(p(1-p)/n)`` it stays inside [0, 1] and does not collapse to
  zero width at 0/n, which matters for small experiments.
- **Two-proportion z-test**, two-sided, pooled variance under H0 (p1 = p2):
  ``z = (p2 - p1) / sqrt(p̄(1-p̄)(1/n1 + 1/n2))`` with ``p̄ = (s1+s2)/(n1+n2)``,
  ``p = erfc(|z|/√2)``. Its square is Pearson's chi-square for the 2×2 table.
- **Relative lift** ``(p_variant - p_control) / p_control`` (None when the
  control's rate is 0: a lift over nothing is not a number).
- **Bayesian probabilities** with Beta(1, 1) priors: each variant's rate has
  posterior Beta(1 + s, 1 + n - s); P(beat control) and P(best) are estimated
  from ``draws`` Monte Carlo samples of every posterior, drawn from one
  ``random.Random(seed)`` so the same counts always give the same numbers
  (standard error at most 0.5/√draws: ±0.0016 for 100,000 draws).
- **Sample size** per variant for a two-sided two-proportion test at level
  ``alpha`` and ``power`` (Fleiss, *Statistical Methods for Rates and
  Proportions*, eq. 3.14 without continuity correction):
  ``n = (z_{1-α/2}·sqrt(2·p̄·q̄) + z_{power}·sqrt(p1·q1 + p2·q2))² / (p1 - p2)²``,
  ``p̄ = (p1 + p2)/2``.

The significance rule (used by ``ab.py``): a variant wins only when every
variant has at least ``min_sample_per_variant`` sends, it has the highest
rate, and its z-test against *each* other variant has ``p < alpha / m`` where
``m = k - 1`` comparisons for ``k`` variants (Bonferroni; for two variants
this is simply ``p < alpha``). The Bayesian probabilities are shown for
reading, never used to declare a winner.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

_STD_NORMAL = NormalDist()


def normal_quantile(p: float) -> float:
    """Φ⁻¹(p), e.g. 1.959964 for 0.975."""
    return _STD_NORMAL.inv_cdf(p)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval for ``successes/trials``; None when there are no trials."""
    _check_counts(successes, trials)
    if trials == 0:
        return None
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    n = float(trials)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def two_proportion_z(s1: int, n1: int, s2: int, n2: int) -> float | None:
    """The pooled z statistic of ``s2/n2`` against ``s1/n1``; None without data.

    When both groups are all-success or all-failure there is no variation and
    no evidence of a difference: z = 0.
    """
    _check_counts(s1, n1)
    _check_counts(s2, n2)
    if n1 == 0 or n2 == 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    if pooled <= 0.0 or pooled >= 1.0:
        return 0.0
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    return (s2 / n2 - s1 / n1) / se


def two_proportion_p_value(s1: int, n1: int, s2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None without data."""
    z = two_proportion_z(s1, n1, s2, n2)
    if z is None:
        return None
    return min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))


def relative_lift(control_rate: float | None, rate: float | None) -> float | None:
    """``(rate - control) / control``; None when either is unknown or the control is 0."""
    if control_rate is None or rate is None or control_rate == 0:
        return None
    return (rate - control_rate) / control_rate


def required_sample_size(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Sends per variant to detect ``p1`` vs ``p2`` (two-sided); None when they are equal."""
    if not (0.0 <= p1 <= 1.0 and 0.0 <= p2 <= 1.0):
        raise ValueError("proportions must be between 0 and 1")
    if p1 == p2:
        return None
    z_alpha = normal_quantile(1.0 - alpha / 2.0)
    z_beta = normal_quantile(power)
    mean = (p1 + p2) / 2.0
    spread = z_alpha * math.sqrt(2.0 * mean * (1.0 - mean)) + z_beta * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    # Round before ceil: 2553.9999999 is 2554, not 2555.
    return max(1, math.ceil(round(spread * spread / ((p1 - p2) ** 2), 6)))


@dataclass(frozen=True)
class BayesResult:
    prob_beat_control: list[float | None]
    """Per variant, P(rate > control's rate); None for the control itself."""
    prob_best: list[float]
    """Per variant, P(its rate is the highest); sums to 1."""


def _posterior_draws(rng: random.Random, successes: int, trials: int, draws: int) -> list[float]:
    # Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b): what betavariate
    # does, without its per-call overhead.
    gamma = rng.gammavariate
    a, b = 1.0 + successes, 1.0 + trials - successes
    out: list[float] = []
    append = out.append
    for _ in range(draws):
        x = gamma(a, 1.0)
        append(x / (x + gamma(b, 1.0)))
    return out


def bayes_probabilities(arms: Sequence[tuple[int, int]], draws: int = 100_000, seed: int = 0) -> BayesResult:
    """P(beat control) and P(best) for arms ``(successes, trials)``; the first arm is the control."""
    if not arms:
        return BayesResult([], [])
    for s, n in arms:
        _check_counts(s, n)
    rng = random.Random(seed)
    samples = [_posterior_draws(rng, s, n, draws) for s, n in arms]
    control = samples[0]
    beat: list[float | None] = [None]
    for other in samples[1:]:
        beat.append(sum(1 for c, x in zip(control, other) if x > c) / draws)
    wins = [0] * len(arms)
    if len(arms) == 1:
        wins[0] = draws
    elif len(arms) == 2:
        wins[1] = sum(1 for c, x in zip(control, samples[1]) if x > c)
        wins[0] = draws - wins[1]
    else:
        for column in zip(*samples):
            wins[column.index(max(column))] += 1
    return BayesResult(beat, [w / draws for w in wins])


def thompson_pick(arms: Sequence[tuple[int, int]], rng: random.Random) -> int:
    """Thompson sampling: one draw from each arm's Beta(1+s, 1+n-s) posterior; the highest wins."""
    best, best_value = 0, -1.0
    for index, (s, n) in enumerate(arms):
        _check_counts(s, n)
        value = rng.betavariate(1.0 + s, 1.0 + n - s)
        if value > best_value:
            best, best_value = index, value
    return best


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"invalid counts: {successes} successes out of {trials} trials")
