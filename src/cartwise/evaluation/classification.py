"""Metrics for binary outcomes scored per customer (churn, purchase propensity).

Inputs are shared by every function: `y_true`, the observed outcome of each customer (1 or 0,
or True/False), and `y_score`, a score for the same customers where higher means "more likely
1". Functions marked *probability* also need every score in [0, 1] and read it as P(y = 1).
Notation: n customers, y_i outcome, s_i score, P = sum_i y_i positives, N = n - P negatives,
base rate pi = P / n.

ROC-AUC, average precision, the Brier score and the calibration curve are scikit-learn's
(`roc_auc_score`, `average_precision_score`, `brier_score_loss`, `calibration_curve`); this
module checks the inputs with messages a user can act on and documents the formulas.

Ties: ranking metrics treat tied scores as one threshold (as scikit-learn does); lift by
decile orders tied customers by their position in the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn import calibration, metrics

from cartwise.core.errors import InputError


def _outcomes(y_true: ArrayLike) -> np.ndarray:
    raw = np.asarray(y_true).reshape(-1)
    if raw.dtype == bool:
        return raw.astype(np.int64)
    try:
        values = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"y_true must hold 0/1 outcomes; received values of type {raw.dtype} "
            f"(e.g. {raw[:3].tolist()!r}). Map the outcome to 1 (happened) and 0 (did not)."
        ) from None
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        shown = ", ".join(repr(v) for v in raw[bad][:3].tolist())
        raise InputError(
            f"y_true must hold only 0 and 1; received {int(bad.sum())} other values (e.g. {shown}). "
            "Map the outcome to 1 (happened) and 0 (did not)."
        )
    return values.astype(np.int64)


def _pair(
    y_true: ArrayLike, y_score: ArrayLike, *, probability: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    y = _outcomes(y_true)
    s = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if y.size != s.size:
        raise InputError(
            f"y_true has {y.size} customers but y_score has {s.size}; give one score per customer."
        )
    if y.size == 0:
        raise InputError("y_true and y_score are empty; there is nothing to score.")
    if not np.all(np.isfinite(s)):
        bad = np.flatnonzero(~np.isfinite(s))
        raise InputError(
            f"y_score has {bad.size} missing or infinite values (rows {', '.join(map(str, bad[:3]))}); "
            "drop those customers or fill their scores first."
        )
    if probability and (s.min() < 0 or s.max() > 1):
        raise InputError(
            f"y_score must be probabilities in [0, 1]; received values from {s.min():.4g} to {s.max():.4g}. "
            "Pass a probability, or use only the ranking metrics (ROC-AUC, average precision, lift)."
        )
    return y, s


def _both_classes(y: np.ndarray, metric: str) -> None:
    positives = int(y.sum())
    if positives == 0 or positives == y.size:
        only = "1" if positives else "0"
        raise InputError(
            f"{metric} needs both outcomes in y_true; received {y.size} customers, all {only}. "
            "Evaluate on a period where some customers have each outcome."
        )


def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve: the chance that a random positive outranks a random negative.

    ``AUC = (sum_{i: y_i=1} rank_i - P (P + 1) / 2) / (P N)`` with ``rank_i`` the ascending rank
    of s_i among all scores, ties sharing their average rank (a tied pair counts 1/2). 0.5 is a
    random order, 1 a perfect one. InputError when y_true holds only one outcome.
    """
    y, s = _pair(y_true, y_score)
    _both_classes(y, "ROC-AUC")
    return float(metrics.roc_auc_score(y, s))


def average_precision(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the precision-recall curve as a step sum (PR-AUC, "average precision").

    Thresholds t_1 > t_2 > ... are the distinct scores; at t_k a customer is flagged when
    s_i >= t_k, giving precision P_k = TP_k / (TP_k + FP_k) and recall R_k = TP_k / P.
    ``AP = sum_k (R_k - R_{k-1}) P_k`` with R_0 = 0. A random order scores about the base
    rate, a perfect one 1. InputError when y_true holds only one outcome.
    """
    y, s = _pair(y_true, y_score)
    _both_classes(y, "Average precision")
    return float(metrics.average_precision_score(y, s))


def brier_score(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Brier score (*probability*): ``(1/n) sum_i (s_i - y_i)^2``, 0 is perfect.

    Always predicting the base rate scores pi (1 - pi), the reference a useful model beats.
    """
    y, s = _pair(y_true, y_prob, probability=True)
    return float(metrics.brier_score_loss(y, s, pos_label=1))


def calibration_curve(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> list[dict[str, float | int]]:
    """Reliability table (*probability*): predicted against observed rate in equal-width bins.

    Bin b (b = 0..n_bins-1) holds the customers with ``b/n_bins < s_i <= (b+1)/n_bins`` (bin 0
    also holds s_i = 0), the convention of scikit-learn's `calibration_curve`. Each non-empty
    bin gives ``{"bin_lower", "bin_upper", "customers": n_b, "mean_predicted": mean s_i,
    "observed_rate": mean y_i}``; empty bins are left out. A calibrated model has
    mean_predicted close to observed_rate in every bin.
    """
    y, s = _pair(y_true, y_prob, probability=True)
    bins = _check_bins(n_bins)
    observed, predicted = calibration.calibration_curve(y, s, n_bins=bins, strategy="uniform", pos_label=1)
    # scikit-learn gives the non-empty bins' rates, not their sizes or edges: count the
    # customers per bin with its binning (searchsorted over the inner edges).
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], s), minlength=bins)
    filled = np.flatnonzero(counts)
    return [
        {
            "bin_lower": float(edges[b]),
            "bin_upper": float(edges[b + 1]),
            "customers": int(counts[b]),
            "mean_predicted": float(mean_predicted),
            "observed_rate": float(rate),
        }
        for b, mean_predicted, rate in zip(filled, predicted, observed, strict=True)
    ]


def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> float:
    """Expected calibration error (*probability*) over the bins of `calibration_curve`:

    ``ECE = sum_b (n_b / n) |mean_predicted_b - observed_rate_b|``, in probability points
    (0.03 means predictions are off by 3 points on average).
    """
    curve = calibration_curve(y_true, y_prob, n_bins)
    n = sum(int(b["customers"]) for b in curve)
    return float(sum(int(b["customers"]) * abs(b["mean_predicted"] - b["observed_rate"]) for b in curve) / n)


def lift_by_decile(y_true: ArrayLike, y_score: ArrayLike, n_groups: int = 10) -> list[dict[str, float | int]]:
    """Lift table: customers sorted by score, highest first, cut into `n_groups` equal groups.

    Group g (1 = highest scores) holds positions ``floor((g-1) n / G) .. floor(g n / G) - 1``
    of the sorted list (sizes differ by at most one). Each group gives ``{"decile": g,
    "customers": n_g, "positives": P_g, "rate": P_g / n_g, "lift": (P_g / n_g) / pi,
    "cumulative_share": (P_1 + ... + P_g) / P}``: lift 3 means three times the base rate, and
    cumulative_share the part of all positives reached by contacting groups 1..g. InputError
    when there are fewer customers than groups or no positive.
    """
    y, s = _pair(y_true, y_score)
    groups = _check_bins(n_groups, name="n_groups")
    if y.size < groups:
        raise InputError(
            f"lift_by_decile needs at least n_groups={groups} customers; received {y.size}. Score more customers or use fewer groups."
        )
    positives = int(y.sum())
    if positives == 0:
        raise InputError("lift_by_decile needs at least one positive in y_true; received none.")
    base = positives / y.size
    sorted_y = y[np.argsort(-s, kind="mergesort")]
    bounds = (np.arange(groups + 1) * y.size) // groups
    rows: list[dict[str, float | int]] = []
    reached = 0
    for g in range(groups):
        part = sorted_y[bounds[g] : bounds[g + 1]]
        hits = int(part.sum())
        reached += hits
        rate = hits / part.size
        rows.append(
            {
                "decile": g + 1,
                "customers": int(part.size),
                "positives": hits,
                "rate": rate,
                "lift": rate / base,
                "cumulative_share": reached / positives,
            }
        )
    return rows


def _check_bins(n_bins: int, name: str = "n_bins") -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise InputError(f"`{name}` must be a positive whole number; received {n_bins!r}. Use e.g. 10.")
    return int(n_bins)


def classification_report(y_true: ArrayLike, y_score: ArrayLike, *, probability: bool) -> dict[str, Any]:
    """Every metric of this module for one score, as a JSON-ready dict.

    Keys: customers, positives, base_rate, roc_auc, average_precision, lift (by decile) and,
    when `probability` is true, brier, brier_reference (pi (1 - pi), the Brier score of always
    predicting the base rate), expected_calibration_error and calibration (10 bins); for a
    score that is not a probability those four are None.
    """
    y, s = _pair(y_true, y_score, probability=probability)
    positives = int(y.sum())
    base = positives / y.size
    report: dict[str, Any] = {
        "customers": int(y.size),
        "positives": positives,
        "base_rate": base,
        "roc_auc": roc_auc(y, s),
        "average_precision": average_precision(y, s),
        "brier": None,
        "brier_reference": None,
        "expected_calibration_error": None,
        "calibration": None,
        "lift": lift_by_decile(y, s),
    }
    if probability:
        report["brier"] = brier_score(y, s)
        report["brier_reference"] = base * (1 - base)
        report["expected_calibration_error"] = expected_calibration_error(y, s)
        report["calibration"] = calibration_curve(y, s)
    return report


__all__ = [
    "average_precision",
    "brier_score",
    "calibration_curve",
    "classification_report",
    "expected_calibration_error",
    "lift_by_decile",
    "roc_auc",
]
