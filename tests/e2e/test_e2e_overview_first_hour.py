"""The Overview right after start, in a real browser: views but no sales yet show an empty state
(not a chart of zeros on a -1..1 axis, nor 0.00 revenue rows); a large figure is compacted in its
card with the exact value on hover, and every figure has thousands separators."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from service_support import Running, now_naive, serve_shop

from cartwise.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _views_only(store: Store) -> None:
    ts = now_naive() - timedelta(minutes=5)
    store.append(
        "items",
        pa.table(
            {
                "item_id": ["sku-1", "sku-2"],
                "title": ["Chef knife", "Cutting board"],
                "category": ["Kitchen > Knives", "Kitchen > Boards"],
                "price": [49.0, 19.5],
            }
        ),
    )
    store.append(
        "events",
        pa.table(
            {
                "event_id": ["v1", "v2", "v3"],
                "ts": pa.array([ts] * 3, pa.timestamp("us")),
                "user_id": ["u1", "u2", "u2"],
                "session_id": ["s1", "s2", "s2"],
                "type": ["view", "view", "view"],
                "item_id": ["sku-1", "sku-1", "sku-2"],
            }
        ),
    )


@pytest.fixture(scope="module")
def fresh_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp: Path = tmp_path_factory.mktemp("overview_first_hour")
    with serve_shop(tmp, _views_only) as run:
        yield run


def test_views_without_sales_show_an_empty_state_then_a_sale_fills_the_cards(
    page: Any, sign_in: Any, fresh_shop: Running
) -> None:
    sign_in(fresh_shop.url, "overview")
    page.wait_for_function("document.getElementById('categories-chart').dataset.state === 'empty'")
    chart = page.locator("#categories-chart")
    assert chart.inner_text() == "No sales yet today (3 product views so far)."
    assert chart.locator(".main-svg").count() == 0  # no chart of zeros
    assert page.locator("#top-items-note").inner_text() == "No sales yet today: the most viewed items so far."
    first = page.locator("#top-items tbody tr").first.locator("td")
    assert first.nth(0).inner_text() == "Chef knife"
    assert first.nth(5).inner_text() == "—"  # not 0.00

    # A big sale: the revenue card shows 2.1M, the exact figure on hover.
    event = {
        "event_id": str(uuid.uuid4()),
        "ts": datetime.now(UTC).isoformat(),
        "user_id": "u1",
        "type": "purchase",
        "item_id": "sku-1",
        "quantity": 1,
        "price": 2_097_258.0,
        "revenue": 2_097_258.0,
        "order_id": "big-1",
    }
    response = httpx.post(
        fresh_shop.url + "/api/v1/events",
        json={"events": [event]},
        headers={"Authorization": f"Bearer {fresh_shop.keys['collect']}"},
    )
    assert response.json()["accepted"] == 1
    tile = '[data-window="1h"][data-kpi="revenue"]'
    page.wait_for_function("s => document.querySelector(s).dataset.value === '2097258'", arg=tile)
    assert page.locator(tile).inner_text() == "2.1M"
    assert page.locator(tile).get_attribute("title") == "2,097,258.00"
    # The page's JSON refresh (every 10 s) replaces the empty state with the chart.
    page.wait_for_function(
        "document.getElementById('categories-chart').dataset.state === 'chart'", timeout=30_000
    )
    page.wait_for_selector("#categories-chart .main-svg")
    assert page.locator("#top-items-note").is_hidden()
    assert page.locator("#top-items tbody tr").first.locator("td").nth(5).inner_text() == "2,097,258.00"


def test_one_formatter_for_every_page(page: Any, sign_in: Any, fresh_shop: Running) -> None:
    sign_in(fresh_shop.url, "overview")
    got = page.evaluate(
        """() => { const f = window.Dashboard.formats; return [
            f.number(11173.7), f.decimal(11173.7, 1), f.money(2097258), f.compact(2097258, "money"),
            f.compact(99999), f.compact(150000), f.compact(0.25, "percent"), f.number(null)]; }"""
    )
    assert got == ["11,174", "11,173.7", "2,097,258.00", "2.1M", "99,999", "150K", "25.0%", "—"]
