"""The Forecasts and Inventory pages in a real browser over a simulated, forecast shop: search
a series, the fan chart draws its history, forecast and both intervals, the model shown is the
API's, and the reorder list shows the API's rows in the API's order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service_support import Running
from test_forecasts_api import start_shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with start_shop(tmp_path_factory.mktemp("forecasts_e2e")) as run:
        yield run


def _one(value: float) -> str:
    return f"{value:,.1f}"


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _wait_for_chart(page: Any, key: str) -> None:
    page.wait_for_function("k => document.getElementById('fan-chart').dataset.series === k", arg=key)


def _traces(page: Any) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = page.evaluate(
        "() => document.getElementById('fan-chart').data.map(t => ({name: t.name, x: t.x, y: t.y}))"
    )
    return traces


def test_search_an_item_and_see_its_fan_chart_and_model(
    page: Any, sign_in: Any, shop_server: Running
) -> None:
    sign_in(shop_server.url, "forecasts")
    assert page.locator("h1").inner_text() == "Forecasts"
    with shop_server.client("read") as api:
        first = api.get("/api/v1/forecasts").json()["series"][0]
        wanted = api.get("/api/v1/forecasts", params={"sort": "-mase", "limit": 1}).json()["series"][0]
        word = wanted["title"].split()[0]
        matches = api.get("/api/v1/forecasts", params={"q": word}).json()
        detail = api.get(f"/api/v1/forecasts/item/{wanted['id']}").json()
    # The page opens on the series with the largest forecast.
    _wait_for_chart(page, f"item:{first['id']}:units")
    assert page.locator("#model-name").inner_text() == first["model"]

    page.fill("#series-search", word)
    page.wait_for_function(
        "ids => Array.from(document.querySelectorAll('#series-list tbody tr[data-id]'))"
        ".map(r => r.dataset.id).join() === ids.join()",
        arg=[s["id"] for s in matches["series"]],
    )
    page.click(f'#series-list tbody tr[data-id="{wanted["id"]}"]')
    _wait_for_chart(page, f"item:{wanted['id']}:units")
    assert page.locator("#series-title").inner_text() == detail["title"]
    assert page.locator("#model-name").inner_text() == detail["model"]["name"]
    assert page.locator("#model-mase").inner_text() == f"{detail['model']['mase']:.2f}"
    assert page.locator("#model-smape").count() == 0  # sMAPE is meaningless on intermittent items
    assert page.locator("#model-coverage").inner_text() == _percent(detail["model"]["coverage_80"])
    assert page.locator("#forecast-total").inner_text() == _one(
        sum(f["forecast"] for f in detail["forecast"])
    )
    assert page.locator(f'#series-list tr.selected[data-id="{wanted["id"]}"]').count() == 1

    traces = _traces(page)
    assert [t["name"] for t in traces] == [
        "95% interval",
        "80% interval",
        "History",
        f"Forecast ({detail['model']['name']})",
    ]
    assert page.locator("#fan-chart .scatterlayer .trace").count() == 4
    complete = [h for h in detail["history"] if h["complete"]]
    assert traces[2]["x"] == [h["date"] for h in complete]
    assert traces[2]["y"] == pytest.approx([h["value"] for h in complete])
    assert traces[3]["x"] == [f["date"] for f in detail["forecast"]]
    assert traces[3]["y"] == pytest.approx([f["forecast"] for f in detail["forecast"]])
    # Each band runs along its upper bound and back along its lower one.
    n = len(detail["forecast"])
    assert traces[0]["y"][:n] == pytest.approx([f["hi_95"] for f in detail["forecast"]])
    assert traces[1]["y"][n:] == pytest.approx([f["lo_80"] for f in reversed(detail["forecast"])])


def test_category_revenue_forecast(page: Any, sign_in: Any, shop_server: Running) -> None:
    sign_in(shop_server.url, "forecasts")
    with shop_server.client("read") as api:
        listing = api.get(
            "/api/v1/forecasts", params={"level": "category", "measure": "revenue", "sort": "id"}
        ).json()
    page.select_option("#series-level", "category")
    page.select_option("#series-measure", "revenue")
    page.select_option("#series-sort", "id")
    page.wait_for_function(
        "ids => Array.from(document.querySelectorAll('#series-list tbody tr[data-id]'))"
        ".map(r => r.dataset.id).join() === ids.join()",
        arg=[s["id"] for s in listing["series"]],
    )
    category = listing["series"][0]
    page.click(f'#series-list tbody tr[data-id="{category["id"]}"]')
    _wait_for_chart(page, f"category:{category['id']}:revenue")
    assert page.locator("#model-name").inner_text() == category["model"]
    assert page.locator("#forecast-total").inner_text() == _one(category["forecast_total"])
    cells = page.locator("#series-list tbody tr").first.locator("td")
    assert cells.nth(3).inner_text() == f"{category['mase']:.2f}"
    # Items have unit forecasts only: going back to items switches the measure to units.
    page.select_option("#series-level", "item")
    assert page.locator("#series-measure").input_value() == "units"


def test_accuracy_is_mase_and_coverage_with_what_they_mean(
    page: Any, sign_in: Any, shop_server: Running
) -> None:
    sign_in(shop_server.url, "forecasts")
    with shop_server.client("read") as api:
        accuracy = api.get("/api/v1/pages/forecasts").json()["data"]["accuracy"]
    items = next(a for a in accuracy if (a["level"], a["measure"]) == ("item", "units"))
    headers = page.locator("#accuracy thead th").all_text_contents()  # CSS shows them in capitals
    assert headers[3:6] == ["Median MASE", "Beat the naive forecast", "80% coverage"]
    cells = page.locator('#accuracy tbody tr[data-level="item"][data-measure="units"] td')
    assert cells.nth(3).inner_text() == f"{items['median_mase']:.2f}"
    assert cells.nth(4).inner_text() == _percent(items["beats_naive"])
    assert cells.nth(5).inner_text() == _percent(items["coverage_80"])
    note = page.locator("#metrics-note").inner_text()
    assert (
        "below 1 beats it" in note and "share of the backtest's actual values inside the 80% interval" in note
    )
    assert "sMAPE" not in page.locator("#series-list thead").inner_text()
    assert "sMAPE" not in page.locator("#model-facts").inner_text()


def test_reorder_list_equals_the_api_and_opens_a_forecast(
    page: Any, sign_in: Any, shop_server: Running
) -> None:
    sign_in(shop_server.url, "inventory")
    assert page.locator("h1").inner_text() == "Inventory"
    with shop_server.client("read") as api:
        plan = api.get("/api/v1/inventory/reorder", params={"sort": "stockout_risk"}).json()
        to_order = api.get("/api/v1/inventory/reorder", params={"only_reorder": "true"}).json()
        categories = api.get("/api/v1/inventory/elasticities").json()["elasticities"]
    rows = page.locator("#reorder-table tbody tr[data-item]")
    assert rows.count() == len(plan["items"])
    for i, item in enumerate(plan["items"][:8]):
        row = rows.nth(i)
        cells = row.locator("td")
        assert row.get_attribute("data-item") == item["item_id"]
        assert cells.nth(1).inner_text() == item["title"]
        cover = "beyond horizon" if item["days_of_cover"] is None else _one(item["days_of_cover"])
        assert cells.nth(8).inner_text() == cover
        assert cells.nth(9).inner_text() == _percent(item["stockout_risk"])
        assert ("reorder" in (row.get_attribute("class") or "").split()) == item["reorder"]
    tile = page.locator('[data-summary="to_order"]')
    assert tile.inner_text() == f"{plan['summary']['to_order']:,}"

    page.check("#only-reorder")
    page.wait_for_function(
        "() => document.querySelector('#reorder-table tbody').dataset.onlyReorder === 'true'"
    )
    assert [rows.nth(i).get_attribute("data-item") for i in range(rows.count())] == [
        i["item_id"] for i in to_order["items"]
    ]
    assert page.locator("#reorder-table tbody tr.reorder").count() == len(to_order["items"])

    page.wait_for_selector("#elasticity-chart .main-svg")
    assert page.locator("#elasticity-chart .bars .point").count() == len(
        [c for c in categories if c["elasticity"] is not None]
    )
    assert (
        page.locator("#elasticity-table tbody tr").first.locator("td").first.inner_text()
        == categories[0]["id"]
    )

    riskiest = to_order["items"][0]["item_id"]
    rows.first.click()
    page.wait_for_url(f"**/forecasts#item={riskiest}")
    _wait_for_chart(page, f"item:{riskiest}:units")
    assert page.locator("#series-meta code").inner_text() == riskiest


def test_without_forecasts_the_pages_say_how_to_build_them(
    page: Any, sign_in: Any, dashboard_server: Running
) -> None:
    sign_in(dashboard_server.url, "forecasts")
    assert "cartwise demand build" in page.locator("#no-forecasts").inner_text()
    assert "cartwise demand build" in page.locator("#series-list tr.empty").inner_text()
    assert page.locator("#series-search").is_disabled()
    page.goto(dashboard_server.url + "/inventory")
    assert "cartwise demand build" in page.locator("#no-plan").inner_text()
    assert "cartwise demand build" in page.locator("#reorder-table tr.empty").inner_text()
