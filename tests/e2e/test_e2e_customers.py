"""The Customers pages in a real browser over a simulated, profiled shop: the numbers on the
page equal the API's, the builder's live count follows typing, saved segments are listed and
the lifetime value charts render."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service_support import Running
from test_customers_api import start_shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with start_shop(tmp_path_factory.mktemp("customers_e2e")) as run:
        yield run


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def test_search_a_customer_and_see_the_apis_numbers(page: Any, sign_in: Any, shop_server: Running) -> None:
    sign_in(shop_server.url, "customers")
    assert page.locator("h1").inner_text() == "Customers"
    with shop_server.client("read") as api:
        wanted = api.get("/api/v1/customers", params={"sort": "-clv_12m", "limit": 1}).json()["customers"][0]
        user_id = wanted["user_id"]
        detail = api.get(f"/api/v1/customers/{user_id}").json()
        matches = api.get("/api/v1/customers", params={"q": user_id[:-1], "limit": 25}).json()
        everyone = api.get("/api/v1/customers", params={"limit": 25}).json()
    # Buyers and visitors (profiled from their events, no order) are counted apart.
    assert everyone["buyers"] + everyone["visitors"] == everyone["total"] and everyone["visitors"] > 0
    page.wait_for_function("document.getElementById('customer-count').textContent.startsWith('1–')")
    assert page.locator("#customer-count").inner_text() == (
        f"1–25 of {everyone['total']:,} customers: {everyone['buyers']:,} buyers"
        f" and {everyone['visitors']:,} visitors without orders"
    )
    page.fill("#customer-search", user_id[:-1])
    page.wait_for_function(
        "n => document.querySelectorAll('#customer-list tbody tr[data-user]').length === n",
        arg=len(matches["customers"]),
    )
    rows = page.locator("#customer-list tbody tr[data-user]")
    assert [rows.nth(i).get_attribute("data-user") for i in range(rows.count())] == [
        c["user_id"] for c in matches["customers"]
    ]
    page.click(f'#customer-list tbody tr[data-user="{user_id}"]')
    page.wait_for_selector("#customer-detail:not(.hidden)")
    assert page.locator("#detail-id").inner_text() == user_id
    field = lambda name: page.locator(f'#customer-detail [data-field="{name}"]')  # noqa: E731
    prediction = detail["predictions"]
    assert field("clv_12m").inner_text() == _money(prediction["clv_12m"])
    assert float(field("clv_12m").get_attribute("data-value")) == pytest.approx(prediction["clv_12m"])
    assert field("p_alive").inner_text() == _percent(prediction["p_alive"])
    assert field("expected_purchases_12m").inner_text() == f"{prediction['expected_purchases_12m']:.2f}"
    assert field("orders").inner_text() == f"{detail['profile']['orders']:,}"
    assert field("revenue").inner_text() == _money(detail["profile"]["revenue"])
    assert field("rfm_segment").inner_text() == detail["rfm"]["segment"]
    assert field("p_churn").inner_text() == _percent(detail["churn"]["p_churn"])
    assert page.locator("#detail-orders tbody tr").count() == len(detail["orders"])
    assert page.locator("#detail-events li.ev").count() == len(detail["events"])


def test_rfm_grid_counts_equal_the_api(page: Any, sign_in: Any, shop_server: Running) -> None:
    sign_in(shop_server.url, "customers")
    page.click('[data-tab="segments"]')
    page.wait_for_selector("#rfm-heatmap .main-svg")
    with shop_server.client("read") as api:
        grid = api.get("/api/v1/segments/rfm").json()
    # Annotations are drawn row by row (R 1..5), each row by F 1..5, as the API lists the cells.
    labels = page.locator("#rfm-heatmap .annotation-text").all_text_contents()
    assert labels == [f"{c['customers']:,}" for c in grid["cells"]]
    for cell in grid["cells"]:
        shown = page.locator(
            f'#rfm-cells tr[data-r="{cell["recency_score"]}"][data-f="{cell["frequency_score"]}"] td[data-count]'
        )
        assert int(shown.get_attribute("data-count")) == cell["customers"]
    first = page.locator("#rfm-segments tbody tr").first.locator("td")
    champions = grid["segments"][0]
    assert first.nth(0).inner_text() == champions["segment"] == "Champions"
    assert first.nth(1).inner_text() == f"{champions['customers']:,}"
    assert page.locator("#clusters tbody tr").count() == len(api_clusters(shop_server))


def api_clusters(run: Running) -> list[dict[str, Any]]:
    with run.client("read") as api:
        clusters: list[dict[str, Any]] = api.get("/api/v1/segments/clusters").json()["clusters"]
    return clusters


def test_typing_a_rule_updates_the_live_count_then_saving_lists_it(
    page: Any, sign_in: Any, shop_server: Running
) -> None:
    sign_in(shop_server.url, "customers")
    page.click('[data-tab="segments"]')
    rule = 'orders >= 2 and country in ["DE", "FR"]'
    with shop_server.client("read") as api:
        counted = api.post("/api/v1/segments/count", json={"rule": rule}).json()
        count = counted["count"]
        bad = api.post("/api/v1/segments/count", json={"rule": "ordrs > 2"}).json()["message"]
    page.locator("#rule-input").press_sequentially("ordrs > 2", delay=20)
    page.wait_for_selector("#rule-error:not(.hidden)")
    assert page.locator("#rule-error").inner_text() == bad
    page.fill("#rule-input", "")
    page.locator("#rule-input").press_sequentially(rule, delay=10)
    page.wait_for_function(
        "([rule, n]) => { const c = document.getElementById('rule-count');"
        " return c.dataset.rule === rule && c.dataset.count === String(n); }",
        arg=[rule, count],
    )
    assert page.locator("#rule-count").inner_text() == f"{count:,} customers"
    assert counted["buyers"] == count and counted["visitors"] == 0  # two orders or more: buyers only
    assert page.locator("#rule-share").inner_text() == (
        f"{count:,} of {counted['buyers_total']:,} buyers; 0 of {counted['visitors_total']:,} visitors without"
        f" orders ({counted['share'] * 100:.1f}% of {counted['total']:,} customers incl. visitors)"
    )
    assert page.locator("#rule-error").is_hidden()

    page.fill("#segment-name", "eu repeaters")
    page.click("#segment-save")
    row = page.locator('#saved-segments tbody tr[data-name="eu repeaters"]')
    row.wait_for()
    assert row.locator("td").nth(2).inner_text() == f"{count:,}"
    assert "Saved" in page.locator("#save-status").inner_text()
    with shop_server.client("read") as api:
        listed = {s["name"]: s for s in api.get("/api/v1/segments").json()["segments"]}
    assert listed["eu repeaters"]["size"] == count and listed["eu repeaters"]["rule"] == rule
    # The saved segment is offered as a filter of the customer list.
    assert page.locator('#customer-segment option[value="eu repeaters"]').count() == 1

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Delete").click()
    row.wait_for(state="detached")
    with shop_server.client("read") as api:
        assert "eu repeaters" not in [s["name"] for s in api.get("/api/v1/segments").json()["segments"]]


def test_lifetime_value_charts_render_with_the_apis_numbers(
    page: Any, sign_in: Any, shop_server: Running
) -> None:
    sign_in(shop_server.url, "customers")
    page.click('[data-tab="value"]')
    page.wait_for_selector("#clv-histogram .main-svg")
    page.wait_for_selector("#calibration-chart .main-svg")
    with shop_server.client("read") as api:
        value = api.get("/api/v1/customers/value").json()
    assert page.locator("#clv-histogram .bars .point").count() == len(value["histogram"])
    # Two bar series (actual, predicted), one bar per calibration frequency group.
    assert page.locator("#calibration-chart .bars .point").count() == 2 * len(value["calibration"]["groups"])
    assert "Actual" in (page.locator("#calibration-chart .legend").text_content() or "")
    # P(alive) against the repeat rate: one marker per non-empty bin, at the API's coordinates.
    page.wait_for_selector("#alive-chart .main-svg")
    bins = value["calibration"]["alive_bins"]
    assert page.locator("#alive-chart .scatterlayer .trace").nth(1).locator(".point").count() == len(bins)
    assert "Bought again in the holdout" in (page.locator("#alive-chart .legend").text_content() or "")
    shown = page.evaluate(
        "() => { const t = document.getElementById('alive-chart').data[1]; return [t.x, t.y]; }"
    )
    assert shown == [[b["mean_p_alive"] for b in bins], [b["repeat_rate"] for b in bins]]
    caption = page.locator("#alive-caption").inner_text()
    assert caption.startswith({"mbgnbd": "MBG/NBD", "pareto": "Pareto/NBD"}[value["calibration"]["model"]])
    top = page.locator("#top-customers tbody tr").first.locator("td")
    leader = value["top_customers"][0]
    assert top.nth(1).inner_text() == leader["user_id"]
    assert top.nth(8).inner_text() == _money(leader["clv_12m"])
    tile = page.locator('[data-value-kpi="customers"]')
    assert tile.inner_text() == f"{value['summary']['customers']:,}"
    # A row opens that customer's 360 view.
    page.locator("#top-customers tbody tr").first.click()
    page.wait_for_selector("#customer-detail:not(.hidden)")
    assert page.locator("#detail-id").inner_text() == leader["user_id"]


def test_without_profiles_the_page_says_how_to_build_them(
    page: Any, sign_in: Any, dashboard_server: Running
) -> None:
    sign_in(dashboard_server.url, "customers")
    assert "cartwise profiles build" in page.locator("#no-profiles").inner_text()
    assert page.locator("#customer-list tr.empty").count() == 1
    page.click('[data-tab="value"]')
    assert "cartwise profiles build" in page.locator("#top-customers tr.empty").inner_text()
