"""Experiment analysis from a summary-statistics file, and sample-size planning.

Reads a CSV of `variant, metric, users, sum, sum_squares` (plus the CUPED and ratio columns,
see `cartwise.experiments.analyze_summary`) and hands it to the pure statistics. Rows that
cannot be used are set aside and reported by the line an editor shows, as every command that
reads a file does (`cartwise.pipelines.bad_rows`), or with `strict` fail.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import DataWarning, InputError
from cartwise.experiments import (
    CUPED_COLUMNS,
    DEFAULT_SEQUENTIAL_TUNING,
    RATIO_COLUMNS,
    REQUIRED_COLUMNS,
    Correction,
    ExperimentAnalysis,
    analyze_summary,
    summary_row_problems,
)


def read_summary_checked(
    path: Path, *, cuped: bool = False, strict: bool = False
) -> tuple[pd.DataFrame, list[int], dict[str, Any]]:
    """The usable rows of the summary file `path`, each row's line as an editor numbers it
    (header = line 1), and the report of the rows set aside (`{"set_aside", "reasons",
    "metrics_left_out"}`, as `cartwise.pipelines.bad_rows.read_checked` reports them).

    A row is set aside when it has a wrong number of fields, no variant or metric, a value
    that is not a number, or numbers that cannot be sums over users
    (`cartwise.experiments.summary_row_problems`). A metric that thereby loses its row for a
    variant is left out whole (`metrics_left_out`, with the variants it lacks): its lift would
    have no control or no treatment. With `strict` the first such problem is an InputError
    naming its line."""
    from cartwise.ingest import read_input
    from cartwise.pipelines.bad_rows import LINE_COLUMN, read_checked

    roles = [*REQUIRED_COLUMNS, *(CUPED_COLUMNS if cuped else ()), *RATIO_COLUMNS]
    frame, report = read_checked(
        path,
        header=True,
        columns={c: c for c in roles},
        strict=strict,
        with_lines=True,
        format="csv",
        delimiter=",",
    )
    report["metrics_left_out"] = []
    for column in ("variant", "metric"):
        if column in frame.columns:
            frame[column] = frame[column].str.strip()
    frame = frame.replace({"": np.nan})  # an empty cell is missing (a plain metric's den_* columns)
    if any(c not in frame.columns for c in REQUIRED_COLUMNS):
        return frame.drop(columns=LINE_COLUMN), [], report  # analyze_summary names what is missing
    lines = [int(v) for v in frame[LINE_COLUMN]]
    bad = np.zeros(len(frame), dtype=bool)
    for i, problem in enumerate(summary_row_problems(frame, cuped)):
        if problem is None:
            continue
        if strict:
            raise InputError(f"{path}: line {lines[i]}: {problem}")
        bad[i] = True
        report["reasons"].append(
            {
                "reason": f"record for {problem.rstrip('.')}",
                "count": 1,
                "lines": [lines[i]],
                "example": _record(frame.iloc[i]),
            }
        )
    if bad.any():
        count = int(bad.sum())
        shown = "; ".join(f"line {r['lines'][0]}: {r['reason']}" for r in report["reasons"][-count:][:5])
        warnings.warn(
            DataWarning(
                f"{path}: {count} record{'s' if count > 1 else ''} set aside: {shown}. The rest were used; "
                "pass `strict` to fail instead.",
                mentions=("strict",),
            ),
            stacklevel=2,
        )
        report["set_aside"] += count
    frame = frame.loc[~bad].reset_index(drop=True)
    if report["set_aside"]:
        frame = _drop_incomplete(frame, _file_variants(read_input, path), report, path)
    lines = [int(v) for v in frame[LINE_COLUMN]]
    return frame.drop(columns=LINE_COLUMN), lines, report


def _file_variants(read: Any, path: Path) -> list[str]:
    """Every variant named in the file, in its order (set-aside rows included): the first is
    the control whatever rows are set aside."""
    table = read(path, header=True, format="csv", delimiter=",").table
    if "variant" not in table.column_names:
        return []
    names = (str(v).strip() for v in table.column("variant").to_pylist() if v is not None)
    return list(dict.fromkeys(n for n in names if n))


def _record(row: pd.Series) -> str:
    return ",".join("" if pd.isna(v) else str(v) for k, v in row.items() if not str(k).startswith("__"))


def _drop_incomplete(
    frame: pd.DataFrame, variants: list[str], report: dict[str, Any], path: Path
) -> pd.DataFrame:
    """Leave out each metric that lacks a row for a variant of the file (its row was set
    aside), and put the file's control first."""
    keep = np.ones(len(frame), dtype=bool)
    for metric, rows in frame.groupby("metric", sort=False).groups.items():
        present = set(frame.loc[rows, "variant"])
        missing = [v for v in variants if v not in present]
        if missing:
            keep[frame.index.get_indexer(rows)] = False
            report["metrics_left_out"].append({"metric": str(metric), "missing_variants": missing})
    if report["metrics_left_out"]:
        shown = "; ".join(
            f"`{m['metric']}` (no usable row for {', '.join(f'`{v}`' for v in m['missing_variants'])})"
            for m in report["metrics_left_out"]
        )
        if not keep.any():
            raise InputError(
                f"{path}: no metric has a usable row for every variant once the bad rows are set aside: "
                f"{shown}. Fix the lines reported above."
            )
        warnings.warn(
            f"{path}: metrics left out because a row of theirs was set aside: {shown}.",
            DataWarning,
            stacklevel=3,
        )
    frame = frame.loc[keep].reset_index(drop=True)
    if variants and len(frame) and frame["variant"].iloc[0] != variants[0]:
        first = int(np.flatnonzero(frame["variant"].to_numpy() == variants[0])[0])
        frame = frame.iloc[[first, *(i for i in range(len(frame)) if i != first)]].reset_index(drop=True)
    return frame


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
    strict: bool = False,
) -> tuple[ExperimentAnalysis, dict[str, Any]]:
    """Analyse the experiment summarised in `path` (see `cartwise.experiments.analyze_summary`)
    and report the rows set aside (`read_summary_checked`); messages name lines of the file."""
    frame, lines, report = read_summary_checked(path, cuped=cuped, strict=strict)
    analysis = analyze_summary(
        frame,
        cuped=cuped,
        sequential=sequential,
        correction=correction,
        weights=weights,
        alpha=alpha,
        sequential_tuning=sequential_tuning,
        prior=prior,
        lines=lines or None,
    )
    return analysis, report
