"""Events dated 2100, 9999-12-31 and 10000-01-01 planted straight in a store (as stores
filled before the collector's time window hold them): every analytics view and page still
answers, with a payload that grows with the data, not with the years between its events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from service_support import Running, serve_shop

from cartwise.pipelines.profiles import refresh_profiles
from cartwise.store import Store

FIRST = datetime(2025, 3, 3, 9, 0)
DAYS = 60
PLANTED = (
    "TIMESTAMP '2100-06-01 12:00:00'",
    "TIMESTAMP '9999-12-31 23:59:59'",
    "TIMESTAMP '10000-01-01 00:00:00'",
)


def _fill(store: Store) -> None:
    """Sixty days of views, carts and purchases by 30 users, then the planted events."""
    rows: dict[str, list[Any]] = {k: [] for k in ("event_id", "ts", "user_id", "type", "order_id", "revenue")}
    for day in range(DAYS):
        for n in range(6):
            user, ts = f"u{(day * 6 + n) % 30}", FIRST + timedelta(days=day, minutes=n)
            for step, kind in enumerate(("view", "add_to_cart", "purchase")):
                if kind == "purchase" and n % 2:
                    continue
                rows["event_id"].append(f"e{day}-{n}-{step}")
                rows["ts"].append(ts + timedelta(minutes=step))
                rows["user_id"].append(user)
                rows["type"].append(kind)
                rows["order_id"].append(f"o{day}-{n}" if kind == "purchase" else None)
                rows["revenue"].append(20.0 if kind == "purchase" else None)
    table = pa.table({**rows, "ts": pa.array(rows["ts"], pa.timestamp("us"))})
    store.append("events", table)
    for n, stamp in enumerate(PLANTED):
        for kind in ("view", "add_to_cart", "purchase"):
            store.con.execute(
                "INSERT INTO events (event_id, ts, user_id, type, order_id, revenue) "
                f"VALUES (?, {stamp}, ?, ?, ?, ?)",
                [f"planted-{n}-{kind}", f"u{n}", kind, f"late-{n}" if kind == "purchase" else None, 5.0],
            )
        store.con.execute(
            f"INSERT INTO orders (order_id, user_id, ts, amount, lines, units, source) VALUES (?, ?, {stamp}, 5.0, 0, 1, 'events')",
            [f"late-{n}", f"u{n}"],
        )
    refresh_profiles(store, clusters=False)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run = serve_shop(tmp_path_factory.mktemp("hostile"), _fill)
    try:
        yield run
    finally:
        run.server.stop()


def _get(running: Running, path: str, **params: Any) -> tuple[dict[str, Any], int]:
    with running.client("read") as client:
        response = client.get(path, params=params, timeout=60)
    assert response.status_code == 200, response.text[:500]
    return response.json(), len(response.content)


@pytest.mark.parametrize(("grain", "most"), [("day", DAYS + 2), ("week", 9 + 2), ("month", 3 + 2)])
def test_kpis_list_the_periods_with_data_and_each_far_event_once(
    running: Running, grain: str, most: int
) -> None:
    body, size = _get(running, "/api/v1/analytics/kpis", grain=grain)
    starts = [p["period_start"] for p in body["periods"]]
    assert len(starts) <= most and size < 60_000
    # The 2100 and 9999 purchases are counted in their own periods; year 10000 has no calendar date.
    assert starts[-2].startswith("2100-") and starts[-1].startswith("9999-12-")
    assert body["periods"][-1]["orders"] == 1 and body["periods"][-2]["orders"] == 1
    assert body["periods"][-1]["period_end"] in ("10000-01-01", "10000-01-03")
    assert all(s < "2025-06" for s in starts[:-2])
    assert body["last_event"].startswith("9999-12-31T23:59:59")


@pytest.mark.parametrize("grain", ["week", "month"])
def test_retention_skips_the_empty_centuries(running: Running, grain: str) -> None:
    body, size = _get(running, "/api/v1/analytics/retention", grain=grain)
    assert size < 60_000
    numbers = body["period_numbers"]
    assert numbers[:3] == [0, 1, 2] and len(numbers) < 40
    assert all(len(c["retention"]) <= len(numbers) for c in body["cohorts"])
    # The cohort of 9999 is one period long and everybody in it was active in it.
    assert body["cohorts"][-1]["cohort_start"].startswith("9999-12") and body["cohorts"][-1]["retention"] == [
        1.0
    ]


def test_the_analytics_page_json_and_the_pages_answer(running: Running) -> None:
    body, size = _get(running, "/api/v1/pages/analytics")
    assert size < 200_000
    data = body.get("data", body)
    assert data["kpis"]["periods"] and data["retention"]["cohorts"]
    # The funnel opens on the shop's last 30 days, not on the days before the stray events.
    last_day = (FIRST + timedelta(days=DAYS - 1)).date().isoformat()
    assert data["defaults"]["funnel_to"] == last_day and data["funnel"]["steps"][0]["users"] > 0
    overview, _ = _get(running, "/api/v1/pages/overview")
    assert json.dumps(overview)
    for path in ("/analytics", "/", "/customers"):
        with running.client("read") as client:
            assert client.get(path, timeout=60).status_code in (200, 302, 303), path
    funnel, _ = _get(running, "/api/v1/analytics/funnel")
    assert funnel["steps"][0]["users"] >= 30


def test_the_customer_pages_of_the_far_future_buyers_answer(running: Running) -> None:
    for user in ("u0", "u1", "u2"):
        body, _ = _get(running, f"/api/v1/customers/{user}")
        assert body["user_id"] == user if "user_id" in body else json.dumps(body)
    page, _ = _get(running, "/api/v1/pages/customers")
    assert json.dumps(page)
