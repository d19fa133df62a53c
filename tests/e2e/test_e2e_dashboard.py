"""The dashboard in a real browser: sign in, numbers equal the API's, live tiles move."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from service_support import PASSWORD, Running

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KPIS = ("active_users", "sessions", "views", "add_to_carts", "orders", "revenue", "conversion_rate")


def _sign_in(page: Any, url: str, password: str = PASSWORD) -> None:
    page.goto(url + "/overview")
    assert page.url.endswith("/login?next=/overview")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", password)
    page.click("form.stack button[type=submit] >> nth=0")


def _formatted(kind: str, value: float) -> str:
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "percent":
        return f"{value * 100:.1f}%"
    return f"{int(value):,}"


def test_wrong_password_is_refused(page: Any, dashboard_server: Running) -> None:
    _sign_in(page, dashboard_server.url, password="wrong password")
    assert page.locator(".alert").inner_text() == "Wrong user name or password."
    assert "/login" in page.url
    assert not [c for c in page.context.cookies() if c["name"] == "cartwise_session"]


def test_overview_numbers_equal_the_api(page: Any, dashboard_server: Running) -> None:
    _sign_in(page, dashboard_server.url)
    page.wait_for_url("**/overview")
    assert page.locator("h1").inner_text() == "Overview"
    with dashboard_server.client("read") as api:
        data = api.get("/api/v1/pages/overview").json()["data"]
    for window in ("5m", "1h", "1d"):
        for kpi in KPIS:
            tile = page.locator(f'[data-window="{window}"][data-kpi="{kpi}"]')
            expected = data["live"]["windows"][window][kpi]
            assert float(tile.get_attribute("data-value")) == pytest.approx(expected), (window, kpi)
            assert tile.text_content() == _formatted(tile.get_attribute("data-format"), expected), (
                window,
                kpi,
            )
    # Seeded store: one order of 98.00 within the hour.
    assert page.locator('[data-window="1h"][data-kpi="orders"]').inner_text() == "1"
    assert page.locator('[data-window="1h"][data-kpi="revenue"]').inner_text() == "98.00"
    first_item = page.locator("#top-items tbody tr").first.locator("td")
    assert first_item.nth(0).inner_text() == data["top_items"][0]["title"] == "Chef knife"
    assert page.locator("#recent-orders tbody tr").first.locator("td").nth(0).inner_text() == "order-1"
    # The chart is drawn by the locally served plotly.js; the minute in progress is hatched.
    page.wait_for_selector("#events-chart .main-svg")
    bars = page.evaluate("document.getElementById('events-chart').data[0]")
    assert bars["marker"]["pattern"]["shape"][-1] == "/" and set(bars["marker"]["pattern"]["shape"][:-1]) == {
        ""
    }


def test_live_counter_changes_after_events_are_posted(page: Any, dashboard_server: Running) -> None:
    _sign_in(page, dashboard_server.url)
    page.wait_for_url("**/overview")
    page.click('[data-window-tab="5m"]')
    tile = page.locator('[data-window="5m"][data-kpi="views"]')
    assert tile.is_visible()
    page.wait_for_selector("#live-status.on")  # the event stream is connected
    before = int(tile.get_attribute("data-value"))
    ts = datetime.now(UTC).isoformat()
    events = [
        {"event_id": str(uuid.uuid4()), "ts": ts, "user_id": f"b{i}", "type": "view", "item_id": "sku-2"}
        for i in range(3)
    ]
    response = httpx.post(
        dashboard_server.url + "/api/v1/events",
        json={"events": events},
        headers={"Authorization": f"Bearer {dashboard_server.keys['collect']}"},
    )
    assert response.json()["accepted"] == 3
    page.wait_for_function(
        "([sel, want]) => document.querySelector(sel).dataset.value === String(want)",
        arg=['[data-window="5m"][data-kpi="views"]', before + 3],
    )
    assert tile.inner_text() == f"{before + 3:,}"


def test_every_page_in_the_nav_is_built(page: Any, dashboard_server: Running) -> None:
    _sign_in(page, dashboard_server.url)
    page.wait_for_url("**/overview")
    page.click("nav >> text=Experiments")
    page.wait_for_url("**/experiments")
    # The last placeholder is gone: an empty store shows the page's own empty state.
    assert page.locator("h2").first.inner_text() == "No experiments yet"
    assert page.locator(".planned-list").count() == 0
    nav = page.locator(".sidebar nav a").all_inner_texts()
    assert nav[:8] == [
        "Overview",
        "Analytics",
        "Customers",
        "Recommendations",
        "Forecasts",
        "Inventory",
        "Campaigns",
        "Experiments",
    ]


def test_sign_out_ends_the_session(page: Any, dashboard_server: Running) -> None:
    _sign_in(page, dashboard_server.url)
    page.wait_for_url("**/overview")
    page.click("text=Sign out")
    page.wait_for_url("**/login")
    page.goto(dashboard_server.url + "/overview")
    assert "/login" in page.url
