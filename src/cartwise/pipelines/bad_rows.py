"""Bad rows of a file read outside ingestion (`cartwise clv`, `forecast`, `forecast reorder`,
`recs`, `basket`, `experiments analyze --summary`):
set aside, counted and reported by the line a text editor shows, as ingestion quarantines them;
or, with `strict`, an error.

Line numbers count from 1 with the header line included, and blank lines count, as in an
editor (`cartwise.ingest.readers.editor_lines`).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import DataWarning, InputError
from cartwise.ingest import read_input
from cartwise.ingest.readers import HIDDEN_COLUMNS, ROW_COLUMN, editor_lines

LINE_COLUMN = "__line__"
"""The column `read_checked(..., with_lines=True)` adds: each row's line as an editor numbers it."""


def _date_failures(text: pd.Series, date_format: str | None) -> np.ndarray:
    """Which values no attempt reads as a date (the attempts of `cartwise.predict.parse_days`)."""
    best: np.ndarray | None = None
    for attempt in [date_format] if date_format else [None, "ISO8601", "mixed"]:
        try:
            parsed = pd.to_datetime(text, format=attempt, errors="coerce", utc=True)
        except (ValueError, TypeError):
            continue
        bad = parsed.isna().to_numpy()
        if best is None or bad.sum() < best.sum():
            best = bad
        if not best.any():
            break
    return np.ones(len(text), dtype=bool) if best is None else best


# role -> (check, words). Checks: `id` (not empty), `date` (a date), `period` (a date or an
# integer period), `time` (a date-time or epoch seconds), `number` (a finite number), `measure`
# (a finite number, or empty: a missing period of a series).
ROLES: dict[str, tuple[str, str]] = {
    "customer": ("id", "customer id"),
    "id": ("id", "series id"),
    "user": ("id", "user id"),
    "item": ("id", "item id"),
    "basket": ("id", "basket id"),
    "date": ("date", "date"),
    "period": ("period", "period"),
    "time": ("time", "time"),
    "amount": ("number", "amount"),
    "value": ("measure", "value"),
    # the columns of an experiment summary (`cartwise experiments analyze --summary`)
    "variant": ("id", "variant"),
    "metric": ("id", "metric"),
    "users": ("number", "user count"),
    "sum": ("number", "sum"),
    "sum_squares": ("number", "sum of squares"),
    "pre_sum": ("number", "pre-period sum"),
    "pre_sum_squares": ("number", "pre-period sum of squares"),
    "sum_product": ("number", "sum of products"),
    "den_sum": ("measure", "denominator sum"),
    "den_sum_squares": ("measure", "denominator sum of squares"),
    "den_sum_product": ("measure", "denominator sum of products"),
    # a forecast file and a stock file (`cartwise forecast reorder`)
    "forecast": ("number", "forecast"),
    "lo_80": ("number", "80% lower bound"),
    "hi_80": ("number", "80% upper bound"),
    "stock": ("number", "stock on hand"),
    # an item catalogue (`cartwise recs --items`)
    "price": ("measure", "price"),
}


def _problem(role: str, column: Hashable, text: pd.Series, date_format: str | None) -> tuple[np.ndarray, str]:
    """(which rows are unusable, the reason in words) for one role's column."""
    check, words = ROLES[role]
    empty = (text.isna() | (text.str.strip() == "")).to_numpy()
    if check == "id":
        return empty, f"record with no {words} (column `{column}`)"
    if check == "date":
        return empty | _date_failures(
            text, date_format
        ), f"record whose date (column `{column}`) is not a date"
    if check == "period":
        whole = text.str.strip().str.fullmatch(r"-?\d+").fillna(False).to_numpy(dtype=bool)
        dates = pd.to_datetime(text, format="ISO8601", errors="coerce").isna().to_numpy()
        reason = (
            f"record whose period (column `{column}`) is neither a date (YYYY-MM-DD) nor an integer period"
        )
        return empty | (~whole & dates), reason
    if check == "time":
        numeric = pd.to_numeric(text, errors="coerce").notna().to_numpy()
        dates = pd.to_datetime(text, utc=True, errors="coerce", format="mixed").isna().to_numpy()
        reason = f"record whose time (column `{column}`) is neither a date-time nor epoch seconds"
        return empty | (~numeric & dates), reason
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if check == "measure":
        bad &= ~empty
    return bad, f"record whose {words} (column `{column}`) is not a number"


def read_checked(
    path: str | Path,
    header: bool,
    columns: Mapping[str, Hashable | None],
    *,
    date_format: str | None = None,
    strict: bool = False,
    with_lines: bool = False,
    **read_options: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read `path` and set aside records that cannot be used: a wrong number of fields, or a
    column of one of the `ROLES` that fails its check (an empty `customer`, a `date` that is not
    a date, an `amount` that is not a finite number, ...).

    `columns` maps roles (`ROLES`) to the file's columns (None: not used). Returns the usable
    rows (the file's columns; text formats as strings) and a report `{"set_aside", "reasons":
    [{"reason", "count", "lines", "example"}]}`. A DataWarning names the first lines; with
    `strict` an InputError does instead and nothing is returned. `with_lines` adds the column
    `LINE_COLUMN`: each kept row's line, for later messages about it. `read_options`
    (`format`, `delimiter`, `encoding`) go to `cartwise.ingest.read_input`.
    """
    path = Path(path)
    result = read_input(path, header=header, **read_options)
    frame = result.table.to_pandas()
    problems: list[tuple[str, np.ndarray, pd.Series]] = []
    rows = frame[ROW_COLUMN].to_numpy() if ROW_COLUMN in frame else np.arange(1, len(frame) + 1)
    for role, column in columns.items():
        if column is None or column not in frame.columns:
            continue  # a missing column is the model's whole-file error, with the columns found
        text = frame[column].astype("string")
        bad, reason = _problem(role, column, text, date_format)
        problems.append((reason, bad, text))
    lines, malformed_lines = rows + (1 if header else 0), np.zeros(len(result.malformed), dtype=np.int64)
    if with_lines or result.malformed or any(bad.any() for _, bad, _ in problems):
        # one scan for every record's line as an editor shows it (JSON lines have no header,
        # blank lines count); a clean file is not read again
        numbered = editor_lines(
            path, np.concatenate([rows, [m.row for m in result.malformed]]), header, result.format
        )
        lines, malformed_lines = numbered[: len(rows)], numbered[len(rows) :]
    reasons: list[dict[str, Any]] = [
        {
            "reason": f"record {m.reason}",
            "count": 1,
            "lines": [int(line)],
            "example": m.text,
        }
        for m, line in zip(result.malformed, malformed_lines, strict=True)
    ]
    drop = np.zeros(len(frame), dtype=bool)
    for reason, bad, text in problems:
        bad = bad & ~drop  # each row counted once, under its first problem
        if bad.any():
            idx = np.flatnonzero(bad)
            reasons.append(
                {
                    "reason": reason,
                    "count": int(idx.size),
                    "lines": [int(v) for v in lines[idx[:5]]],
                    "example": str(text.iloc[idx[0]]),
                }
            )
            drop |= bad
    count = int(drop.sum()) + len(result.malformed)
    report: dict[str, Any] = {"set_aside": count, "reasons": reasons}
    if count:
        shown = "; ".join(
            f"{r['count']} {r['reason']} (line{'s' if r['count'] > 1 else ''} "
            f"{', '.join(map(str, r['lines']))}{', ...' if r['count'] > len(r['lines']) else ''}, e.g. {r['example']!r})"
            for r in reasons[:5]
        )
        if count == len(frame) + len(result.malformed):
            raise InputError(
                f"{path}: none of its {count:,} records can be used: {shown}. Check the column options "
                "(names, or numbers for a file without a header) and the date format."
            )
        if strict:
            raise InputError(
                f"{path}: {count:,} of {len(frame) + len(result.malformed):,} records cannot be used: {shown}."
            )
        warnings.warn(
            DataWarning(
                f"{path}: {count:,} record{'s' if count > 1 else ''} set aside: {shown}. The rest were used; "
                "pass `strict` to fail instead.",
                mentions=("strict",),
            ),
            stacklevel=2,
        )
    kept = frame.loc[~drop].drop(columns=[c for c in HIDDEN_COLUMNS if c in frame.columns])
    if with_lines:
        kept[LINE_COLUMN] = lines[~drop]
    return kept.reset_index(drop=True), report
