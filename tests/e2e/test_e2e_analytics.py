"""The Analytics page in a real browser over a simulated shop: tiles, funnel builder, retention
heatmap, LTV curves and the rules search show exactly the API's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from test_analytics_api import DemoShop, start_demo_shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoShop]:
    with start_demo_shop(tmp_path_factory.mktemp("analytics_e2e")) as demo:
        yield demo


def _open_analytics(page: Any, sign_in: Any, shop: DemoShop) -> list[str]:
    """Sign in, open the page, wait for its charts; returns the page's script errors (kept up to date)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(shop.url, "analytics")
    page.wait_for_selector("body[data-analytics-ready=true]")
    return errors


def _fixed(value: float, digits: int = 1) -> str:
    """JavaScript's `toFixed`: the exact binary value, ties rounded up (Python's format rounds to even)."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _formatted(kind: str, value: float) -> str:
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "percent":
        return _fixed(value * 100) + "%"
    return f"{round(value):,}"


def _change(value: float | None) -> str:
    return "—" if value is None else ("+" if value >= 0 else "-") + _fixed(abs(value * 100)) + "%"


def _check_tiles(page: Any, kpis: dict[str, Any]) -> None:
    for tile in kpis["tiles"]["kpis"]:
        box = page.locator(f'[data-kpi-tile="{tile["kpi"]}"]')
        assert box.locator(".kpi-label").text_content() == tile["label"]
        assert box.locator("[data-kpi]").inner_text() == _formatted(tile["format"], tile["value"]), tile
        assert box.locator("[data-kpi-prev]").inner_text() == _formatted(tile["format"], tile["previous"]), (
            tile
        )
        assert box.locator("[data-kpi-change]").inner_text() == _change(tile["change"]), tile


def test_kpi_tiles_and_trend_show_the_api_numbers(page: Any, sign_in: Any, shop: DemoShop) -> None:
    errors = _open_analytics(page, sign_in, shop)
    assert page.locator("h1").inner_text() == "Analytics"
    weekly = shop.ok("/api/v1/analytics/kpis", grain="week")
    _check_tiles(page, weekly)
    assert f"Week of {weekly['tiles']['period_start']}" in page.locator("#kpi-period").inner_text()
    page.wait_for_selector("#trend-chart .main-svg")
    trend = page.evaluate("document.getElementById('trend-chart').data[0]")
    assert trend["x"] == [p["period_start"] for p in weekly["periods"]]
    assert trend["y"] == pytest.approx([None if p["partial"] else p["revenue"] for p in weekly["periods"]])
    # Another grain and metric: tiles and the chart follow the API.
    page.select_option("#kpi-grain", "month")
    page.wait_for_function("document.getElementById('kpi-period').textContent.startsWith('Month of')")
    monthly = shop.ok("/api/v1/analytics/kpis", grain="month")
    _check_tiles(page, monthly)
    page.select_option("#trend-metric", "orders")
    trend = page.evaluate("document.getElementById('trend-chart').data[0]")
    assert trend["y"] == [None if p["partial"] else p["orders"] for p in monthly["periods"]]
    title = page.evaluate("document.getElementById('trend-chart').layout.yaxis.title.text")
    assert title == "Orders"
    # A date range: the "To" day is included, so the API's `end` is the day after.
    page.fill("#kpi-start", "2025-02-01")
    page.fill("#kpi-end", "2025-02-28")
    page.select_option("#kpi-grain", "day")
    page.click("#kpi-form button[type=submit]")
    page.wait_for_function("document.getElementById('kpi-period').textContent.startsWith('Day 2025-02-28')")
    daily = shop.ok("/api/v1/analytics/kpis", grain="day", start="2025-02-01", end="2025-03-01")
    _check_tiles(page, daily)
    trend = page.evaluate("document.getElementById('trend-chart').data[0]")
    assert len(trend["x"]) == 28 and trend["y"] == [p["orders"] for p in daily["periods"]]
    assert daily["partial_periods"] == [] and page.locator("#trend-note").is_hidden()
    assert errors == []


def test_the_partial_last_period_is_dashed_with_a_note_not_a_fall(
    page: Any, sign_in: Any, shop: DemoShop
) -> None:
    errors = _open_analytics(page, sign_in, shop)
    page.wait_for_selector("#trend-chart .main-svg")
    # The shop's data stop mid-week: the JSON names that week, the chart dashes it.
    page.fill("#kpi-end", "2025-03-05")  # a Wednesday, included: the data stop on Thursday
    page.select_option("#kpi-grain", "week")
    page.click("#kpi-form button[type=submit]")
    page.wait_for_function(
        "() => { const d = document.getElementById('trend-chart').data;"
        " return d.length === 2 && d[0].x[d[0].x.length - 1] === '2025-03-03'; }"
    )
    weekly = shop.ok("/api/v1/analytics/kpis", grain="week", end="2025-03-06")
    assert weekly["partial_periods"] == ["2025-03-03"] and weekly["periods"][-1]["partial"]
    solid, dashed = page.evaluate("document.getElementById('trend-chart').data")
    assert solid["y"][-1] is None and solid["line"].get("dash") in (None, "solid")
    assert dashed["line"]["dash"] == "dash"
    revenue = [p["revenue"] for p in weekly["periods"]]
    # The dashed segment runs from the last complete week to the partial one, nothing else.
    assert dashed["y"][:-2] == [None] * (len(revenue) - 2)
    assert dashed["y"][-2:] == pytest.approx(revenue[-2:])
    note = page.locator("#trend-note")
    assert note.is_visible() and "2025-03-03 is partial" in note.inner_text()
    assert errors == []


def test_building_a_funnel_redraws_the_chart_with_the_api_numbers(
    page: Any, sign_in: Any, shop: DemoShop
) -> None:
    errors = _open_analytics(page, sign_in, shop)
    # The page opens on the last 30 days with data, and its form shows that range.
    last_day = date.fromisoformat(shop.ok("/api/v1/analytics/kpis")["last_event"][:10])
    recent = {
        "start": (last_day - timedelta(days=29)).isoformat(),
        "end": (last_day + timedelta(days=1)).isoformat(),
    }
    assert page.input_value("#funnel-start") == recent["start"]
    assert page.input_value("#funnel-end") == last_day.isoformat()
    default = shop.ok("/api/v1/analytics/funnel", **recent)
    assert page.locator("#funnel-range").inner_text() == (
        f"Over events on or after {recent['start']} and before {recent['end']} (UTC), window 1d."
    )
    rows = page.locator("#funnel-table tbody tr")
    assert rows.count() == 3
    assert [
        int(v) for v in rows.locator("[data-users]").evaluate_all("els => els.map(e => e.dataset.users)")
    ] == [s["users"] for s in default["steps"]]
    page.wait_for_selector("#funnel-chart .main-svg")
    chart = page.evaluate("document.getElementById('funnel-chart').data")
    assert chart[0]["type"] == "funnel" and chart[0]["x"] == [s["users"] for s in default["steps"]]
    # Each later step's "Dropped" count downloads those users as CSV, from the signed-in session.
    assert rows.nth(0).locator("td").nth(5).inner_text() == "—"
    link = rows.nth(2).locator("td").nth(5).locator("a")
    assert link.inner_text() == f"{default['steps'][2]['dropped']:,}"
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "dropped-at-purchase.csv"
    with open(download.path(), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    audience = shop.ok("/api/v1/analytics/funnel/dropped", step="purchase", page_size=100_000, **recent)
    assert lines == ["user_id", *audience["users"]] and audience["total"] == default["steps"][2]["dropped"]

    steps = "view,begin_checkout,purchase"
    page.fill("#funnel-steps", "view,begin_checkout")
    page.click('[data-add-step="purchase"]')  # the chips append a step
    assert page.input_value("#funnel-steps") == steps
    page.fill("#funnel-window", "2h")
    page.select_option("#funnel-breakdown", "device")
    page.click("#funnel-form button[type=submit]")
    page.wait_for_function(
        "document.getElementById('funnel-card').dataset.steps === 'view,begin_checkout,purchase'"
        " && document.getElementById('funnel-card').dataset.breakdown === 'device'"
    )
    built = shop.ok("/api/v1/analytics/funnel", steps=steps, window="2h", breakdown="device", **recent)
    cells = page.locator("#funnel-table tbody tr")
    assert cells.locator("td:first-child").all_inner_texts() == ["view", "begin_checkout", "purchase"]
    for i, step in enumerate(built["steps"]):
        row = cells.nth(i).locator("td")
        assert row.nth(1).inner_text() == f"{step['users']:,}"
        if i:
            assert row.nth(2).inner_text() == _formatted("percent", step["conversion_from_previous"])
            assert row.nth(3).inner_text() == _formatted("percent", step["conversion_from_first"])
    traces = page.evaluate("document.getElementById('funnel-chart').data")
    assert [t["name"] for t in traces] == [s["segment"] for s in built["segments"]]
    for trace, segment in zip(traces, built["segments"], strict=True):
        assert trace["type"] == "bar"
        assert trace["y"] == [s["users"] for s in segment["steps"]]
        assert trace["x"] == ["view", "begin_checkout", "purchase"]
    segment_rows = page.locator("#funnel-segments tbody tr")
    assert segment_rows.count() == len(built["segments"])
    first = built["segments"][0]
    assert segment_rows.first.locator("td").all_inner_texts()[:4] == [
        first["segment"],
        *(f"{s['users']:,}" for s in first["steps"]),
    ]

    # Another range (the "To" day included) gives the API's funnel over that range.
    days = [p["period_start"] for p in shop.ok("/api/v1/analytics/kpis", grain="day")["periods"]]
    first_day, to_day = days[len(days) // 3], days[2 * len(days) // 3]
    after_last = date.fromisoformat(to_day) + timedelta(days=1)
    page.fill("#funnel-start", first_day)
    page.fill("#funnel-end", to_day)
    page.click("#funnel-form button[type=submit]")
    page.wait_for_function(f"document.getElementById('funnel-card').dataset.range.startsWith('{first_day}')")
    ranged = shop.ok(
        "/api/v1/analytics/funnel",
        steps=steps,
        window="2h",
        breakdown="device",
        start=first_day,
        end=after_last.isoformat(),
    )
    assert ranged["steps"][0]["users"] not in (0, built["steps"][0]["users"])
    assert page.locator("#funnel-table tbody tr [data-users]").evaluate_all(
        "els => els.map(e => Number(e.dataset.users))"
    ) == [s["users"] for s in ranged["steps"]]
    assert page.locator("#funnel-range").inner_text() == (
        f"Over events on or after {first_day} and before {after_last} (UTC), window 2h."
    )

    # A bad step shows the API's message and keeps the last funnel.
    page.fill("#funnel-steps", "view,checkout_started")
    page.click("#funnel-form button[type=submit]")
    error = page.locator("#funnel-error")
    error.wait_for(state="visible")
    assert "'checkout_started'" in error.inner_text() and "add_to_cart" in error.inner_text()
    assert page.locator("#funnel-table tbody tr").count() == 3
    assert errors == []


def test_retention_heatmap_and_ltv_curves_render(page: Any, sign_in: Any, shop: DemoShop) -> None:
    errors = _open_analytics(page, sign_in, shop)
    weekly = shop.ok("/api/v1/analytics/retention")
    page.wait_for_selector("#retention-heatmap .main-svg")
    page.wait_for_selector("#ltv-chart .main-svg")
    heat = page.evaluate("document.getElementById('retention-heatmap').data[0]")
    assert heat["type"] == "heatmap"
    assert len(heat["y"]) == len(weekly["cohorts"]) and len(heat["x"]) == weekly["periods"]
    first = weekly["cohorts"][0]
    assert heat["y"][0] == f"{first['cohort_start']} ({first['cohort_users']:,})"
    assert heat["z"][0] == pytest.approx(first["retention"])
    assert heat["z"][-1][0] == 1.0 and heat["z"][-1][-1] is None  # the newest cohort has one period
    assert page.locator("#retention-heatmap .hm, #retention-heatmap image").count() >= 1
    ltv = page.evaluate("document.getElementById('ltv-chart').data")
    assert [t["name"] for t in ltv] == [c["cohort_start"] for c in weekly["cohorts"]]
    assert ltv[0]["y"] == pytest.approx(first["ltv"])
    assert page.evaluate("document.getElementById('ltv-chart').layout.yaxis.title.text") == (
        "Cumulative revenue per customer"
    )
    # Revenue retention on the same cohorts, then monthly cohorts from the API.
    page.select_option("#retention-metric", "revenue_retention")
    heat = page.evaluate("document.getElementById('retention-heatmap').data[0]")
    assert heat["z"][0] == pytest.approx(first["revenue_retention"])
    page.select_option("#retention-grain", "month")
    monthly = shop.ok("/api/v1/analytics/retention", grain="month")
    page.wait_for_function(
        f"document.getElementById('ltv-chart').data.length === {len(monthly['cohorts'])}"
        " && document.getElementById('retention-card').dataset.state === 'ready'"
    )
    heat = page.evaluate("document.getElementById('retention-heatmap').data[0]")
    assert len(heat["y"]) == len(monthly["cohorts"])
    assert heat["z"][0] == pytest.approx(monthly["cohorts"][0]["revenue_retention"])
    assert "monthly cohorts" in page.locator("#retention-note").inner_text()
    assert "over all events" in page.locator("#retention-note").inner_text()

    # A date range keeps only the events in it: fewer cohorts, as the API counts them.
    months = [c["cohort_start"] for c in monthly["cohorts"]]
    page.fill("#retention-start", months[1])
    page.fill("#retention-end", months[-2])
    ranged = shop.ok(
        "/api/v1/analytics/retention",
        grain="month",
        start=months[1],
        end=(date.fromisoformat(months[-2]) + timedelta(days=1)).isoformat(),
    )
    page.wait_for_function(
        f"document.getElementById('ltv-chart').data.length === {len(ranged['cohorts'])}"
        " && document.getElementById('retention-note').textContent.includes('before')"
    )
    assert 0 < len(ranged["cohorts"]) < len(monthly["cohorts"])
    heat = page.evaluate("document.getElementById('retention-heatmap').data[0]")
    assert heat["z"][0] == pytest.approx(ranged["cohorts"][0]["revenue_retention"])
    assert errors == []


def test_searching_the_rules_table_filters_rows(page: Any, sign_in: Any, shop: DemoShop) -> None:
    errors = _open_analytics(page, sign_in, shop)
    everything = shop.ok("/api/v1/analytics/rules")
    rows = page.locator("#rules-table tbody tr[data-rule]")
    assert rows.count() == len(everything["rules"]) > 5
    # The support was picked from the data, and the page says so and in orders.
    assert everything["support_source"] == "data"
    assert (
        f"support ≥ {everything['min_support']:.3g} = {everything['support_orders']} orders, picked from the data: "
        "the highest support at which about 25 item pairs qualify; confidence ≥ 0.1"
    ) in page.locator("#rules-summary").inner_text()
    assert page.locator("#rules-support").input_value() == ""  # empty: auto
    top = everything["rules"][0]
    assert rows.first.locator("td").nth(1).inner_text().startswith(top["antecedents"][0]["title"])
    assert rows.first.locator("td").nth(6).inner_text() == _fixed(top["lift"], 2)

    item = top["consequents"][0]
    page.fill("#rules-search", item["item_id"].lower())
    page.wait_for_function(
        f"document.getElementById('rules-card').dataset.q === {item['item_id'].lower()!r}"
        " && document.getElementById('rules-card').dataset.state === 'ready'"
    )
    found = shop.ok("/api/v1/analytics/rules", q=item["item_id"].lower())
    assert 0 < found["matching"] < everything["total_rules"]
    assert rows.count() == len(found["rules"])
    for items in rows.evaluate_all("els => els.map(e => e.dataset.items)"):
        assert item["item_id"] in items.split("|")
    summary = page.locator("#rules-summary").inner_text()
    assert f"{found['matching']} of {found['total_rules']} rules match" in summary

    page.fill("#rules-search", "no such item anywhere")
    page.wait_for_function("document.getElementById('rules-card').dataset.q === 'no such item anywhere'")
    assert rows.count() == 0
    assert "No rule mentions" in page.locator("#rules-table tbody tr.empty").inner_text()

    # Orders of one month only (the To day included): the API's rules over those orders.
    page.fill("#rules-search", "")
    page.fill("#rules-start", "2025-03-01")
    page.fill("#rules-end", "2025-03-31")
    page.wait_for_function(
        "document.getElementById('rules-card').dataset.range === '2025-03-01T00:00:00/2025-04-01T00:00:00'"
        " && document.getElementById('rules-card').dataset.state === 'ready'"
    )
    march = shop.ok("/api/v1/analytics/rules", start="2025-03-01", end="2025-04-01")
    assert march["baskets"] < everything["baskets"]
    assert rows.count() == len(march["rules"]) > 0
    summary = page.locator("#rules-summary").inner_text()
    assert (
        f"over {march['baskets']:,} orders placed on or after 2025-03-01 and before 2025-04-01 UTC (support"
        in summary
    )
    page.fill("#rules-start", "2030-01-01")
    page.fill("#rules-end", "2030-01-31")
    page.wait_for_function("document.getElementById('rules-card').dataset.range.startsWith('2030-01-01')")
    assert page.locator("#rules-table tbody tr.empty").inner_text() == "No orders were placed in this range."
    assert errors == []
