"""UTC times: one way to write them, one way to read them, for the CLI, the API and the library.

Cartwise stores naive datetimes that mean UTC. `utc_iso` writes one as ISO 8601 with a `Z`;
`parse_instant` and `parse_range` read the bounds a user gives (`--start`, `start=`) by one set
of rules; `times_as_seconds` reads a column of times (numbers, datetimes or text) as epoch
seconds for models that only need an order or a gap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, InputError


def utc_iso(value: datetime | str, timespec: str = "auto") -> str:
    """`value` as ISO 8601 UTC with a `Z` (`2026-03-01T12:00:00Z`); a naive value is taken as UTC,
    an aware one is converted. DuckDB hands back stored times after year 9999 as text
    (`10000-01-01 00:00:00`), which no `datetime` can hold: such text keeps its digits."""
    if isinstance(value, str):
        return value.replace(" ", "T") + "Z"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec=timespec) + "Z"


def utc_now() -> datetime:
    """The current time as a naive UTC datetime, the form the store keeps."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_instant(value: str | date | datetime | None, parameter: str) -> datetime | None:
    """A naive UTC datetime from an ISO 8601 date or date-time (`2025-03-01`, `2025-03-01T12:00`,
    a `Z` or an offset, which is converted to UTC); None for None or "". Anything else is a
    `ConfigError` about `parameter`."""
    if value is None or value == "":
        return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            stamp = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ConfigError(
                f"{str(value)[:60]!r} is not a date; use ISO form, e.g. 2025-03-01 or 2025-03-01T12:00.",
                parameter=parameter,
            ) from None
    if stamp.tzinfo is not None:
        try:
            stamp = (stamp - stamp.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
        except OverflowError:
            raise ConfigError(f"{str(value)[:60]!r} is out of range.", parameter=parameter) from None
    return stamp


def parse_range(
    start: str | date | datetime | None, end: str | date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """`parse_instant` of both bounds of `start <= time < end`; an end at or before the start is
    an error about `end`, not an empty answer."""
    start_ts, end_ts = parse_instant(start, "start"), parse_instant(end, "end")
    if start_ts is not None and end_ts is not None and end_ts <= start_ts:
        raise ConfigError(
            f"{end_ts.isoformat()} must be after the start, {start_ts.isoformat()} "
            "(the range is start <= time < end).",
            parameter="end",
        )
    return start_ts, end_ts


def times_as_seconds(values: Any, *, name: str, fix: str = "use ISO 8601 or epoch seconds") -> np.ndarray:
    """`values` (numbers, numeric text, datetimes or date strings) as float seconds since the epoch.

    Missing or unreadable values are an `InputError` naming the column `name`, the rows and
    examples; `fix` ends the message."""
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = pd.to_datetime(series, utc=True)
    elif pd.api.types.is_numeric_dtype(series):
        out = series.to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(out))
        if len(bad):
            raise InputError(
                f"Time column `{name}` has {len(bad)} missing values (rows {', '.join(map(str, bad[:5]))}); "
                f"{fix}."
            )
        return out
    else:
        numeric = pd.to_numeric(series, errors="coerce")
        if numeric.notna().all():
            return numeric.to_numpy(dtype=float)
        parsed = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        examples = ", ".join(repr(series.iloc[i]) for i in bad[:3])
        raise InputError(
            f"Time column `{name}` has {len(bad)} missing or unreadable values (rows "
            f"{', '.join(map(str, bad[:5]))}, e.g. {examples}); {fix}."
        )
    return (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


__all__ = ["parse_instant", "parse_range", "times_as_seconds", "utc_iso", "utc_now"]
