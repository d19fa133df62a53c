"""Sliding-window KPIs against hand-computed answers (no server)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from cartwise.service.live import LiveKPIs

NOW = datetime(2026, 11, 23, 12, 30, 30)


def _event(
    minutes_ago: float,
    user: str,
    kind: str,
    *,
    session: str | None = None,
    order: str | None = None,
    revenue: float | None = None,
    event_id: str = "",
) -> dict[str, object]:
    return {
        "ts": NOW - timedelta(minutes=minutes_ago),
        "user_id": user,
        "session_id": session,
        "type": kind,
        "order_id": order,
        "revenue": revenue,
        "event_id": event_id or f"{user}-{kind}-{minutes_ago}",
    }


EVENTS = [
    _event(1, "a", "view", session="s1"),
    _event(2, "a", "add_to_cart", session="s1"),
    _event(2, "a", "purchase", session="s1", order="o1", revenue=30.0),
    _event(2, "a", "purchase", session="s1", order="o1", revenue=12.5),  # second line, same order
    _event(3, "b", "view", session="s2"),
    _event(30, "c", "view"),  # no session: the user stands in for it
    _event(30, "c", "purchase", revenue=10.0, event_id="lonely"),  # no order id: its own order
    _event(120, "d", "view", session="s4"),
    _event(120, "d", "refund", session="s4", order="o0", revenue=-5.0),
    _event(2000, "e", "view"),  # older than a day: ignored
    _event(-5, "f", "view"),  # five minutes in the future: ignored
]


def _snapshot(live: LiveKPIs) -> dict[str, dict[str, float]]:
    return live.snapshot(now=NOW)["windows"]


def test_windows_match_hand_counts() -> None:
    live = LiveKPIs()
    assert live.add(EVENTS, now=NOW) == 9
    w = _snapshot(live)
    assert w["5m"] == {
        "minutes": 5,
        "events": 5,
        "active_users": 2,
        "sessions": 2,
        "views": 2,
        "add_to_carts": 1,
        "orders": 1,
        "revenue": 42.5,
        "conversion_rate": 0.5,
    }
    assert w["1h"]["active_users"] == 3 and w["1h"]["sessions"] == 3 and w["1h"]["orders"] == 2
    assert w["1h"]["revenue"] == pytest.approx(52.5)
    assert w["1h"]["conversion_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert w["1d"]["events"] == 9 and w["1d"]["active_users"] == 4
    assert w["1d"]["revenue"] == pytest.approx(47.5)  # the refund takes 5 back


def test_table_input_counts_the_same_as_dicts() -> None:
    from_dicts, from_table = LiveKPIs(), LiveKPIs()
    from_dicts.add(EVENTS, now=NOW)
    from_table.add_table(pa.Table.from_pylist(EVENTS), now=NOW)
    assert _snapshot(from_dicts) == _snapshot(from_table)


def test_counts_do_not_depend_on_how_events_are_batched() -> None:
    batched, one_by_one = LiveKPIs(), LiveKPIs()
    table = pa.Table.from_pylist(EVENTS)
    batched.add_table(table, now=NOW)
    batched_schema = table.schema
    for event in EVENTS:  # each call then holds a single minute
        one_by_one.add_table(pa.Table.from_pylist([event], schema=batched_schema), now=NOW)
    assert _snapshot(batched) == _snapshot(one_by_one)


def test_an_event_without_a_time_is_not_counted() -> None:
    live = LiveKPIs()
    table = pa.Table.from_pylist([*EVENTS[:2], {**EVENTS[0], "ts": None}])
    assert live.add_table(table, now=NOW) == 2
    assert _snapshot(live)["5m"]["events"] == 2


def test_distinct_users_are_exact_across_buckets() -> None:
    live = LiveKPIs()
    live.add([_event(m, "same-user", "view", session="one") for m in range(0, 50)], now=NOW)
    w = _snapshot(live)
    assert w["1h"]["events"] == 50 and w["1h"]["active_users"] == 1 and w["1h"]["sessions"] == 1


def test_events_leave_the_windows_as_time_passes() -> None:
    live = LiveKPIs()
    live.add([_event(1, "a", "view")], now=NOW)
    later = live.snapshot(now=NOW + timedelta(minutes=10))["windows"]
    assert later["5m"]["events"] == 0 and later["1h"]["events"] == 1
    next_day = live.snapshot(now=NOW + timedelta(days=1, minutes=1))["windows"]
    assert next_day["1d"]["events"] == 0


def test_events_per_minute_covers_the_last_hour() -> None:
    live = LiveKPIs()
    live.add([_event(0, "a", "view"), _event(0.2, "b", "view"), _event(59, "c", "view")], now=NOW)
    series = live.snapshot(now=NOW)["events_per_minute"]
    assert len(series) == 60
    # The current minute is still filling: marked, so a chart does not read it as a drop.
    assert series[-1] == {"minute": "2026-11-23T12:30:00Z", "events": 2, "partial": True}
    assert series[0] == {"minute": "2026-11-23T11:31:00Z", "events": 1, "partial": False}
    assert [p["partial"] for p in series].count(True) == 1
    assert sum(p["events"] for p in series) == 3


def test_version_changes_only_when_something_is_counted() -> None:
    live = LiveKPIs()
    live.add([_event(1, "a", "view")], now=NOW)
    version = live.version
    live.add([_event(5000, "old", "view")], now=NOW)
    assert live.version == version
