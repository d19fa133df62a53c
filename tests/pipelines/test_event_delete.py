"""Deleting events keeps orders, the analytics rollup and the timeline equal to a store that
never held them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from cartwise.analytics import funnel, kpis, refresh_rollup, stored_facts, stored_timeline
from cartwise.core.errors import ConfigError
from cartwise.core.settings import get_settings
from cartwise.ingest import derive_orders, prepare_events, store_events
from cartwise.pipelines.event_delete import EventFilter, delete_events
from cartwise.store import Store, open_store

START = pd.Timestamp("2025-02-03 09:00")


def _records(days: int = 20, prefix: str = "e") -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for day in range(days):
        for n in range(4):
            ts = START + timedelta(days=day, minutes=n)
            user = f"u{(day + n) % 7}"
            for step, kind in enumerate(("view", "add_to_cart", "purchase")):
                if kind == "purchase" and n == 3:
                    continue
                rows.append(
                    {
                        "event_id": f"{prefix}{day}-{n}-{step}",
                        "ts": (ts + timedelta(minutes=step)).isoformat() + "Z",
                        "user_id": user,
                        "type": kind,
                        "item_id": f"sku-{n}",
                        "order_id": f"{prefix}o{day}-{n}" if kind == "purchase" else None,
                        "revenue": 10.0 + n if kind == "purchase" else None,
                    }
                )
    return rows


def _open(path: Path) -> Store:
    return open_store(path, settings=get_settings(db=path, memory_limit="512MB", threads=1))


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Store]:
    with _open(tmp_path / "shop.duckdb") as store:
        store_events(store, prepare_events(_records()).table)
        for n, stamp in enumerate(("2100-06-01 12:00:00", "9999-12-31 23:59:59", "10000-01-01 00:00:00")):
            store.con.execute(
                "INSERT INTO events (event_id, ts, user_id, type, order_id, revenue, item_id) "
                f"VALUES (?, TIMESTAMP '{stamp}', 'u1', 'purchase', ?, 5.0, 'sku-1')",
                [f"late-{n}", f"late-o{n}"],
            )
        store.con.execute(
            "INSERT INTO orders SELECT order_id, user_id, ts, revenue, 1, 1, 'events' FROM events WHERE event_id LIKE 'late-%'"
        )
        store.con.execute(
            "INSERT INTO order_lines SELECT order_id, item_id, 1, 5.0, 5.0 FROM events WHERE event_id LIKE 'late-%'"
        )
        refresh_rollup(store)
        yield store


def _same_as_recomputed(store: Store) -> None:
    """Rollup and timeline answers equal the answers computed from the events themselves."""
    events = store.ibis().table("events")
    from_rollup = kpis(events, "day", facts=stored_facts(store))
    pd.testing.assert_frame_equal(from_rollup, kpis(events, "day"))
    steps = ["view", "add_to_cart", "purchase"]
    timeline = stored_timeline(store)
    assert timeline is not None
    pd.testing.assert_frame_equal(
        funnel(events, steps, "1d", timeline=timeline).steps, funnel(events, steps, "1d").steps
    )


def test_deleting_the_far_future_removes_events_orders_and_their_periods(shop: Store) -> None:
    dry = delete_events(shop, EventFilter(start="2099-01-01"), dry_run=True)
    assert dry["matched"] == 3 and dry["deleted"]["events"] == 0 and shop.count("events") == 3 + 20 * 11

    result = delete_events(shop, EventFilter(start="2099-01-01"))
    assert result["deleted"] == {"events": 3, "orders": 3, "order_lines": 3} and result["rollup_rebuilt"]
    assert shop.con.execute("SELECT count(*) FROM orders WHERE order_id LIKE 'late-%'").fetchall()[0][0] == 0
    assert kpis(shop.ibis().table("events"), "day").period_start.max().year == 2025
    _same_as_recomputed(shop)
    # Idempotent: nothing more matches.
    again = delete_events(shop, EventFilter(start="2099-01-01"))
    assert again["matched"] == 0 and not again["rollup_rebuilt"]


def test_a_time_with_an_offset_is_utc_and_year_10000_is_reachable(shop: Store) -> None:
    # 01:00+02:00 is 9999-12-31 23:00 UTC: the events at 23:59:59 and at 10000-01-01 00:00 match.
    assert delete_events(shop, EventFilter(start="10000-01-01T01:00:00+02:00"), dry_run=True)["matched"] == 2
    result = delete_events(shop, EventFilter(start="10000-01-01T02:00:00+02:00"))
    assert result["deleted"]["events"] == 1
    assert shop.con.execute("SELECT count(*) FROM events WHERE event_id = 'late-2'").fetchall()[0][0] == 0


def test_delete_by_ids_and_by_type_and_user_rebuilds_partial_orders(shop: Store) -> None:
    # Two purchase lines of one order: deleting one leaves the order with the other's amount.
    shop.con.execute(
        "INSERT INTO events (event_id, ts, user_id, type, order_id, revenue, item_id) VALUES "
        "('two-a', TIMESTAMP '2025-02-05 10:00', 'u9', 'purchase', 'two', 3.0, 'sku-1'), "
        "('two-b', TIMESTAMP '2025-02-05 10:00', 'u9', 'purchase', 'two', 4.0, 'sku-2')"
    )
    derive_orders(shop, "SELECT 'two'")
    assert shop.con.execute("SELECT amount, lines FROM orders WHERE order_id = 'two'").fetchall() == [
        (7.0, 2)
    ]
    result = delete_events(shop, EventFilter(event_ids=("two-b", "no-such-id")))
    assert result["deleted"]["events"] == 1 and result["deleted"]["orders"] == 0
    assert shop.con.execute("SELECT amount, lines FROM orders WHERE order_id = 'two'").fetchall() == [
        (3.0, 1)
    ]

    views_of_u2 = shop.con.execute(
        "SELECT count(*) FROM events WHERE user_id = 'u2' AND type = 'view'"
    ).fetchall()[0][0]
    result = delete_events(shop, EventFilter(types=("view",), user_id="u2", end="2030-01-01"))
    assert result["deleted"]["events"] == views_of_u2 > 0
    assert (
        shop.con.execute("SELECT count(*) FROM events WHERE user_id = 'u2' AND type = 'view'").fetchall()[0][
            0
        ]
        == 0
    )
    _same_as_recomputed(shop)


def test_new_events_after_a_deletion_are_folded_in(shop: Store) -> None:
    delete_events(shop, EventFilter(end="2025-02-10"))
    store_events(shop, prepare_events(_records(days=3, prefix="n")).table)
    refresh_rollup(shop)
    _same_as_recomputed(shop)


def test_a_filter_is_required_and_bad_times_name_the_flag(shop: Store) -> None:
    with pytest.raises(ConfigError, match="Say which events"):
        delete_events(shop, EventFilter())
    # The error names its parameter; each surface words it (the CLI as --start, the API as `start`).
    with pytest.raises(ConfigError, match=r"'yesterday' is not a time") as bad_time:
        delete_events(shop, EventFilter(start="yesterday"))
    assert bad_time.value.parameter == "start" and "--" not in str(bad_time.value)
    assert bad_time.value.render(lambda p: f"--{p}").startswith("--start: 'yesterday' is not a time")
    with pytest.raises(ConfigError, match=r"must be after the start time") as reversed_range:
        delete_events(shop, EventFilter(start="2025-03-01", end="2025-02-01"))
    assert reversed_range.value.parameter == "end"
    assert "--" not in str(reversed_range.value)
