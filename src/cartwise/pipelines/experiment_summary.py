"""Experiment analysis from a summary-statistics file, and sample-size planning.

Reads a CSV of `variant, metric, users, sum, sum_squares` (plus the CUPED and ratio columns,
see `cartwise.experiments.analyze_summary`) and hands it to the pure statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cartwise.core.errors import InputError
from cartwise.experiments import (
    DEFAULT_SEQUENTIAL_TUNING,
    Correction,
    ExperimentAnalysis,
    PowerResult,
    analyze_summary,
    power_for,
    sample_size,
)


def read_summary(path: Path) -> pd.DataFrame:
    """The summary file as a frame; `variant` and `metric` stay text (a variant named `1` is a name)."""
    try:
        return pd.read_csv(
            path,
            dtype={"variant": str, "metric": str},
            skipinitialspace=True,
            keep_default_na=False,  # show "N/A" as written in messages; only empty cells are missing
            na_values=[""],
        )
    except pd.errors.EmptyDataError as exc:
        raise InputError(
            f"The summary file {path.name} is empty; give a header line and one row per variant and metric."
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"The summary file {path.name} is not a readable CSV file ({exc}).") from exc


def analyze_summary_file(
    path: Path,
    *,
    cuped: bool = False,
    sequential: bool = False,
    correction: Correction | None = None,
    weights: Sequence[float] | None = None,
    alpha: float = 0.05,
    sequential_tuning: float = DEFAULT_SEQUENTIAL_TUNING,
    prior: tuple[float, float] | None = None,
) -> ExperimentAnalysis:
    """Analyse the experiment summarised in `path` (see `cartwise.experiments.analyze_summary`)."""
    return analyze_summary(
        read_summary(path),
        cuped=cuped,
        sequential=sequential,
        correction=correction,
        weights=weights,
        alpha=alpha,
        sequential_tuning=sequential_tuning,
        prior=prior,
    )


def plan_power(
    mde: float,
    *,
    mean: float | None = None,
    sd: float | None = None,
    rate: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    users: int | None = None,
) -> PowerResult:
    """Users per variant for `mde`, or, given `users`, the power those users reach."""
    if users is not None:
        return power_for(users, mde, mean=mean, sd=sd, rate=rate, alpha=alpha)
    return sample_size(mde, mean=mean, sd=sd, rate=rate, alpha=alpha, power=power)
