"""KPIs against hand-computed answers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cartwise.analytics import KPIS, kpis
from cartwise.core.errors import ConfigError, InputError


def shop() -> pd.DataFrame:
    """Three ISO weeks (from Mon 2026-01-05), with one empty week in between for `day`."""
    rows = [
        # event_id, user, session, ts, type, order, qty, price, revenue
        ("1", "a", "s1", "2026-01-05 10:00", "view", None, None, None, None),
        ("2", "a", "s1", "2026-01-05 11:00", "purchase", "o1", 2, 10.0, 20.0),
        ("3", "a", "s1", "2026-01-05 11:00", "purchase", "o1", 1, 5.0, 5.0),
        ("4", "b", "s2", "2026-01-06 10:00", "view", None, None, None, None),
        ("5", "b", None, "2026-01-06 12:00", "purchase", "o2", 1, 7.0, None),  # revenue from price x qty
        ("6", "c", "s3", "2026-01-13 00:00", "purchase", "o3", 3, 4.0, 12.0),
        ("7", "c", "s4", "2026-01-14 00:00", "refund", "o3", -1, 4.0, -4.0),
        ("8", "a", "s5", "2026-01-20 00:00", "purchase", "o4", None, 100.0, 100.0),  # null qty counts 1
        ("9", "d", "s6", "2026-01-21 00:00", "view", None, None, None, None),
    ]
    cols = ["event_id", "user_id", "session_id", "ts", "type", "order_id", "quantity", "price", "revenue"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["ts"] = pd.to_datetime(frame.ts)
    frame["quantity"] = frame.quantity.astype("Int64")
    return frame


def test_weekly_kpis_match_hand_computation() -> None:
    out = kpis(shop(), "week")
    assert list(out.period_start) == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]
    expected = {
        "revenue": [32.0, 12.0, 100.0],
        "orders": [2, 1, 1],
        "units": [4, 3, 1],
        "aov": [16.0, 12.0, 100.0],
        "visitors": [2, 1, 2],
        # week 1: s1, s2 and "b on 2026-01-06" (the purchase without a session)
        "sessions": [3, 2, 2],
        "converting_sessions": [2, 1, 1],
        "conversion_rate": [2 / 3, 0.5, 0.5],
        "revenue_per_visitor": [16.0, 12.0, 50.0],
        "customers": [2, 1, 1],
        "new_customers": [2, 1, 0],
        "returning_customers": [0, 0, 1],
        "repeat_purchase_rate": [0.0, 0.0, 1.0],  # a: o1 then o4
        "refunds": [0, 1, 0],
        "refund_amount": [0.0, 4.0, 0.0],
    }
    for name, values in expected.items():
        assert out[name].tolist() == pytest.approx(values), name
        assert out[f"{name}_prev"].tolist() == pytest.approx([0, *values[:2]]), name


def test_daily_periods_without_events_are_zero_and_prev_is_calendar_previous() -> None:
    out = kpis(shop(), "day").set_index("period_start")
    assert len(out) == 17  # 2026-01-05 .. 2026-01-21
    assert out.loc[date(2026, 1, 7), "revenue"] == 0.0
    assert out.loc[date(2026, 1, 7), "revenue_prev"] == 7.0
    assert out.loc[date(2026, 1, 13), "revenue_prev"] == 0.0


def test_monthly_and_start_keeps_history_for_new_customers() -> None:
    out = kpis(shop(), "month")
    assert out.revenue.tolist() == [144.0] and out.customers.tolist() == [3]
    week3 = kpis(shop(), "week", start="2026-01-19")
    assert len(week3) == 1
    assert week3.new_customers.tolist() == [0] and week3.returning_customers.tolist() == [1]
    assert week3.revenue_prev.tolist() == [12.0]


def test_columns_and_empty_input() -> None:
    out = kpis(shop(), "week", end="2026-01-01")
    assert out.empty
    assert list(out.columns) == ["period", "period_start", *KPIS, *(f"{k}_prev" for k in KPIS)]


def test_minimal_columns_each_purchase_is_an_order() -> None:
    data = pd.DataFrame(
        {
            "user_id": ["a", "a"],
            "ts": pd.to_datetime(["2026-01-05 10:00", "2026-01-05 11:00"]),
            "type": ["purchase", "purchase"],
        }
    )
    out = kpis(data, "day")
    assert out.orders.tolist() == [2] and out.units.tolist() == [2] and out.revenue.tolist() == [0.0]
    assert out.sessions.tolist() == [1] and out.conversion_rate.tolist() == [1.0]


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="`by`: 'year' is not a period; choose one of day, week, month"):
        kpis(shop(), "year")
    with pytest.raises(InputError, match="no column 'type'"):
        kpis(shop().drop(columns=["type"]), "day")


def test_a_stray_far_event_adds_its_own_period_not_the_years_before_it() -> None:
    events = shop()
    stray = events.iloc[[7]].assign(event_id="late", order_id="o-late", ts=pd.Timestamp("2100-03-10 12:00"))
    out = kpis(pd.concat([events, stray], ignore_index=True), "day").set_index("period_start")
    # The 17 days of the shop, then 2100-03-10 alone: the 74 empty years are left out.
    assert len(out) == 18 and out.index[-1] == date(2100, 3, 10)
    assert out.loc[date(2100, 3, 10), "revenue"] == 100.0
    assert out.loc[date(2100, 3, 10), "revenue_prev"] == 0.0  # the calendar-previous day was empty
    # A gap of up to a year is still listed with zeros.
    near = stray.assign(ts=pd.Timestamp("2027-01-20 12:00"))
    out = kpis(pd.concat([events, near], ignore_index=True), "day")
    assert len(out) == 17 + 364


def test_filled_periods_fill_gaps_of_up_to_a_year() -> None:
    from cartwise.analytics._common import filled_periods

    assert filled_periods([5, 1, 3], "day") == [1, 2, 3, 4, 5]
    assert filled_periods([0, 13], "month") == list(range(14))
    assert filled_periods([0, 14], "month") == [0, 14]
    assert filled_periods([], "week") == []
