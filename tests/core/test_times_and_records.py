"""The shared helpers: UTC times written one way, dates read by one set of rules, JSON rows."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from cartwise.core.errors import ConfigError, InputError
from cartwise.core.records import json_rows, json_value
from cartwise.core.times import parse_instant, parse_range, times_as_seconds, utc_iso


def test_utc_iso_writes_naive_utc_with_a_z_and_converts_aware_times() -> None:
    assert utc_iso(datetime(2026, 3, 1, 12, 0)) == "2026-03-01T12:00:00Z"
    paris = timezone(timedelta(hours=1))
    assert utc_iso(datetime(2026, 3, 1, 13, 0, tzinfo=paris)) == "2026-03-01T12:00:00Z"
    assert utc_iso(datetime(2026, 3, 1, 12, 0, 5, 250000), timespec="seconds") == "2026-03-01T12:00:05Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-01", datetime(2025, 3, 1)),
        ("2025-03-01T12:30", datetime(2025, 3, 1, 12, 30)),
        ("2025-03-01T12:30:00Z", datetime(2025, 3, 1, 12, 30)),
        ("2025-03-01T13:30:00+01:00", datetime(2025, 3, 1, 12, 30)),
        (date(2025, 3, 1), datetime(2025, 3, 1)),
        (np.datetime64("2025-03-01T12:30"), datetime(2025, 3, 1, 12, 30)),
        (None, None),
        ("", None),
    ],
)
def test_parse_instant_reads_iso_dates_as_naive_utc(value: object, expected: datetime | None) -> None:
    assert parse_instant(value, "start") == expected  # type: ignore[arg-type]


def test_parse_instant_and_range_name_the_parameter() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_instant("yesterday", "start")
    assert caught.value.parameter == "start" and "'yesterday' is not a date" in caught.value.message
    assert str(caught.value).startswith("`start`: ")
    with pytest.raises(ConfigError) as caught:
        parse_range("2025-03-02", "2025-03-01")
    assert caught.value.parameter == "end" and "must be after the start" in caught.value.message
    assert parse_range("2025-03-01", None) == (datetime(2025, 3, 1), None)


def test_times_as_seconds_reads_numbers_datetimes_and_text() -> None:
    assert times_as_seconds([1.0, 2.0], name="t").tolist() == [1.0, 2.0]
    assert times_as_seconds(["10", "20"], name="t").tolist() == [10.0, 20.0]
    text = times_as_seconds(["1970-01-01T00:01:00Z", "1970-01-02"], name="t")
    assert text.tolist() == [60.0, 86400.0]
    stamps = times_as_seconds(pd.Series(pd.to_datetime(["1970-01-01 00:00:30"])), name="t")
    assert stamps.tolist() == [30.0]
    with pytest.raises(
        InputError,
        match=r"Time column `when` has 1 missing or unreadable values \(rows 1, e.g. 'soon'\); fix",
    ):
        times_as_seconds(["1970-01-01", "soon"], name="when", fix="fix them")


def test_json_value_and_rows() -> None:
    assert json_value(np.int64(3)) == 3 and isinstance(json_value(np.int64(3)), int)
    assert json_value(float("nan")) is None and json_value(math.inf) is None and json_value(pd.NA) is None
    assert json_value(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02T03:04:00Z"
    assert json_value(date(2026, 1, 2)) == "2026-01-02"
    assert json_value(12.345, money=True) == 12.35 and json_value(12.345) == 12.345
    rows = json_rows(
        ["id", "revenue", "ts"],
        [("a", 1.239, datetime(2026, 1, 1)), ("b", None, None)],
        money=frozenset({"revenue"}),
    )
    assert rows == [
        {"id": "a", "revenue": 1.24, "ts": "2026-01-01T00:00:00Z"},
        {"id": "b", "revenue": None, "ts": None},
    ]
