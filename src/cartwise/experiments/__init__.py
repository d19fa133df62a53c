"""Experiment assignment by hashing, and experiment statistics as pure functions over sufficient statistics (n, sum, sum of squares).

Formulas follow GrowthBook's gbstats so results agree with it on the same sums: Welch t tests
and delta-method relative lifts, always-valid confidence sequences, Gaussian Bayesian chance to
win and risk, CUPED by regression adjustment, ratio metrics, SRM by chi-square; plus Holm and
Benjamini-Hochberg corrections, percentile capping, and sample size and power (statsmodels).
Uplift estimators (T- and X-learner over LightGBM) predict each customer's change in outcome
from a randomised campaign (see `_uplift`).
"""

from cartwise.experiments._analysis import (
    CUPED_COLUMNS,
    MIN_USERS,
    RATIO_COLUMNS,
    REQUIRED_COLUMNS,
    ExperimentAnalysis,
    VariantResult,
    analyze_summary,
    summary_row_problems,
)
from cartwise.experiments._assign import (
    GLOBAL_HOLDOUT_SALT,
    Experiment,
    Variant,
    assign,
    in_global_holdout,
    layer_conflict,
    make_experiment,
    parse_variants,
    uniform,
)
from cartwise.experiments._checks import (
    CORRECTIONS,
    SRM_THRESHOLD,
    Correction,
    adjust_p_values,
    cap_values,
    check_weights,
    srm_p_value,
    summarize,
)
from cartwise.experiments._effects import (
    DEFAULT_SEQUENTIAL_TUNING,
    BayesianSummary,
    Effect,
    bayesian,
    effect,
    sequential_interval,
    sequential_p_value,
    sequential_rho,
    t_interval,
    t_p_value,
    welch_dof,
)
from cartwise.experiments._power import PowerResult, effect_size, power_for, sample_size
from cartwise.experiments._summary import (
    CupedStat,
    MeanStat,
    RatioStat,
    Stat,
    covariance,
    pooled_theta,
    variance_of_ratio,
)
from cartwise.experiments._uplift import MIN_ARM_SIZE, UPLIFT_LEARNERS, TLearner, XLearner

__all__ = [
    "CORRECTIONS",
    "CUPED_COLUMNS",
    "DEFAULT_SEQUENTIAL_TUNING",
    "GLOBAL_HOLDOUT_SALT",
    "MIN_ARM_SIZE",
    "MIN_USERS",
    "RATIO_COLUMNS",
    "REQUIRED_COLUMNS",
    "SRM_THRESHOLD",
    "UPLIFT_LEARNERS",
    "BayesianSummary",
    "Correction",
    "CupedStat",
    "Effect",
    "Experiment",
    "ExperimentAnalysis",
    "MeanStat",
    "PowerResult",
    "RatioStat",
    "Stat",
    "TLearner",
    "Variant",
    "VariantResult",
    "XLearner",
    "adjust_p_values",
    "analyze_summary",
    "assign",
    "bayesian",
    "cap_values",
    "check_weights",
    "covariance",
    "effect",
    "effect_size",
    "in_global_holdout",
    "layer_conflict",
    "make_experiment",
    "parse_variants",
    "pooled_theta",
    "power_for",
    "sample_size",
    "sequential_interval",
    "sequential_p_value",
    "sequential_rho",
    "srm_p_value",
    "summarize",
    "summary_row_problems",
    "t_interval",
    "t_p_value",
    "uniform",
    "variance_of_ratio",
    "welch_dof",
]
