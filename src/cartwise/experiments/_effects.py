"""Effects of a treatment against control: Welch t intervals, sequential intervals, Bayesian summaries.

The formulas follow GrowthBook's gbstats (`frequentist/tests.py`, `bayesian/tests.py`,
`models/tests.py`) so results agree with it on the same sums. With `a` the control and `b` the
treatment (each a `MeanStat`, `CupedStat` or `RatioStat`):

- absolute lift `Δ = m_b - m_a`, variance `V = s²_b / n_b + s²_a / n_a`;
- relative lift `Δ% = (m_b - m_a) / |m̄_a|` (m̄_a the control's unadjusted mean), variance by the
  delta method `V% = s²_b / (n_b m_a²) + s²_a m_b² / (n_a m_a⁴)`; with CUPED gbstats' own
  expansion (`frequentist_variance_relative_cuped`) which keeps the covariate's covariance;
- Welch-Satterthwaite degrees of freedom
  `ν = (s²_b/n_b + s²_a/n_a)² / (s⁴_b / (n_b² (n_b-1)) + s⁴_a / (n_a² (n_a-1)))`;
  interval `Δ ± t_{1-α/2, ν} √V`, two-sided p-value `2 (1 - T_ν(|Δ| / √V))`;
- always-valid (sequential) interval, Waudby-Smith et al. (2023) asymptotic confidence sequence,
  eq. 9: with `N = n_a + n_b`, `σ² = V N` and `ρ² = (-2 ln α + ln(-2 ln α + 1)) / τ`
  (`τ = 5000`, gbstats' default tuning), half-width
  `√σ² · √(2 (N ρ² + 1) ln(√(N ρ² + 1) / α) / (N ρ)²)`; p-value `min(1, 1/E)` with the e-value
  `E = exp(ρ² N Δ² / V / (2 (N ρ² + 1))) / √(N ρ² + 1)`;
- Bayesian, flat prior: the lift is Gaussian `N(Δ, V)`; chance to win `P(lift > 0) = Φ(Δ/√V)`,
  risk (expected loss of shipping the treatment) `E[max(-lift, 0)] = σ φ(Δ/σ) - Δ Φ(-Δ/σ)`;
  with a proper prior `N(μ₀, σ₀²)` on the lift the posterior is the precision-weighted mix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special

from cartwise.experiments._summary import CupedStat, Stat

DEFAULT_SEQUENTIAL_TUNING = 5000.0
"""gbstats' default `sequential_tuning_parameter` τ: the sample size at which the confidence
sequence is tightest (in users over both arms)."""


@dataclass(frozen=True)
class Effect:
    """Point estimate of a lift and its variance (of the estimator, not per user)."""

    estimate: float
    variance: float

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.variance)


def _relative_cuped_variance(a: CupedStat, b: CupedStat) -> float:
    # gbstats' frequentist_variance_relative_cuped, term for term.
    den_b = b.n * a.unadjusted_mean**2
    den_a = a.n * a.unadjusted_mean**2
    if den_a == 0 or den_b == 0:
        return 0.0
    theta = a.theta
    v_b = (b.post.variance + theta**2 * b.pre.variance - 2 * theta * b.covariance) / den_b
    const = -b.post.mean
    num_a = a.post.variance * const**2 / a.post.mean**2
    num_b = 2 * theta * a.covariance * const / a.post.mean
    num_c = theta**2 * a.pre.variance
    return v_b + (num_a + num_b + num_c) / den_a


def effect(a: Stat, b: Stat, relative: bool) -> Effect:
    """The lift of `b` over `a`, absolute (`m_b - m_a`) or relative (`/ |m̄_a|`), and its variance."""
    if not relative:
        return Effect(b.mean - a.mean, b.variance / b.n + a.variance / a.n)
    base = a.unadjusted_mean
    if base == 0:
        raise ZeroDivisionError("the control's mean is 0")
    estimate = (b.mean - a.mean) / abs(base)
    if isinstance(a, CupedStat) and isinstance(b, CupedStat):
        return Effect(estimate, _relative_cuped_variance(a, b))
    # delta method for (m_b - m_a) / m_a with independent arms, as gbstats' variance_of_ratios
    var_b, var_a = b.variance / b.n, a.variance / a.n
    return Effect(estimate, var_b / base**2 + var_a * b.mean**2 / base**4)


def welch_dof(a: Stat, b: Stat) -> float:
    """Welch-Satterthwaite degrees of freedom of the two-sample comparison."""
    va, vb = a.variance / a.n, b.variance / b.n
    return (va + vb) ** 2 / (vb**2 / (b.n - 1) + va**2 / (a.n - 1))


def t_interval(eff: Effect, dof: float, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided `1 - alpha` interval `estimate ± t_{1-α/2, dof} · se`."""
    half = float(special.stdtrit(dof, 1 - alpha / 2)) * eff.standard_error
    return (eff.estimate - half, eff.estimate + half)


def t_p_value(eff: Effect, dof: float) -> float:
    """Two-sided p-value of `estimate = 0`: `2 (1 - T_dof(|estimate| / se))` (computed by the survival function)."""
    return float(2 * special.stdtr(dof, -abs(eff.estimate) / eff.standard_error))


def sequential_rho(alpha: float = 0.05, tuning: float = DEFAULT_SEQUENTIAL_TUNING) -> float:
    """ρ of the two-sided confidence sequence (Waudby-Smith et al. 2023, eq. 161)."""
    log_term = -2 * math.log(alpha)
    return math.sqrt((log_term + math.log(log_term + 1)) / tuning)


def sequential_interval(
    eff: Effect, n_total: int, alpha: float = 0.05, tuning: float = DEFAULT_SEQUENTIAL_TUNING
) -> tuple[float, float]:
    """Always-valid two-sided interval over `n_total` users (both arms); see the module docstring."""
    rho = sequential_rho(alpha, tuning)
    s2 = eff.variance * n_total
    nr2 = n_total * rho**2
    half = math.sqrt(s2) * math.sqrt(
        2 * (nr2 + 1) * math.log(math.sqrt(nr2 + 1) / alpha) / (n_total * rho) ** 2
    )
    return (eff.estimate - half, eff.estimate + half)


def sequential_p_value(
    eff: Effect, n_total: int, alpha: float = 0.05, tuning: float = DEFAULT_SEQUENTIAL_TUNING
) -> float:
    """Always-valid p-value `min(1, 1/E)` from the confidence sequence's e-value (eq. 155)."""
    rho = sequential_rho(alpha, tuning)
    st2 = eff.estimate**2 * n_total / eff.variance
    tr2p1 = n_total * rho**2 + 1
    log_e = rho**2 * st2 / (2 * tr2p1) - 0.5 * math.log(tr2p1)
    return 1.0 if log_e <= 0 else math.exp(-log_e)


@dataclass(frozen=True)
class BayesianSummary:
    """Posterior of the lift: mean, sd, chance to win, risk and a credible interval."""

    mean: float
    sd: float
    chance_to_win: float
    risk: float
    risk_control: float
    interval: tuple[float, float]


def bayesian(
    eff: Effect,
    alpha: float = 0.05,
    prior_mean: float = 0.0,
    prior_variance: float | None = None,
) -> BayesianSummary:
    """Gaussian posterior of the lift with a flat prior (default) or a proper `N(prior_mean, prior_variance)`.

    `chance_to_win = P(lift > 0)`; `risk = E[max(-lift, 0)]`, the expected loss (in lift units)
    of choosing the treatment; `risk_control = E[max(lift, 0)]` that of keeping the control.
    """
    precision = 1 / eff.variance
    mean = eff.estimate
    if prior_variance is not None:
        post = precision + 1 / prior_variance
        mean = (eff.estimate * precision + prior_mean / prior_variance) / post
        precision = post
    sd = math.sqrt(1 / precision)
    z = mean / sd
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    ctw = float(special.ndtr(z))
    risk = sd * pdf - mean * float(special.ndtr(-z))
    risk_control = sd * pdf + mean * ctw
    q = float(special.ndtri(1 - alpha / 2))
    interval = (mean - q * sd, mean + q * sd)
    return BayesianSummary(mean, sd, ctw, max(risk, 0.0), max(risk_control, 0.0), interval)
