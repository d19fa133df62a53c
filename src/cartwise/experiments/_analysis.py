"""Analyse an experiment from a table of summary statistics (one row per variant and metric).

The table has the columns `variant, metric, users, sum, sum_squares`; `pre_sum, pre_sum_squares,
sum_product` (the pre-period covariate and `Σ post·pre`) for CUPED; and, for a ratio metric such
as revenue per order, `den_sum, den_sum_squares, den_sum_product` (the denominator per user and
`Σ numerator·denominator`). The first variant in the table is the control; every other variant is
compared with it on every metric. Rows are numbered from 1 after the header in messages.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, DataWarning, InputError
from cartwise.experiments._checks import (
    SRM_THRESHOLD,
    Correction,
    adjust_p_values,
    check_weights,
    srm_p_value,
)
from cartwise.experiments._effects import (
    DEFAULT_SEQUENTIAL_TUNING,
    bayesian,
    effect,
    sequential_interval,
    sequential_p_value,
    t_interval,
    t_p_value,
    welch_dof,
)
from cartwise.experiments._summary import (
    CupedStat,
    RatioStat,
    Stat,
    check_mean_stat,
    check_product,
    pooled_theta,
)

REQUIRED_COLUMNS = ("variant", "metric", "users", "sum", "sum_squares")
CUPED_COLUMNS = ("pre_sum", "pre_sum_squares", "sum_product")
RATIO_COLUMNS = ("den_sum", "den_sum_squares", "den_sum_product")

MIN_USERS = 30
"""Fewest users per variant for an interval: below it the normal approximation behind every
interval here (t, delta method, confidence sequence) is not trusted, and the result says so."""


@dataclass(frozen=True)
class VariantResult:
    """One metric of one variant against the control. Lifts are fractions (0.05 = +5%).

    `lift`, `lift_ci`, `chance_to_win` and `risk` are about the relative lift; `abs_lift` and
    `abs_lift_ci` about the difference of means. `p_value` is gbstats' default: the t test (Welch
    degrees of freedom) of the delta-method relative lift, so it agrees with `lift_ci` on
    significance (the sequential e-value's with `sequential`; None when the relative lift is
    undefined). `abs_p_value` is Welch's test of the difference of means (scipy's
    `ttest_ind_from_stats(equal_var=False)`, gbstats' absolute-difference p-value), which tests
    the same null and differs slightly. `p_value` is adjusted when a correction is asked for
    (`p_value_raw` keeps the unadjusted one). Fields are None, with `note` saying why, when a
    result cannot be computed.
    """

    metric: str
    variant: str
    users: int
    mean: float
    control_users: int
    control_mean: float
    lift: float | None
    lift_ci: tuple[float, float] | None
    p_value: float | None
    chance_to_win: float | None
    risk: float | None
    abs_lift: float | None
    abs_lift_ci: tuple[float, float] | None
    abs_p_value: float | None
    p_value_raw: float | None = None
    cuped_theta: float | None = None
    note: str | None = None

    def contract(self) -> dict[str, Any]:
        """The keys of the `analyze --json` contract, in order."""
        return {
            "metric": self.metric,
            "variant": self.variant,
            "users": self.users,
            "mean": self.mean,
            "lift": self.lift,
            "lift_ci": list(self.lift_ci) if self.lift_ci is not None else None,
            "p_value": self.p_value,
            "chance_to_win": self.chance_to_win,
            "risk": self.risk,
        }


@dataclass(frozen=True)
class ExperimentAnalysis:
    """Every variant against the control on every metric, and the split's SRM check."""

    control: str
    variants: list[str]
    users: list[int]
    weights: list[float]
    srm_p: float
    results: list[VariantResult]
    method: dict[str, Any] = field(default_factory=dict)

    @property
    def srm_warning(self) -> bool:
        """True when the traffic split is broken (`srm_p < SRM_THRESHOLD`)."""
        return self.srm_p < SRM_THRESHOLD

    def contract(self) -> dict[str, Any]:
        """`{"srm_p", "results": [...]}` as `cartwise experiments analyze --json` prints it."""
        return {"srm_p": self.srm_p, "results": [r.contract() for r in self.results]}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"srm_warning": self.srm_warning}


def _rows(indices: np.ndarray, lines: Sequence[int] | None = None) -> str:
    """`row 3` or `rows 3, 7, ...` (1-based, at most five listed); `line 4` or `lines 4, 8, ...`
    when the rows' `lines` in their file are known."""
    word = "row" if lines is None else "line"
    numbers = [i + 1 if lines is None else lines[i] for i in indices[:5]]
    listed = ", ".join(map(str, numbers)) + (", ..." if len(indices) > 5 else "")
    return f"{word + 's' if len(indices) > 1 else word} {listed}"


def _numeric(
    frame: pd.DataFrame, column: str, rows: np.ndarray | None = None, lines: Sequence[int] | None = None
) -> np.ndarray:
    """The column as floats; refuses missing or non-numeric values in `rows` (default all)."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    wanted = np.ones(len(frame), dtype=bool) if rows is None else rows
    bad = np.flatnonzero(np.isnan(values) & wanted)
    if len(bad):
        example = raw.iloc[bad[0]]
        raise InputError(
            f"Column `{column}` has {len(bad)} missing or non-numeric values ({_rows(bad, lines)}, e.g. {example!r}); "
            "give a number in every row."
        )
    return values


def _has_column(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _row_stat(cols: dict[str, np.ndarray], i: int, where: str, cuped: bool, is_ratio: bool) -> Stat:
    """Row `i`'s statistic from the numeric columns `cols`; an InputError naming `where` if its
    numbers cannot be sums over users (`check_mean_stat`, `check_product`)."""
    post = check_mean_stat(cols["users"][i], cols["sum"][i], cols["sum_squares"][i], where)
    if is_ratio:
        if cuped:
            raise InputError(
                f"{where}: CUPED on a ratio metric is not supported; drop `cuped` or the ratio columns.",
                mentions=("cuped",),
            )
        den = check_mean_stat(
            post.n, cols["den_sum"][i], cols["den_sum_squares"][i], where, ("den_sum", "den_sum_squares")
        )
        return RatioStat(
            post, den, check_product(post, den, cols["den_sum_product"][i], where, "den_sum_product")
        )
    if cuped:
        pre = check_mean_stat(
            post.n, cols["pre_sum"][i], cols["pre_sum_squares"][i], where, ("pre_sum", "pre_sum_squares")
        )
        return CupedStat(post, pre, check_product(post, pre, cols["sum_product"][i], where, "sum_product"))
    return post


def summary_row_problems(frame: pd.DataFrame, cuped: bool = False) -> list[str | None]:
    """For each row of a summary table (columns as in `analyze_summary`, numbers already checked
    to be numbers), None or why its numbers cannot be sums over users: a negative or fractional
    user count, a sum of squares below sum²/users, a sum of products beyond Cauchy-Schwarz, ...
    The message names the row by metric and variant, not by position (the caller knows that)."""
    cols = {
        c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        for c in (*REQUIRED_COLUMNS[2:], *CUPED_COLUMNS, *RATIO_COLUMNS)
        if c in frame.columns
    }
    ratio_rows = (
        frame[list(RATIO_COLUMNS)].notna().any(axis=1).to_numpy()
        if all(c in frame.columns for c in RATIO_COLUMNS)
        else np.zeros(len(frame), dtype=bool)
    )
    found: list[str | None] = []
    for i, (metric, variant) in enumerate(zip(frame["metric"], frame["variant"], strict=True)):
        try:
            _row_stat(cols, i, f"metric `{metric}`, variant `{variant}`", cuped, bool(ratio_rows[i]))
        except (InputError, KeyError) as exc:
            # KeyError: a column --cuped needs is absent, the whole file's error (analyze_summary)
            found.append(exc.message if isinstance(exc, InputError) else None)
        else:
            found.append(None)
    return found


def _build_stats(
    frame: pd.DataFrame, cuped: bool, lines: Sequence[int] | None = None
) -> dict[tuple[str, str], tuple[int, Stat]]:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"The summary has no column {', '.join(f'`{c}`' for c in missing)} (it has "
            f"{', '.join(map(str, frame.columns))}); give the columns {', '.join(REQUIRED_COLUMNS)}."
        )
    if frame.empty:
        raise InputError("The summary has no rows; give one row per variant and metric.")
    if cuped:
        missing = [c for c in CUPED_COLUMNS if c not in frame.columns]
        if missing:
            raise InputError(
                f"needs the columns {', '.join(CUPED_COLUMNS)}; the summary lacks "
                f"{', '.join(f'`{c}`' for c in missing)}. Add the pre-period sums or turn `cuped` off.",
                parameter="cuped",
                mentions=("cuped",),
            )
    ratio = any(_has_column(frame, c) for c in RATIO_COLUMNS)
    if ratio:
        missing = [c for c in RATIO_COLUMNS if c not in frame.columns]
        if missing:
            raise InputError(
                f"A ratio metric needs the columns {', '.join(RATIO_COLUMNS)}; the summary lacks "
                f"{', '.join(f'`{c}`' for c in missing)}."
            )
    for column in ("variant", "metric"):
        empty = np.flatnonzero(
            frame[column].isna().to_numpy() | (frame[column].astype(str).str.strip() == "")
        )
        if len(empty):
            raise InputError(
                f"Column `{column}` is empty ({_rows(empty, lines)}); name the {column} in every row."
            )
    cols = {c: _numeric(frame, c, lines=lines) for c in ("users", "sum", "sum_squares")}
    if cuped:
        cols |= {c: _numeric(frame, c, lines=lines) for c in CUPED_COLUMNS}
    ratio_rows = np.zeros(len(frame), dtype=bool)
    if ratio:
        ratio_rows = frame[list(RATIO_COLUMNS)].notna().any(axis=1).to_numpy()
        cols |= {c: _numeric(frame, c, ratio_rows, lines) for c in RATIO_COLUMNS}
    stats: dict[tuple[str, str], tuple[int, Stat]] = {}
    variants = frame["variant"].astype(str).to_numpy()
    metrics = frame["metric"].astype(str).to_numpy()
    word = "row" if lines is None else "line"
    for i in range(len(frame)):
        row = i + 1 if lines is None else int(lines[i])
        key = (metrics[i], variants[i])
        where = f"metric `{key[0]}`, variant `{key[1]}` ({word} {row})"
        if key in stats:
            raise InputError(f"{where} repeats {word} {stats[key][0]}; give one row per variant and metric.")
        stats[key] = (row, _row_stat(cols, i, where, cuped, bool(ratio_rows[i])))
    for (metric, _), (row, stat) in stats.items():
        first_row, first = next(v for k, v in stats.items() if k[0] == metric)
        if isinstance(stat, RatioStat) != isinstance(first, RatioStat):
            ratio_row, plain_row = (row, first_row) if isinstance(stat, RatioStat) else (first_row, row)
            raise InputError(
                f"Metric `{metric}` is a ratio in {word} {ratio_row} (den_* columns filled) but not in {word} "
                f"{plain_row}; fill the den_* columns in every row of a ratio metric, or in none."
            )
    return stats


def _compare(
    a: Stat, b: Stat, *, sequential: bool, alpha: float, tuning: float, prior: tuple[float, float] | None
) -> dict[str, Any]:
    """The frequentist and Bayesian comparison of `b` with control `a` (relative and absolute)."""
    theta = None
    if isinstance(a, CupedStat) and isinstance(b, CupedStat):
        theta = pooled_theta(a, b)
        if theta == 0:  # no variance in a period: CUPED is off, as in gbstats
            a, b = a.post, b.post
        else:
            a = CupedStat(a.post, a.pre, a.sum_product, theta)
            b = CupedStat(b.post, b.pre, b.sum_product, theta)
    if a.variance <= 0 or b.variance <= 0:
        return {"note": "every user has the same value in one variant (zero variance); no interval"}
    absolute = effect(a, b, relative=False)
    dof = welch_dof(a, b)
    n_total = a.n + b.n
    out: dict[str, Any] = {"abs_lift": absolute.estimate, "cuped_theta": theta}
    if sequential:
        out["abs_lift_ci"] = sequential_interval(absolute, n_total, alpha, tuning)
        out["abs_p_value"] = sequential_p_value(absolute, n_total, alpha, tuning)
    else:
        out["abs_lift_ci"] = t_interval(absolute, dof, alpha)
        out["abs_p_value"] = t_p_value(absolute, dof)
    if a.unadjusted_mean == 0 or a.mean == 0:
        out["note"] = "the control's mean is 0, so a relative lift is undefined"
        return out
    rel = effect(a, b, relative=True)
    if rel.variance <= 0:
        out["note"] = "the relative lift has zero variance; no interval"
        return out
    out["lift"] = rel.estimate
    if sequential:
        out["lift_ci"] = sequential_interval(rel, n_total, alpha, tuning)
        out["p_value"] = sequential_p_value(rel, n_total, alpha, tuning)
    else:
        out["lift_ci"] = t_interval(rel, dof, alpha)
        out["p_value"] = t_p_value(rel, dof)
    if prior is None:
        post = bayesian(rel, alpha)
    else:
        post = bayesian(rel, alpha, prior_mean=prior[0], prior_variance=prior[1] ** 2)
    out["chance_to_win"] = post.chance_to_win
    out["risk"] = post.risk
    return out


def analyze_summary(
    frame: pd.DataFrame,
    *,
    cuped: bool = False,
    sequential: bool = False,
    correction: Correction | None = None,
    weights: Sequence[float] | None = None,
    alpha: float = 0.05,
    min_users: int = MIN_USERS,
    sequential_tuning: float = DEFAULT_SEQUENTIAL_TUNING,
    prior: tuple[float, float] | None = None,
    lines: Sequence[int] | None = None,
) -> ExperimentAnalysis:
    """Compare every variant with the control (the table's first variant) on every metric.

    Per metric and variant: the means, the relative and absolute lifts with their 95% intervals
    (delta method for the relative one; always-valid confidence sequences with `sequential`),
    the p-value of no difference (Welch's t, or the sequential e-value's), and the Bayesian
    chance to win and risk with a flat prior. `cuped` adjusts each metric by its pre-period covariate (pooled theta).
    `correction` (`holm` or `bh`) adjusts the p-values across all metrics and variants. The SRM
    p-value compares each variant's users (from its first metric) with `weights` (default
    equal) and warns (`DataWarning`) below 0.001. A variant with fewer than `min_users` users
    gets no interval, p-value or Bayesian summary, and a warning saying so. `prior` is a
    proper Gaussian prior `(mean, sd)` on the relative lift for the Bayesian summary (gbstats'
    `GaussianPrior(proper=True)`); `sequential_tuning` is the confidence sequence's τ.
    `lines` (each row's line in its file) makes messages name lines instead of 1-based rows.
    """
    if not 0 < alpha < 1:
        raise ConfigError(f"`alpha` is {alpha:g}; give a level in (0, 1), e.g. 0.05.")
    if min_users < 2:
        raise ConfigError(f"`min_users` is {min_users}; it must be at least 2 (a variance needs two users).")
    if not (sequential_tuning > 0 and math.isfinite(sequential_tuning)):
        raise ConfigError(
            f"`sequential_tuning` is {sequential_tuning:g}; give a positive number of users, e.g. 5000."
        )
    if prior is not None and not (math.isfinite(prior[0]) and math.isfinite(prior[1]) and prior[1] > 0):
        raise ConfigError(
            f"`prior` is (mean {prior[0]:g}, sd {prior[1]:g}); give a finite mean and a positive sd of the "
            "relative lift, e.g. (0, 0.3)."
        )
    stats = _build_stats(frame, cuped, lines)
    variants = list(dict.fromkeys(k[1] for k in stats))
    metrics = list(dict.fromkeys(k[0] for k in stats))
    if len(variants) < 2:
        raise InputError(
            f"The summary has one variant ({variants[0]!r}); an experiment needs a control and at least one other variant."
        )
    for metric in metrics:
        for variant in variants:
            if (metric, variant) not in stats:
                raise InputError(
                    f"Metric `{metric}` has no row for variant `{variant}`; give every metric a row for every variant."
                )
        if all(_is_empty(stats[(metric, v)][1]) for v in variants):
            raise InputError(
                f"Metric `{metric}` has no events in any variant (every sum is 0); check the metric's "
                "definition and window, or drop it."
            )
    shares = check_weights(weights, len(variants))
    users = [stats[(metrics[0], v)][1].n for v in variants]
    for metric in metrics[1:]:
        other = [stats[(metric, v)][1].n for v in variants]
        if other != users:
            warnings.warn(
                DataWarning(
                    f"Metric `{metric}` counts users {other} per variant, metric `{metrics[0]}` {users}; "
                    f"the SRM check uses those of `{metrics[0]}`."
                ),
                stacklevel=2,
            )
    srm_p = srm_p_value(users, shares)
    if srm_p < SRM_THRESHOLD:
        warnings.warn(
            DataWarning(
                f"Sample ratio mismatch: users {dict(zip(variants, users, strict=True))} do not fit the "
                f"weights {shares} (chi-square p = {srm_p:.2g} < {SRM_THRESHOLD}); the assignment or the "
                "exposure logging is broken, so do not trust these results."
            ),
            stacklevel=2,
        )
    control = variants[0]
    results: list[VariantResult] = []
    for metric in metrics:
        a = stats[(metric, control)][1]
        for variant in variants[1:]:
            b = stats[(metric, variant)][1]
            if min(a.n, b.n) < min_users:
                found: dict[str, Any] = {
                    "note": f"too few users ({a.n} in `{control}`, {b.n} in `{variant}`; at least "
                    f"{min_users} per variant are needed for an interval)"
                }
            else:
                found = _compare(
                    a, b, sequential=sequential, alpha=alpha, tuning=sequential_tuning, prior=prior
                )
            if found.get("note"):
                warnings.warn(
                    DataWarning(f"Metric `{metric}`, variant `{variant}`: {found['note']}."), stacklevel=2
                )
            results.append(
                VariantResult(
                    metric=metric,
                    variant=variant,
                    users=b.n,
                    mean=b.unadjusted_mean,
                    control_users=a.n,
                    control_mean=a.unadjusted_mean,
                    lift=found.get("lift"),
                    lift_ci=found.get("lift_ci"),
                    p_value=found.get("p_value"),
                    chance_to_win=found.get("chance_to_win"),
                    risk=found.get("risk"),
                    abs_lift=found.get("abs_lift"),
                    abs_lift_ci=found.get("abs_lift_ci"),
                    abs_p_value=found.get("abs_p_value"),
                    p_value_raw=found.get("p_value"),
                    cuped_theta=found.get("cuped_theta"),
                    note=found.get("note"),
                )
            )
    if correction is not None:
        results = _corrected(results, correction)
    method = {
        "alpha": alpha,
        "cuped": cuped,
        "sequential": sequential,
        "sequential_tuning": sequential_tuning if sequential else None,
        "correction": correction,
        "min_users": min_users,
        "prior": list(prior) if prior else None,
    }
    return ExperimentAnalysis(control, variants, users, shares, srm_p, results, method)


def _is_empty(stat: Stat) -> bool:
    if isinstance(stat, CupedStat):
        stat = stat.post
    if isinstance(stat, RatioStat):
        return stat.numerator.sum == 0 and stat.numerator.sum_squares == 0
    return stat.sum == 0 and stat.sum_squares == 0


def _corrected(results: list[VariantResult], correction: Correction) -> list[VariantResult]:
    tested = [i for i, r in enumerate(results) if r.p_value is not None]
    adjusted = adjust_p_values([results[i].p_value for i in tested], correction)  # type: ignore[misc]
    out = list(results)
    for i, p in zip(tested, adjusted, strict=True):
        r = results[i]
        out[i] = replace(r, p_value=p)
    return out
