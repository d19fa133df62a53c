"""Metrics for uplift models, scored on a randomised campaign (treatment and holdout).

Inputs shared by every function: `y`, the observed outcome of each customer (1/0, or any
number for a continuous outcome such as revenue), `treatment` (1 = was sent the message,
0 = held out; or True/False) and `score`, the predicted uplift, higher meaning "target first".

Notation. Customers are sorted by score, highest first. For the top t customers:
N_T(t) and N_C(t) count treated and control customers, Y_T(t) and Y_C(t) sum their outcomes.
n is the number of customers, N_T = N_T(n), N_C = N_C(n).

* Qini curve (Radcliffe 2007): Q(t) = Y_T(t) - Y_C(t) * N_T(t) / N_C(t), the extra outcomes
  among the targeted treated customers over what the control's rate predicts for them
  (Q(t) = Y_T(t) when N_C(t) = 0).
* Uplift curve (Rzepakowski and Jaroszewicz 2012; scikit-uplift's `uplift_curve`):
  U(t) = (Y_T(t) / N_T(t) - Y_C(t) / N_C(t)) * (N_T(t) + N_C(t)), the extra outcomes had all
  top-t customers been treated (0 while either arm is empty).
* Random targeting: a straight line from (0, 0) to (n, Q(n)) or (n, U(n)).
* AUUC and the Qini coefficient: the area between the curve and the random line, with t
  measured as the share targeted (t / n, from 0 to 1; trapezoids), so the unit is that of
  the curve (outcomes); > 0 means the ranking beats random targeting, 0 means no better.
* Uplift at k: the treated rate minus the control rate among the top ceil(k * n) customers.

Ties: customers with the same score form one step; curves have a point only after each
group of tied scores (as scikit-learn's ROC curve), so the input order never matters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cartwise.core.errors import InputError

__all__ = [
    "UpliftCurve",
    "auuc",
    "qini_coefficient",
    "qini_curve",
    "uplift_at_k",
    "uplift_curve",
]


@dataclass(frozen=True)
class UpliftCurve:
    """A curve over targeting depth: `targeted[j]` customers (the top ones by score, after the
    j-th group of tied scores; `targeted[0] = 0`) and the curve's `value[j]` there."""

    targeted: np.ndarray
    value: np.ndarray

    @property
    def share(self) -> np.ndarray:
        """Targeted share of all customers, from 0 to 1."""
        return self.targeted / self.targeted[-1]


def _numbers(name: str, values: ArrayLike, fix: str) -> np.ndarray:
    raw = np.asarray(values).reshape(-1)
    try:
        return raw.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must hold numbers; received e.g. {raw[:3].tolist()!r}. {fix}") from None


def _inputs(
    y: ArrayLike, treatment: ArrayLike, score: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    outcome = _numbers("y", y, "Map the outcome to 1/0 or give an amount.")
    treated = _numbers("treatment", treatment, "Map the arms to 1 (sent) and 0 (held out).")
    s = _numbers("score", score, "Give one predicted uplift per customer.")
    if not (outcome.size == treated.size == s.size):
        raise InputError(
            f"y, treatment and score must have one value per customer; received {outcome.size}, "
            f"{treated.size} and {s.size}."
        )
    if outcome.size == 0:
        raise InputError("y, treatment and score are empty; there is nothing to score.")
    bad = ~np.isin(treated, (0.0, 1.0))
    if bad.any():
        rows = ", ".join(map(str, np.flatnonzero(bad)[:3]))
        raise InputError(
            f"treatment must hold only 1 (sent) and 0 (held out); {int(bad.sum())} other values "
            f"(rows {rows}, e.g. {treated[bad][0]!r}). Map the arms to 1 and 0."
        )
    for name, values in (("y", outcome), ("score", s)):
        if not np.all(np.isfinite(values)):
            rows = ", ".join(map(str, np.flatnonzero(~np.isfinite(values))[:3]))
            raise InputError(
                f"{name} has missing or infinite values (rows {rows}); drop those customers or fill them first."
            )
    return outcome, treated.astype(bool), s


def _cumulative(
    y: ArrayLike, treatment: ArrayLike, score: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """N_T(t), N_C(t), Y_T(t), Y_C(t) at t = 0 and after each group of tied scores."""
    outcome, treated, s = _inputs(y, treatment, score)
    order = np.argsort(-s, kind="stable")
    s, outcome, treated = s[order], outcome[order], treated[order]
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    n_t = np.r_[0.0, np.cumsum(treated)[ends]]
    n_c = np.r_[0.0, np.cumsum(~treated)[ends]]
    y_t = np.r_[0.0, np.cumsum(outcome * treated)[ends]]
    y_c = np.r_[0.0, np.cumsum(outcome * ~treated)[ends]]
    return n_t, n_c, y_t, y_c


def qini_curve(y: ArrayLike, treatment: ArrayLike, score: ArrayLike) -> UpliftCurve:
    """Q(t) = Y_T(t) - Y_C(t) * N_T(t) / N_C(t) (second term 0 while N_C(t) = 0)."""
    n_t, n_c, y_t, y_c = _cumulative(y, treatment, score)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = y_t - np.where(n_c > 0, y_c * n_t / n_c, 0.0)
    return UpliftCurve(targeted=n_t + n_c, value=value)


def uplift_curve(y: ArrayLike, treatment: ArrayLike, score: ArrayLike) -> UpliftCurve:
    """U(t) = (Y_T(t)/N_T(t) - Y_C(t)/N_C(t)) * (N_T(t) + N_C(t)) (0 while either arm is empty)."""
    n_t, n_c, y_t, y_c = _cumulative(y, treatment, score)
    both = (n_t > 0) & (n_c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(both, (y_t / n_t - y_c / n_c) * (n_t + n_c), 0.0)
    return UpliftCurve(targeted=n_t + n_c, value=value)


def _area_over_random(curve: UpliftCurve) -> float:
    x = curve.share
    area = float(np.sum((x[1:] - x[:-1]) * (curve.value[1:] + curve.value[:-1]) / 2))
    return area - float(curve.value[-1]) / 2


def _check_arms(treatment: ArrayLike) -> None:
    arms = _numbers("treatment", treatment, "Map the arms to 1 (sent) and 0 (held out).")
    if not ((arms == 1).any() and (arms == 0).any()):
        raise InputError(
            "treatment has only one arm; an uplift metric needs both treated (1) and held-out (0) customers."
        )


def auuc(y: ArrayLike, treatment: ArrayLike, score: ArrayLike) -> float:
    """Area between the uplift curve and random targeting: sum over steps of
    (x_j - x_{j-1}) (U_j + U_{j-1}) / 2 - U(n) / 2, with x_j = t_j / n; in outcomes."""
    _check_arms(treatment)
    return _area_over_random(uplift_curve(y, treatment, score))


def qini_coefficient(y: ArrayLike, treatment: ArrayLike, score: ArrayLike) -> float:
    """Area between the Qini curve and random targeting, as `auuc` but over Q; in outcomes."""
    _check_arms(treatment)
    return _area_over_random(qini_curve(y, treatment, score))


def uplift_at_k(y: ArrayLike, treatment: ArrayLike, score: ArrayLike, k: float = 0.3) -> float:
    """Mean outcome of the treated minus that of the control among the top ceil(k * n) by score.

    Customers tied with the last one kept are cut in input order (ties rarely matter at a
    fixed depth; use the curves when they do). InputError when either arm is empty there.
    """
    if isinstance(k, bool) or not isinstance(k, int | float) or not 0 < k <= 1:
        raise InputError(f"k must be a share of customers in (0, 1]; received {k!r}. Use e.g. 0.3.")
    outcome, treated, s = _inputs(y, treatment, score)
    top = np.argsort(-s, kind="stable")[: math.ceil(k * s.size)]
    t, c = top[treated[top]], top[~treated[top]]
    if t.size == 0 or c.size == 0:
        raise InputError(
            f"The top {k:.0%} ({top.size} customers) hold {t.size} treated and {c.size} held-out customers; "
            "both arms are needed. Use a larger k or more customers."
        )
    return float(outcome[t].mean() - outcome[c].mean())
