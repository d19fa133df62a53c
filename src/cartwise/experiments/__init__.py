"""Experiment assignment by hashing, and experiment statistics as pure functions over sufficient statistics (n, sum, sum of squares).

Formulas follow GrowthBook's gbstats so results agree with it on the same sums: Welch t tests
and delta-method relative lifts, always-valid confidence sequences, Gaussian Bayesian chance to
win and risk, CUPED by regression adjustment, ratio metrics, SRM by chi-square; plus Holm and
Benjamini-Hochberg corrections, percentile capping, and sample size and power (statsmodels).
Uplift estimators (T- and X-learner over LightGBM) predict each customer's change in outcome
from a randomised campaign (see `_uplift`).

The names are imported on first use (PEP 562): planning a test's size needs `_power` only,
not pandas, SciPy and LightGBM, so `cartwise experiments power` stays quick.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from cartwise.experiments._power import (
        PowerResult,
        effect_size,
        power_for,
        sample_size,
    )
    from cartwise.experiments._summary import (
        CupedStat,
        MeanStat,
        RatioStat,
        Stat,
        covariance,
        pooled_theta,
        variance_of_ratio,
    )
    from cartwise.experiments._uplift import (
        MIN_ARM_SIZE,
        UPLIFT_LEARNERS,
        TLearner,
        XLearner,
    )

_MODULES = {
    "_analysis": lambda: import_module("cartwise.experiments._analysis"),
    "_assign": lambda: import_module("cartwise.experiments._assign"),
    "_checks": lambda: import_module("cartwise.experiments._checks"),
    "_effects": lambda: import_module("cartwise.experiments._effects"),
    "_power": lambda: import_module("cartwise.experiments._power"),
    "_summary": lambda: import_module("cartwise.experiments._summary"),
    "_uplift": lambda: import_module("cartwise.experiments._uplift"),
}
"""Each submodule and how to load it."""

_MODULE_OF = {
    "CUPED_COLUMNS": "_analysis",
    "MIN_USERS": "_analysis",
    "RATIO_COLUMNS": "_analysis",
    "REQUIRED_COLUMNS": "_analysis",
    "ExperimentAnalysis": "_analysis",
    "VariantResult": "_analysis",
    "analyze_summary": "_analysis",
    "summary_row_problems": "_analysis",
    "GLOBAL_HOLDOUT_SALT": "_assign",
    "Experiment": "_assign",
    "Variant": "_assign",
    "assign": "_assign",
    "in_global_holdout": "_assign",
    "layer_conflict": "_assign",
    "make_experiment": "_assign",
    "parse_variants": "_assign",
    "uniform": "_assign",
    "CORRECTIONS": "_checks",
    "SRM_THRESHOLD": "_checks",
    "Correction": "_checks",
    "adjust_p_values": "_checks",
    "cap_values": "_checks",
    "check_weights": "_checks",
    "srm_p_value": "_checks",
    "summarize": "_checks",
    "DEFAULT_SEQUENTIAL_TUNING": "_effects",
    "BayesianSummary": "_effects",
    "Effect": "_effects",
    "bayesian": "_effects",
    "effect": "_effects",
    "sequential_interval": "_effects",
    "sequential_p_value": "_effects",
    "sequential_rho": "_effects",
    "t_interval": "_effects",
    "t_p_value": "_effects",
    "welch_dof": "_effects",
    "PowerResult": "_power",
    "effect_size": "_power",
    "power_for": "_power",
    "sample_size": "_power",
    "CupedStat": "_summary",
    "MeanStat": "_summary",
    "RatioStat": "_summary",
    "Stat": "_summary",
    "covariance": "_summary",
    "pooled_theta": "_summary",
    "variance_of_ratio": "_summary",
    "MIN_ARM_SIZE": "_uplift",
    "UPLIFT_LEARNERS": "_uplift",
    "TLearner": "_uplift",
    "XLearner": "_uplift",
}
"""Which submodule defines each public name."""


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_MODULES[module](), name)
    globals()[name] = value  # later lookups skip this function
    return value


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
