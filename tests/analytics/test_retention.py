"""Cohort retention, revenue retention and LTV curves against hand-computed answers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cartwise.analytics import retention
from cartwise.core.errors import ConfigError


def shop() -> pd.DataFrame:
    rows = [
        # ISO week of 2026-01-05 (Mon) is cohort week 0; 2026-01-11 is its Sunday.
        ("a", "2026-01-05 09:00", "view", None),
        ("a", "2026-01-11 23:59", "purchase", 10.0),
        ("b", "2026-01-07 10:00", "purchase", 30.0),
        ("a", "2026-01-12 00:00", "view", None),  # Monday: week 1
        ("b", "2026-01-20 10:00", "purchase", 15.0),  # week 2
        ("c", "2026-01-13 10:00", "view", None),  # seen in week 1, buys in week 2
        ("c", "2026-01-21 10:00", "purchase", 8.0),
        ("d", "2026-01-14 10:00", "view", None),  # never buys
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "ts", "type", "revenue"])
    frame["ts"] = pd.to_datetime(frame.ts)
    return frame


def cell(frame: pd.DataFrame, cohort_start: date, period: int) -> dict[str, object]:
    row = frame[(frame.cohort_start == cohort_start) & (frame.period == period)]
    assert len(row) == 1
    return row.iloc[0].to_dict()


W0, W1, W2 = date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)


def test_first_purchase_cohorts_any_activity() -> None:
    out = retention(shop(), "week")
    assert sorted(set(out.cohort_start)) == [W0, W2]
    assert [(r["period"], r["active_users"]) for _, r in out[out.cohort_start == W0].iterrows()] == [
        (0, 2),
        (1, 1),
        (2, 1),
    ]
    p0, p1, p2 = (cell(out, W0, n) for n in range(3))
    assert p0["cohort_users"] == 2 and p0["retention"] == 1.0 and p1["retention"] == 0.5
    assert p0["revenue"] == 40.0 and p1["revenue"] == 0.0 and p2["revenue"] == 15.0
    assert p2["revenue_retention"] == pytest.approx(15 / 40)
    assert [p0["ltv"], p1["ltv"], p2["ltv"]] == [20.0, 20.0, 27.5]
    c = cell(out, W2, 0)
    assert c["cohort_users"] == 1 and c["revenue"] == 8.0 and c["ltv"] == 8.0


def test_purchase_activity_only_counts_buyers() -> None:
    out = retention(shop(), "week", activity="purchase")
    assert [cell(out, W0, n)["active_users"] for n in range(3)] == [2, 0, 1]


def test_first_seen_cohorts() -> None:
    out = retention(shop(), "week", cohort="first_seen", activity="purchase")
    assert cell(out, W0, 0)["cohort_users"] == 2
    w1 = [cell(out, W1, n) for n in range(2)]
    assert w1[0]["cohort_users"] == 2  # c and d
    assert [w["active_users"] for w in w1] == [0, 1]
    assert [w["ltv"] for w in w1] == [0.0, 4.0]
    assert w1[1]["revenue_retention"] == 0.0  # nothing in period 0 to compare with


def test_monthly_cohorts() -> None:
    out = retention(shop(), "month", cohort="first_seen")
    assert out[["cohort_start", "period", "cohort_users", "active_users", "revenue", "ltv"]].to_dict(
        "records"
    ) == [
        {
            "cohort_start": date(2026, 1, 1),
            "period": 0,
            "cohort_users": 4,
            "active_users": 4,
            "revenue": 63.0,
            "ltv": 15.75,
        }
    ]


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="`by`: 'day' is not a cohort period"):
        retention(shop(), "day")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="`cohort`: 'signup'"):
        retention(shop(), cohort="signup")  # type: ignore[arg-type]
