"""The Analytics page over a store loaded from a transaction log alone (issue 24.14): the tiles
show the orders' revenue, orders and customers, visits and conversion read `n/a` (they need
events) instead of 0, and the first-purchase retention heatmap is drawn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import Running, serve_shop

from cartwise.ingest import LoadOptions, ingest_file
from cartwise.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CDNOW = Path(__file__).resolve().parents[1] / "predict" / "fixtures" / "cdnow_transactions_250.txt"


def _log_only(store: Store) -> None:
    ingest_file(store, "transactions", CDNOW, LoadOptions(format="cdnow"))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_shop(tmp_path_factory.mktemp("orders_only"), _log_only) as run:
        yield run


def test_tiles_and_retention_of_a_transaction_log_alone(page: Any, sign_in: Any, shop: Running) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(shop.url, "analytics")
    page.wait_for_selector("body[data-analytics-ready=true]")
    with shop.client("read") as client:
        weekly = client.get("/api/v1/analytics/kpis", params={"grain": "week"}).json()
    tiles = {t["kpi"]: t for t in weekly["tiles"]["kpis"]}
    assert tiles["orders"]["value"] > 0 and tiles["visitors"]["value"] is None
    orders = page.locator('[data-kpi-tile="orders"] [data-kpi]').inner_text()
    assert orders == f"{tiles['orders']['value']:,}"
    for kpi in ("visitors", "conversion_rate"):
        shown = page.locator(f'[data-kpi-tile="{kpi}"] [data-kpi]')
        assert shown.inner_text() == "n/a"
        assert "Needs events" in (shown.get_attribute("title") or "")
    assert "Orders through 1998-06" in page.locator("body").inner_text()
    page.wait_for_selector("#retention-heatmap .main-svg")
    heat = page.evaluate("document.getElementById('retention-heatmap').data[0]")
    assert heat["z"][0][0] == pytest.approx(1.0)  # the first cohort, its own week: every buyer
    page.select_option("#trend-metric", "visitors")
    page.wait_for_function("document.getElementById('trend-chart').textContent.includes('needs events')")
    assert not errors
