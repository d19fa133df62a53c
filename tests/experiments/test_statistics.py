"""Experiment statistics against hand computation, scipy/statsmodels and recorded gbstats outputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from cartwise.core.errors import DataWarning
from cartwise.experiments import (
    CupedStat,
    Effect,
    MeanStat,
    RatioStat,
    adjust_p_values,
    analyze_summary,
    bayesian,
    cap_values,
    effect,
    pooled_theta,
    power_for,
    sample_size,
    sequential_interval,
    sequential_p_value,
    srm_p_value,
    summarize,
    t_interval,
    t_p_value,
    welch_dof,
)


def stat_of(values: np.ndarray) -> MeanStat:
    n, total, squares = summarize(values)
    return MeanStat(n, total, squares)


def frame(rows: list[tuple], columns: tuple[str, ...] = ("variant", "metric", "users", "sum", "sum_squares")):
    return pd.DataFrame(rows, columns=list(columns))


# --- hand-computed ----------------------------------------------------------------------------


def test_means_variances_and_lifts_by_hand() -> None:
    a = stat_of(np.array([1.0, 2, 3, 4]))  # mean 2.5, s² = (30 - 25) / 3
    b = stat_of(np.array([2.0, 3, 4, 5, 6]))  # mean 4, s² = (90 - 80) / 4
    assert (a.mean, a.variance) == pytest.approx((2.5, 5 / 3))
    assert (b.mean, b.variance) == pytest.approx((4.0, 2.5))
    absolute = effect(a, b, relative=False)
    assert absolute.estimate == pytest.approx(1.5)
    assert absolute.variance == pytest.approx(2.5 / 5 + (5 / 3) / 4)
    relative = effect(a, b, relative=True)
    assert relative.estimate == pytest.approx(1.5 / 2.5)
    # delta method: Var(b̄/ā) ≈ V_b/ā² + V_a b̄²/ā⁴
    assert relative.variance == pytest.approx((2.5 / 5) / 2.5**2 + ((5 / 3) / 4) * 16 / 2.5**4)


def test_welch_matches_scipy_on_raw_data_and_on_summaries() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        xa = rng.lognormal(1, 0.7, int(rng.integers(5, 400)))
        xb = rng.lognormal(1.1, 0.9, int(rng.integers(5, 400)))
        a, b = stat_of(xa), stat_of(xb)
        eff = effect(a, b, relative=False)
        p = t_p_value(eff, welch_dof(a, b))
        assert p == pytest.approx(stats.ttest_ind(xb, xa, equal_var=False).pvalue, rel=1e-9)
        from_stats = stats.ttest_ind_from_stats(
            b.mean, math.sqrt(b.variance), b.n, a.mean, math.sqrt(a.variance), a.n, equal_var=False
        )
        assert p == pytest.approx(from_stats.pvalue, rel=1e-9)
        lo, hi = t_interval(eff, welch_dof(a, b))
        ci = stats.ttest_ind(xb, xa, equal_var=False).confidence_interval(0.95)
        assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-9)


@pytest.mark.parametrize(("mean", "sd"), [(0.03, 0.02), (-0.01, 0.05), (0.0, 0.1)])
def test_bayesian_risk_and_chance_to_win_by_integration(mean: float, sd: float) -> None:
    post = bayesian(Effect(mean, sd**2))
    density = stats.norm(mean, sd).pdf
    assert post.chance_to_win == pytest.approx(integrate.quad(density, 0, np.inf)[0], abs=1e-9)
    loss = integrate.quad(lambda x: -x * density(x), -np.inf, 0)[0]
    assert post.risk == pytest.approx(loss, abs=1e-9)
    gain = integrate.quad(lambda x: x * density(x), 0, np.inf)[0]
    assert post.risk_control == pytest.approx(gain, abs=1e-9)


def test_cuped_theta_and_adjusted_lift_equal_the_regression_on_raw_users() -> None:
    rng = np.random.default_rng(11)
    pre_a, pre_b = rng.gamma(2, 3, 3000), rng.gamma(2, 3, 3100)
    post_a = 0.8 * pre_a + rng.normal(2, 2, pre_a.size)
    post_b = 0.8 * pre_b + rng.normal(2.3, 2, pre_b.size)
    a = CupedStat(stat_of(post_a), stat_of(pre_a), float((post_a * pre_a).sum()))
    b = CupedStat(stat_of(post_b), stat_of(pre_b), float((post_b * pre_b).sum()))
    theta = pooled_theta(a, b)
    pooled_pre, pooled_post = np.concatenate([pre_a, pre_b]), np.concatenate([post_a, post_b])
    assert theta == pytest.approx(np.cov(pooled_post, pooled_pre)[0, 1] / pooled_pre.var(ddof=1), rel=1e-9)
    a, b = CupedStat(a.post, a.pre, a.sum_product, theta), CupedStat(b.post, b.pre, b.sum_product, theta)
    adj_a, adj_b = post_a - theta * pre_a, post_b - theta * pre_b
    eff = effect(a, b, relative=False)
    assert eff.estimate == pytest.approx(adj_b.mean() - adj_a.mean(), rel=1e-9)
    assert eff.variance == pytest.approx(
        adj_b.var(ddof=1) / adj_b.size + adj_a.var(ddof=1) / adj_a.size, rel=1e-9
    )
    plain = effect(a.post, b.post, relative=False)
    assert eff.variance < 0.5 * plain.variance  # the covariate explains most of the variance


def test_ratio_variance_is_the_delta_method_on_raw_users() -> None:
    rng = np.random.default_rng(5)
    orders = rng.poisson(2, 500) + 1.0
    revenue = orders * rng.gamma(3, 10, 500)
    stat = RatioStat(stat_of(revenue), stat_of(orders), float((revenue * orders).sum()))
    assert stat.mean == pytest.approx(revenue.sum() / orders.sum())
    m, d = revenue.mean(), orders.mean()
    cov = np.cov(revenue, orders)
    expected = cov[0, 0] / d**2 + cov[1, 1] * m**2 / d**4 - 2 * cov[0, 1] * m / d**3
    assert stat.variance == pytest.approx(expected, rel=1e-9)


def test_sequential_interval_is_wider_than_the_fixed_one_and_shrinks_with_users() -> None:
    a, b = MeanStat(1000, 5000, 40000), MeanStat(1010, 5300, 43000)
    eff = effect(a, b, relative=True)
    lo_t, hi_t = t_interval(eff, welch_dof(a, b))
    lo_s, hi_s = sequential_interval(eff, a.n + b.n)
    assert lo_s < lo_t and hi_s > hi_t
    assert sequential_p_value(eff, a.n + b.n) > t_p_value(eff, welch_dof(a, b))
    big_a, big_b = MeanStat(100_000, 500_000, 4_000_000), MeanStat(101_000, 530_000, 4_300_000)
    big = effect(big_a, big_b, relative=True)
    lo_big, hi_big = sequential_interval(big, big_a.n + big_b.n)
    assert hi_big - lo_big < hi_s - lo_s


# --- recorded gbstats outputs -----------------------------------------------------------------
# Computed with gbstats 0.8.0 from PyPI (TwoSidedTTest, SequentialTwoSidedTTest with tuning 5000,
# EffectBayesianABTest with its default flat prior, check_srm) on SampleMeanStatistic,
# RatioStatistic and RegressionAdjustedStatistic built from the same sums. The CUPED relative
# values come from gbstats' GitHub main (commit 8f1db44), whose relative-CUPED variance
# (`frequentist_variance_relative_cuped`) replaced the 0.8.0 release's; the absolute ones agree.

GBSTATS = {
    "mean": {
        "sequential_absolute_p": 0.9387779774465528,
        "relative": (0.04950495049504955, (-0.020044777879895073, 0.11905467886999417), 0.16289036822449732),
        "absolute": (0.24752475247524774, (-0.09169472024133796, 0.5867442251918334), 0.15257809445703163),
        "sequential": ((-0.06123845158516167, 0.16024835257526077), 0.9749153281710649),
        "bayes": (0.9186319793455638, 0.050817047536947026, 0.001312097041897479),
    },
    "binary": {
        "sequential_absolute_p": 0.6877279823317298,
        "relative": (0.11999999999999997, (-0.007757795858831712, 0.24775779585883165), 0.06562586848014318),
        "absolute": (
            0.011999999999999997,
            (-6.739183032263875e-05, 0.02406739183032263),
            0.05129298672065641,
        ),
        "sequential": ((-0.07953433665591045, 0.31953433665591036), 0.8338811637632166),
        "bayes": (0.9672019067857455, 0.1208382594175508, 0.000838259417550837),
    },
    "cuped": {
        "sequential_absolute_p": 0.24771825661303312,
        "relative": (0.05436680552286015, (0.008386400816123775, 0.10034721022959653), 0.02050939087788839),
        "absolute": (0.27183402761430076, (0.04740904151988057, 0.49625901370872094), 0.017627923247834687),
        "sequential": ((-0.020095391843598487, 0.12882900288931878), 0.2725858450807257),
        "bayes": (0.9898073302856214, 0.0544479401901016, 8.113466724145158e-05),
    },
    "ratio": {
        "sequential_absolute_p": 1.0,
        "relative": (0.048387096774193596, (-0.028940053684709525, 0.1257142472330967), 0.2198098495891183),
        "absolute": (0.9677419354838719, (-0.5443728520286724, 2.4798567229964164), 0.20949573191435822),
        "sequential": ((-0.08078486885968544, 0.17755906240807262), 1.0),
        "bayes": (0.8902151252785093, 0.050475692563581205, 0.002088595789387612),
    },
}

SUMMARIES = {
    "mean": [("A", "m", 1000, 5000, 40000), ("B", "m", 1010, 5300, 43000)],
    "binary": [("A", "m", 5000, 500, 500), ("B", "m", 5000, 560, 560)],
    "cuped": [
        ("A", "m", 800, 4000, 26000, 3200, 16000, 18500),
        ("B", "m", 820, 4300, 29000, 3250, 16300, 19600),
    ],
    "ratio": [
        ("A", "m", 600, 30000, 2500000, 1500, 4800, 95000),
        ("B", "m", 610, 32500, 2800000, 1550, 5000, 101000),
    ],
}
BASE = ("variant", "metric", "users", "sum", "sum_squares")
EXTRA = {
    "cuped": ("pre_sum", "pre_sum_squares", "sum_product"),
    "ratio": ("den_sum", "den_sum_squares", "den_sum_product"),
}


@pytest.mark.parametrize("kind", list(GBSTATS))
def test_agrees_with_gbstats(kind: str) -> None:
    summary = frame(SUMMARIES[kind], BASE + EXTRA.get(kind, ()))
    cuped = kind == "cuped"
    fixed = analyze_summary(summary, cuped=cuped).results[0]
    seq = analyze_summary(summary, cuped=cuped, sequential=True).results[0]
    want = GBSTATS[kind]
    close = {"rel": 1e-9, "abs": 1e-15}
    assert fixed.lift == pytest.approx(want["relative"][0], **close)
    assert fixed.lift_ci == pytest.approx(want["relative"][1], **close)
    assert fixed.p_value == pytest.approx(want["relative"][2], **close)
    assert fixed.abs_lift == pytest.approx(want["absolute"][0], **close)
    assert fixed.abs_lift_ci == pytest.approx(want["absolute"][1], **close)
    assert fixed.abs_p_value == pytest.approx(want["absolute"][2], **close)
    assert seq.lift_ci == pytest.approx(want["sequential"][0], **close)
    assert seq.p_value == pytest.approx(want["sequential"][1], **close)
    assert seq.abs_p_value == pytest.approx(want["sequential_absolute_p"], **close)
    ctw, _risk_control, risk_treatment = want["bayes"]
    assert fixed.chance_to_win == pytest.approx(ctw, **close)
    assert fixed.risk == pytest.approx(risk_treatment, rel=1e-9)


def test_srm_matches_gbstats_and_scipy() -> None:
    assert srm_p_value([1000, 1010]) == pytest.approx(0.8234966946547395, rel=1e-12)
    assert srm_p_value([4900, 5200], [0.5, 0.5]) == pytest.approx(0.002834749080259389, rel=1e-12)
    assert srm_p_value([5000, 5210, 4790], [0.25, 0.5, 0.25]) == pytest.approx(
        1.1446741711755835e-305, rel=1e-9
    )
    assert srm_p_value([300, 700], [0.3, 0.7]) == pytest.approx(1.0)


def test_analysis_warns_on_sample_ratio_mismatch() -> None:
    summary = frame([("A", "m", 5000, 25000, 200000), ("B", "m", 5400, 27000, 216000)])
    with pytest.warns(DataWarning, match=r"Sample ratio mismatch.*p = 8\.8e-05 < 0\.001"):
        analysis = analyze_summary(summary)
    assert analysis.srm_warning and analysis.srm_p < 0.001
    # the same users fit a 48/52 split
    assert analyze_summary(summary, weights=[0.48, 0.52]).srm_p > 0.3


# --- multiple comparisons, capping, power -----------------------------------------------------


def test_holm_and_bh_by_hand_and_through_the_analysis() -> None:
    assert adjust_p_values([0.01, 0.04, 0.03], "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert adjust_p_values([0.01, 0.04, 0.03], "bh") == pytest.approx([0.03, 0.04, 0.04])
    rows = [
        ("A", "revenue", 1000, 5000, 40000),
        ("B", "revenue", 1000, 5400, 44000),
        ("C", "revenue", 1000, 5100, 41000),
        ("A", "orders", 1000, 1500, 3500),
        ("B", "orders", 1000, 1600, 3900),
        ("C", "orders", 1000, 1520, 3600),
    ]
    raw = analyze_summary(frame(rows))
    holm = analyze_summary(frame(rows), correction="holm")
    from statsmodels.stats.multitest import multipletests

    expected = multipletests([r.p_value for r in raw.results], method="holm")[1]
    assert [r.p_value for r in holm.results] == pytest.approx(list(expected))
    assert [r.p_value_raw for r in holm.results] == [r.p_value for r in raw.results]
    assert [(r.metric, r.variant) for r in holm.results] == [
        ("revenue", "B"),
        ("revenue", "C"),
        ("orders", "B"),
        ("orders", "C"),
    ]


def test_capping_winsorises_at_the_pooled_percentile() -> None:
    values = np.arange(1.0, 101.0)
    capped, cap = cap_values(values, 0.9)
    assert cap == pytest.approx(np.quantile(values, 0.9))
    assert capped.max() == cap and (capped[:90] == values[:90]).all()
    assert summarize(capped) == (100, pytest.approx(capped.sum()), pytest.approx((capped**2).sum()))


def test_sample_size_and_power_match_statsmodels_and_the_normal_formula() -> None:
    from statsmodels.stats.power import NormalIndPower, TTestIndPower

    result = sample_size(0.05, mean=5.0, sd=6.0)
    d = 0.05 * 5 / 6
    assert result.effect_size == pytest.approx(d)
    assert result.users_per_variant == math.ceil(TTestIndPower().solve_power(d, alpha=0.05, power=0.8))
    # textbook normal approximation n = 2 (z_{0.975} + z_{0.8})² / d², one or two users less
    normal = 2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 / d**2
    assert 0 <= result.users_per_variant - normal < 3
    assert result.power >= 0.8
    rate = sample_size(0.1, rate=0.05)
    h = 2 * math.asin(math.sqrt(0.055)) - 2 * math.asin(math.sqrt(0.05))
    assert rate.users_per_variant == math.ceil(NormalIndPower().solve_power(h, alpha=0.05, power=0.8))
    assert power_for(rate.users_per_variant, 0.1, rate=0.05).power == pytest.approx(rate.power)
    assert power_for(1000, 0.1, rate=0.05).power < 0.2


# --- contract shape -----------------------------------------------------------------------------


def test_contract_keys_and_control_is_the_first_variant() -> None:
    rows = [("ctl", "m", 1000, 5000, 40000), ("new", "m", 1010, 5300, 43000)]
    out = analyze_summary(frame(rows)).contract()
    assert list(out) == ["srm_p", "results"]
    (row,) = out["results"]
    assert list(row) == [
        "metric",
        "variant",
        "users",
        "mean",
        "lift",
        "lift_ci",
        "p_value",
        "chance_to_win",
        "risk",
    ]
    assert row["variant"] == "new" and row["users"] == 1010 and row["mean"] == pytest.approx(5300 / 1010)
    assert row["lift"] == pytest.approx(5300 / 1010 / 5 - 1)
    # swapping the row order makes the other variant the control
    flipped = analyze_summary(frame(rows[::-1])).contract()["results"][0]
    assert flipped["variant"] == "ctl" and flipped["lift"] == pytest.approx(5 / (5300 / 1010) - 1)


def test_p_value_and_interval_agree_on_significance() -> None:
    rng = np.random.default_rng(2)
    for _ in range(30):
        n = int(rng.integers(100, 3000))
        xa, xb = rng.normal(10, 3, n), rng.normal(10 + rng.uniform(-0.5, 0.5), 3, n)
        rows = [("A", "m", *summarize(xa)), ("B", "m", *summarize(xb))]
        r = analyze_summary(frame(rows)).results[0]
        assert (r.abs_p_value < 0.05) == (r.abs_lift_ci[0] > 0 or r.abs_lift_ci[1] < 0)
        assert (r.p_value < 0.05) == (r.lift_ci[0] > 0 or r.lift_ci[1] < 0)


@pytest.mark.filterwarnings("ignore::cartwise.core.errors.DataWarning")  # uneven random splits
@settings(max_examples=60, deadline=None)
@given(
    n_a=st.integers(30, 100_000),
    n_b=st.integers(30, 100_000),
    mean_a=st.floats(0.01, 1000),
    lift=st.floats(-0.9, 2),
    cv_a=st.floats(0.05, 10),
    cv_b=st.floats(0.05, 10),
)
def test_invariants_of_a_comparison(
    n_a: int, n_b: int, mean_a: float, lift: float, cv_a: float, cv_b: float
) -> None:
    mean_b = mean_a * (1 + lift)
    sd_a, sd_b = cv_a * mean_a, cv_b * mean_b
    rows = [
        ("A", "m", n_a, n_a * mean_a, (n_a - 1) * sd_a**2 + n_a * mean_a**2),
        ("B", "m", n_b, n_b * mean_b, (n_b - 1) * sd_b**2 + n_b * mean_b**2),
    ]
    fixed = analyze_summary(frame(rows)).results[0]
    seq = analyze_summary(frame(rows), sequential=True).results[0]
    assert fixed.lift == pytest.approx(lift, rel=1e-6, abs=1e-9)
    lo, hi = fixed.lift_ci
    assert lo <= fixed.lift <= hi
    assert seq.lift_ci[0] <= lo and seq.lift_ci[1] >= hi  # always-valid is never narrower
    assert 0 <= fixed.p_value <= 1 and 0 <= seq.p_value <= 1
    assert 0 <= fixed.chance_to_win <= 1 and fixed.risk >= 0
    assert (fixed.chance_to_win > 0.5) == (fixed.lift > 0) or fixed.lift == 0
