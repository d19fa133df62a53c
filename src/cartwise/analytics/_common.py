"""Helpers shared by the analytics queries: inputs, validation, time arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from cartwise.core.durations import parse_duration
from cartwise.core.errors import ConfigError, InputError
from cartwise.core.times import parse_instant, parse_range

SECONDS_PER_DAY = 86_400
GRAINS = ("day", "week", "month")
MAX_GAP: dict[str, int] = {"day": 366, "week": 53, "month": 12}
"""Longest empty stretch (in periods, about a year) listed with zeros between two periods with
data; a longer one (a shop's history and one event dated 2100) is left out, so a period series
grows with the data, not with the distance between its first and last event."""


def as_table(data: Any, name: str = "events") -> ir.Table:
    """An Ibis table from an Ibis table, an Ibis backend (its table `name`), Arrow or pandas."""
    if isinstance(data, ir.Table):
        return data
    if isinstance(data, pa.Table | pd.DataFrame):
        return ibis.memtable(data)
    if hasattr(data, "table") and hasattr(data, "list_tables"):
        if name not in data.list_tables():
            raise InputError(f"The store has no `{name}` table; load one with `cartwise ingest {name}`.")
        return data.table(name)
    raise InputError(
        f"{name} must be an Ibis table or backend, a pyarrow Table or a DataFrame; got {type(data).__name__}."
    )


def require_columns(table: ir.Table, columns: list[str], what: str = "events") -> None:
    """InputError naming the first missing column and listing those present."""
    for col in columns:
        if col not in table.columns:
            raise InputError(
                f"The {what} have no column {col!r} (columns: {', '.join(table.columns)}); "
                f"map a source column to `{col}` when loading."
            )


def as_timedelta(value: str | timedelta, name: str) -> timedelta:
    """A timedelta from a timedelta or a duration text such as `30m`, `1d`; positive."""
    delta = value if isinstance(value, timedelta) else parse_duration(value, name=name)
    if delta <= timedelta(0):
        raise ConfigError(f"{value!r} must be positive, e.g. 30m, 1d or 7d.", parameter=name)
    return delta


def as_timestamp(value: str | date | datetime | None, name: str) -> datetime | None:
    """A naive UTC datetime from a date, a datetime or an ISO text; None stays None (the rules of
    `cartwise.core.times.parse_instant`, shared with the API)."""
    return parse_instant(value, name)


def as_range(
    start: str | date | datetime | None, end: str | date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """`as_timestamp` of both bounds; an end at or before the start is an error, not an empty answer."""
    return parse_range(start, end)


def check_grain(grain: str, name: str = "by") -> str:
    if grain not in GRAINS:
        raise ConfigError(f"{grain!r} is not a period; choose one of {', '.join(GRAINS)}.", parameter=name)
    return grain


def in_range(table: ir.Table, start: datetime | None, end: datetime | None) -> ir.Table:
    """Rows with start <= ts < end (either bound optional)."""
    if start is not None:
        table = table.filter(table.ts >= start)
    if end is not None:
        table = table.filter(table.ts < end)
    return table


def in_calendar(table: ir.Table) -> ir.Table:
    """Rows whose `ts` a calendar date can hold (years 1 to 9999). The store accepts later
    stamps (DuckDB reaches year 294247), but no period of them can be named, so period views
    leave them out; `cartwise events delete` removes them."""
    return table.filter((table.ts >= datetime.min) & (table.ts <= datetime.max))


def filled_periods(indexes: Iterable[int], grain: str) -> list[int]:
    """The distinct period `indexes`, sorted, plus the empty periods between two of them when
    that gap is at most `MAX_GAP[grain]` periods long (see `MAX_GAP`)."""
    found = sorted({int(i) for i in indexes})
    filled: list[int] = []
    for index in found:
        if filled and 1 < index - filled[-1] <= MAX_GAP[grain] + 1:
            filled.extend(range(filled[-1] + 1, index))
        filled.append(index)
    return filled


def epoch_days(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole days since 1970-01-01 (UTC), by plain arithmetic so every engine agrees."""
    return (ts.epoch_seconds() / SECONDS_PER_DAY).floor().cast("int64")


def period_index(ts: ir.TimestampValue, grain: str) -> ir.IntegerValue:
    """Consecutive integer index of the day, ISO week (from Monday) or calendar month of `ts`.

    1970-01-01 was a Thursday, so shifting by 3 days makes weeks start on Monday.
    Months are year * 12 + month - 1.
    """
    if grain == "day":
        return epoch_days(ts)
    if grain == "week":
        return ((epoch_days(ts) + 3) / 7).floor().cast("int64")
    return (ts.year() * 12 + ts.month() - 1).cast("int64")


def period_start(index: int, grain: str) -> date:
    """First day of the period numbered by `period_index`."""
    if grain == "day":
        return date(1970, 1, 1) + timedelta(days=index)
    if grain == "week":
        return date(1970, 1, 1) + timedelta(days=index * 7 - 3)
    return date(index // 12, index % 12 + 1, 1)


def column_or_property(table: ir.Table, name: str) -> tuple[ir.Value | None, bool]:
    """`table[name]`, else the top-level key `name` of its JSON `properties`/`attributes`
    column as text (numbers and booleans as their JSON text); `(None, False)` when neither
    exists. The flag says whether the value came from JSON (where a missing key is null)."""
    if name in table.columns:
        return table[name], False
    for extras in ("properties", "attributes"):
        if extras in table.columns and table[extras].type().is_json():
            value = table[extras][name]
            # `.str` is null for non-strings; the JSON text covers numbers and booleans.
            return value.str.coalesce(value.cast("string")), True
    return None, False
