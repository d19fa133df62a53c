"""The Experiments page in a real browser over the demo shop: its past campaign's results, the
interval and cumulative-lift charts, the SRM line, the sample-size calculator, and an
experiment without exposures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service_support import Running, serve_shop

from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _demo(store: Store) -> None:
    build_demo(store, ShopConfig(users=3000, items=150, days=160, seed=11, campaign_days_before_end=30))


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_shop(tmp_path_factory.mktemp("experiments_e2e"), _demo) as run:
        yield run


def test_past_campaign_results_charts_and_calculator(page: Any, sign_in: Any, shop_server: Running) -> None:
    with shop_server.client("read") as api:
        twin = api.get("/api/v1/pages/experiments").json()
        results = api.get("/api/v1/experiments/demo-past-campaign/results").json()
        power = api.get("/api/v1/experiments/power", params={"mde": 0.1, "rate": 0.05}).json()
        detail = api.get("/api/v1/experiments/demo-past-campaign/page").json()
        timeline = api.get("/api/v1/experiments/demo-past-campaign/timeline").json()
    assert twin["status"] == "ready"
    assert twin["data"]["selected"]["experiment"]["key"] == "demo-past-campaign"
    # The typed routes answer what the page twin shows: the detail, and the lift over time.
    assert detail == twin["data"]["selected"]
    points = [(p["variant"], p["users"], p["lift"], p["lift_ci"]) for p in timeline["points"]]
    assert points and points == [
        (p["variant"], p["users"], p["lift"], p["lift_ci"]) for p in detail["timeline"]
    ]
    sign_in(shop_server.url, "experiments")
    assert page.locator("h1").inner_text() == "Experiments"
    assert page.locator("#experiment-list tbody tr[data-key]").first.get_attribute("data-key") == (
        "demo-past-campaign"
    )
    page.wait_for_function("document.querySelectorAll('#results tbody tr[data-metric]').length === 5")
    shown = page.eval_on_selector_all(
        "#results tbody tr[data-metric]",
        "rows => rows.map(r => [r.dataset.metric, r.children[5].textContent])",
    )
    want = [
        [r["metric"], f"{'+' if r['lift'] >= 0 else ''}{r['lift'] * 100:.2f}%"] for r in results["results"]
    ]
    assert shown == want
    assert page.locator("#srm-warning").is_hidden() == (not results["srm_warning"])
    page.wait_for_function("Number(document.getElementById('interval-chart').dataset.points) === 5")
    page.wait_for_function("document.getElementById('interval-chart').data.length === 1")
    page.wait_for_function("Number(document.getElementById('timeline-chart').dataset.points) > 0")
    bands = page.evaluate("() => document.getElementById('timeline-chart').data.map(t => t.name)")
    assert bands == ["email sequential 95% band", "email lift"]

    page.fill("#power-mde", "0.1")
    page.fill("#power-rate", "0.05")
    page.click("#power-run")
    page.wait_for_function("document.getElementById('power-result').dataset.users !== undefined")
    assert page.locator("#power-result").get_attribute("data-users") == str(power["users_per_variant"])


def test_an_experiment_without_exposures_says_so(page: Any, sign_in: Any, shop_server: Running) -> None:
    with shop_server.client("admin") as admin:
        created = admin.post(
            "/api/v1/experiments",
            json={
                "key": "fresh<b>",
                "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}],
            },
        )
        assert created.status_code == 400  # the key must be a URL-safe name
        created = admin.post(
            "/api/v1/experiments",
            json={
                "key": "fresh",
                "variants": [{"name": "a", "weight": 0.5}, {"name": "<b>x</b>", "weight": 0.5}],
            },
        )
        assert created.status_code == 201, created.text
    sign_in(shop_server.url, "experiments")
    page.click("#experiment-list tr[data-key='fresh']")
    page.wait_for_function("document.getElementById('results-card').dataset.key === 'fresh'")
    assert "no exposures yet" in page.locator("#results-message").inner_text()
    assert page.locator("#results tbody tr.empty").count() == 1
    assert "<b>x</b>" in page.locator("#experiment-list tr[data-key='fresh']").inner_text()
