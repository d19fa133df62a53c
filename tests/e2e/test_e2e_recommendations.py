"""The Recommendations page in a real browser: offline metrics, online figures and the try-it panel
showing a customer's history beside recommendations whose reasons equal the API's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service_support import Running
from test_recommendations_api import start_shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with start_shop(tmp_path_factory.mktemp("recs-e2e")) as run:
        yield run


def test_page_shows_offline_metrics_of_each_model(page: Any, sign_in: Any, shop: Running) -> None:
    notes = set()
    with shop.client("read") as api:
        # The evaluation runs in the background after start; wait for the JSON twin to have it.
        for _ in range(300):
            offline = api.get("/api/v1/pages/recommendations").json()["data"]["offline"]
            notes.add(offline["note"])
            if offline["models"]:
                break
            page.wait_for_timeout(200)
    assert offline["models"], "offline evaluation never finished"
    sign_in(shop.url, "recommendations")
    assert page.locator("h1").inner_text() == "Recommendations"
    rows = page.locator("#offline tbody tr")
    assert rows.count() == len(offline["models"])
    for i, model in enumerate(offline["models"]):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == model["model"]
        assert float(cells.nth(1).inner_text()) == pytest.approx(model["ndcg@10"], abs=5e-5)
    assert {m["model"] for m in offline["models"]} >= {"itemknn", "baseline: popularity"}
    page.wait_for_selector("#offline-chart .main-svg")
    # Before the figures, the note said when they would be ready; now it names the split.
    assert not any("computing" in n for n in notes)
    assert all(n.startswith(("queued", "evaluating", offline["split"])) for n in notes), notes
    assert (
        page.locator("#offline-note").inner_text()
        == f"{offline['split']}, {offline['test_users']:,} test users"
    )


def test_try_it_shows_history_and_reasons_equal_to_the_api(page: Any, sign_in: Any, shop: Running) -> None:
    sign_in(shop.url, "recommendations")
    page.fill("#try-user", "u000004")
    page.fill("#try-n", "6")
    page.fill("#try-seed", "9")
    page.click("#try-go")
    page.wait_for_function(
        "document.querySelectorAll('#try-recs tbody tr[data-item-id]').length === 6"
        " && document.querySelector('#try-request').textContent.includes('model')"
    )
    with shop.client("read") as api:
        recs = api.get("/api/v1/recommendations/u000004", params={"n": 6, "seed": 9, "log": "false"}).json()
        history = api.get("/api/v1/recommendations/u000004/history", params={"n": 20}).json()["items"]
    rows = page.locator("#try-recs tbody tr")
    assert [rows.nth(i).get_attribute("data-item-id") for i in range(6)] == [
        it["item_id"] for it in recs["items"]
    ]
    assert [rows.nth(i).locator("td.reason").inner_text() for i in range(6)] == [
        it["reason"] for it in recs["items"]
    ]
    assert any(it["reason"].startswith("Because you") for it in recs["items"])
    shown = page.locator("#try-history tbody tr")
    assert history and shown.count() == len(history)
    assert [shown.nth(i).get_attribute("data-item-id") for i in range(len(history))] == [
        h["item_id"] for h in history
    ]
    assert shown.nth(0).locator("td").nth(2).inner_text() == history[0]["title"]


def test_try_it_for_an_unknown_customer_shows_trending(page: Any, sign_in: Any, shop: Running) -> None:
    sign_in(shop.url, "recommendations")
    page.fill("#try-user", "someone-new")
    page.click("#try-go")
    page.wait_for_function("document.querySelector('#try-request').textContent.startsWith('cold start')")
    assert (
        page.locator("#try-history tbody tr.empty").inner_text()
        == "No history: this customer gets trending items."
    )
    reasons = page.locator("#try-recs td.reason").all_inner_texts()
    assert reasons and set(reasons) == {"Trending now"}


def test_try_it_reaches_ids_holding_slashes_and_url_characters(
    page: Any, sign_in: Any, shop: Running
) -> None:
    # Issue 21, point 7: before, "new/one" answered "No such endpoint" in the panel.
    sign_in(shop.url, "recommendations")
    for user in ["new/one", "50% off?x=1#top", "Zoë/東京"]:
        page.fill("#try-user", user)
        page.click("#try-go")
        page.wait_for_function("document.querySelector('#try-request').textContent.startsWith('cold start')")
        assert page.locator("#try-status").inner_text() == ""
        assert set(page.locator("#try-recs td.reason").all_inner_texts()) == {"Trending now"}
        page.evaluate("document.querySelector('#try-request').textContent = ''")
