"""Forecasts and Inventory API against a real server over a simulated, forecast shop.

Every number is checked against SQL run directly on a copy of the store taken before the
server started (the server holds the store's write lock while it runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from service_support import Running, Shop, error_body, fuzz_operations, serve_shop

from cartwise.pipelines.demand import build_forecasts
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import Store

SHOP = ShopConfig(seed=7, users=1500, items=40, days=240)
TRUTH = "truth.duckdb"


def _forecast_shop(store: Store) -> None:
    build_demo(store, SHOP)
    build_forecasts(store, horizon=12, freq="W", lead_time=2, service_level=0.95)


def start_shop(tmp: Path) -> Running:
    """Serve a simulated small shop with its demand forecast, with a copy of its store at `tmp/truth.duckdb`."""
    return serve_shop(tmp, _forecast_shop, truth=TRUTH)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with (
        start_shop(tmp_path_factory.mktemp("forecasts")) as run,
        duckdb.connect(str(run.db.with_name(TRUTH)), read_only=True) as truth,
    ):
        yield Shop(run, truth)


def _same(got: Any, want: Any) -> bool:
    """Equal, with floats to 1e-9 relative and NaN or infinity served as null."""
    if isinstance(want, float):
        if not math.isfinite(want):
            return got is None
        return got == pytest.approx(want, rel=1e-9, abs=1e-12)
    return bool(got == want)


def _rows_equal(got: list[dict[str, Any]], fields: list[str], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        for name, value in zip(fields, w, strict=True):
            assert _same(g[name], value), (name, g[name], value)


ITEM_META = (
    "(SELECT item_id, any_value(title) AS title, any_value(category) AS category FROM items GROUP BY item_id)"
)


# -- the series list ----------------------------------------------------------------------------------
def test_item_list_equals_sql(shop: Shop) -> None:
    body = shop.json("/api/v1/forecasts", limit=15)
    want = shop.sql(
        f"""SELECT m.id, i.title, i.category, m.model, m.mase, m.smape, m.coverage_80, t.total
            FROM forecast_models m JOIN {ITEM_META} i ON i.item_id = m.id
            JOIN (SELECT id, sum(forecast) AS total FROM forecasts WHERE level = 'item' GROUP BY id) t USING (id)
            WHERE m.level = 'item' AND m.measure = 'units'
            ORDER BY t.total DESC, m.id LIMIT 15"""
    )
    fields = ["id", "title", "category", "model", "mase", "smape", "coverage_80", "forecast_total"]
    _rows_equal(body["series"], fields, want)
    assert body["total"] == shop.sql("SELECT count(*) FROM forecast_models WHERE level = 'item'")[0][0] == 40
    assert body["ready"] is True and {s["level"] for s in body["series"]} == {"item"}


def test_search_matches_item_id_or_title(shop: Shop) -> None:
    item_id, title = shop.sql("SELECT item_id, title FROM items ORDER BY item_id LIMIT 1 OFFSET 3")[0]
    word = title.split()[0].lower()
    body = shop.json("/api/v1/forecasts", q=word, sort="id", limit=500)
    want = shop.sql(
        f"""SELECT m.id FROM forecast_models m JOIN {ITEM_META} i ON i.item_id = m.id
            WHERE m.level = 'item' AND (contains(lower(m.id), ?) OR contains(lower(i.title), ?)) ORDER BY m.id""",
        [word, word],
    )
    assert [s["id"] for s in body["series"]] == [r[0] for r in want] and item_id in [r[0] for r in want]
    assert body["total"] == len(want)
    by_id = shop.json("/api/v1/forecasts", q=item_id.lower())
    assert [s["id"] for s in by_id["series"]] == [item_id]
    first = shop.json("/api/v1/forecasts", sort="-mase", limit=6)
    second = shop.json("/api/v1/forecasts", sort="-mase", limit=6, offset=6)
    both = shop.json("/api/v1/forecasts", sort="-mase", limit=12)
    assert [s["id"] for s in first["series"] + second["series"]] == [s["id"] for s in both["series"]]
    mases = [s["mase"] for s in both["series"] if s["mase"] is not None]
    assert mases == sorted(mases, reverse=True)


def test_category_revenue_list_equals_sql(shop: Shop) -> None:
    body = shop.json("/api/v1/forecasts", level="category", measure="revenue", sort="id", limit=100)
    want = shop.sql(
        """SELECT m.id, m.model, m.mase, m.smape, m.coverage_80,
                  (SELECT sum(forecast) FROM forecasts f WHERE f.level = 'category' AND f.measure = 'revenue' AND f.id = m.id)
           FROM forecast_models m WHERE m.level = 'category' AND m.measure = 'revenue' ORDER BY m.id"""
    )
    _rows_equal(body["series"], ["id", "model", "mase", "smape", "coverage_80", "forecast_total"], want)
    assert [s["title"] for s in body["series"]] == [r[0] for r in want]


# -- one series -----------------------------------------------------------------------------------------
def test_item_forecast_equals_sql(shop: Shop) -> None:
    item_id = shop.sql("SELECT item_id FROM reorder_plan ORDER BY stockout_risk DESC, item_id LIMIT 1")[0][0]
    body = shop.json(f"/api/v1/forecasts/item/{item_id}")
    assert (body["level"], body["id"], body["measure"]) == ("item", item_id, "units")
    assert body["title"] == shop.sql("SELECT title FROM items WHERE item_id = ?", [item_id])[0][0]
    history = shop.sql(
        "SELECT date::VARCHAR, value, complete FROM demand "
        "WHERE level = 'item' AND id = ? AND measure = 'units' ORDER BY date",
        [item_id],
    )
    _rows_equal(body["history"], ["date", "value", "complete"], history)
    forecast = shop.sql(
        "SELECT date::VARCHAR, forecast, lo_80, hi_80, lo_95, hi_95 FROM forecasts "
        "WHERE level = 'item' AND id = ? AND measure = 'units' ORDER BY date",
        [item_id],
    )
    _rows_equal(body["forecast"], ["date", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"], forecast)
    assert len(body["forecast"]) == 12
    assert all(
        f["lo_95"] <= f["lo_80"] <= f["forecast"] <= f["hi_80"] <= f["hi_95"] for f in body["forecast"]
    )
    model = shop.sql(
        "SELECT model, mase, smape, coverage_80 FROM forecast_models WHERE level = 'item' AND id = ?",
        [item_id],
    )
    _rows_equal([body["model"]], ["name", "mase", "smape", "coverage_80"], model)
    plan = shop.sql(
        "SELECT stock, order_quantity, days_of_cover, stockout_risk, reorder FROM reorder_plan WHERE item_id = ?",
        [item_id],
    )
    _rows_equal(
        [body["reorder"]], ["stock", "order_quantity", "days_of_cover", "stockout_risk", "reorder"], plan
    )
    elasticity = shop.sql(
        "SELECT elasticity, std_error, observations, pooled FROM elasticities WHERE level = 'item' AND id = ?",
        [item_id],
    )
    _rows_equal([body["elasticity"]], ["elasticity", "std_error", "observations", "pooled"], elasticity)


def test_category_forecast_by_measure(shop: Shop) -> None:
    category = shop.sql("SELECT id FROM forecast_models WHERE level = 'category' ORDER BY id LIMIT 1")[0][0]
    for measure in ("units", "revenue"):
        body = shop.json(f"/api/v1/forecasts/category/{category}", measure=measure)
        want = shop.sql(
            "SELECT date::VARCHAR, forecast FROM forecasts WHERE level = 'category' AND id = ? AND measure = ? "
            "ORDER BY date",
            [category, measure],
        )
        _rows_equal(body["forecast"], ["date", "forecast"], want)
        model = shop.sql(
            "SELECT model FROM forecast_models WHERE level = 'category' AND id = ? AND measure = ?",
            [category, measure],
        )[0][0]
        assert body["model"]["name"] == model and body["reorder"] is None


def test_unknown_series_is_404_naming_the_id(shop: Shop) -> None:
    with shop.run.client("read") as c:
        body = error_body(c.get("/api/v1/forecasts/item/no-such-sku"), 404)
        assert "'no-such-sku'" in body["message"]
        body = error_body(c.get("/api/v1/forecasts/category/Nowhere"), 404)
        assert "'Nowhere'" in body["message"]


def test_bad_parameters_are_4xx_naming_the_parameter(shop: Shop) -> None:
    with shop.run.client("read") as c:
        assert "`level`" in error_body(c.get("/api/v1/forecasts", params={"level": "brand"}), 400)["message"]
        assert "`level`" in error_body(c.get("/api/v1/forecasts/brand/SKU-00001"), 400)["message"]
        body = error_body(c.get("/api/v1/forecasts", params={"measure": "revenue"}), 400)
        assert "`measure`" in body["message"] and "units" in body["message"]
        assert "`measure`" in error_body(c.get("/api/v1/forecasts", params={"measure": "kg"}), 400)["message"]
        body = error_body(c.get("/api/v1/forecasts/item/SKU-00001", params={"measure": "kg"}), 400)
        assert "`measure`" in body["message"]
        assert "`sort`" in error_body(c.get("/api/v1/forecasts", params={"sort": "price"}), 400)["message"]
        body = error_body(c.get("/api/v1/inventory/reorder", params={"sort": "-risk"}), 400)
        assert "`sort`" in body["message"] and "stockout_risk" in body["message"]
        assert (
            "`level`"
            in error_body(c.get("/api/v1/inventory/elasticities", params={"level": "x"}), 400)["message"]
        )
        body = error_body(c.get("/api/v1/forecasts", params={"limit": 0}), 422)
        assert body["fields"][0]["field"].endswith("limit")
        body = error_body(c.get("/api/v1/inventory/reorder", params={"only_reorder": "perhaps"}), 422)
        assert body["fields"][0]["field"].endswith("only_reorder")


def test_reading_needs_a_read_key(shop: Shop) -> None:
    with shop.run.client() as anonymous:
        error_body(anonymous.get("/api/v1/forecasts"), 401)
        error_body(anonymous.get("/api/v1/inventory/reorder"), 401)
    with shop.run.client("collect") as collect:
        error_body(collect.get("/api/v1/forecasts/item/SKU-00001"), 403)
        error_body(collect.get("/api/v1/inventory/elasticities"), 403)


# -- inventory ----------------------------------------------------------------------------------------------
REORDER_FIELDS = [
    "item_id",
    "title",
    "category",
    "stock",
    "lead_time_demand",
    "safety_stock",
    "reorder_point",
    "order_quantity",
    "days_of_cover",
    "stockout_risk",
    "reorder",
]


def test_reorder_list_equals_sql(shop: Shop) -> None:
    body = shop.json("/api/v1/inventory/reorder", only_reorder="true", sort="stockout_risk", limit=10)
    want = shop.sql(
        f"""SELECT r.item_id, i.title, i.category, r.stock, r.lead_time_demand, r.safety_stock, r.reorder_point,
                   r.order_quantity, r.days_of_cover, r.stockout_risk, r.reorder
            FROM reorder_plan r LEFT JOIN {ITEM_META} i USING (item_id)
            WHERE r.reorder ORDER BY r.stockout_risk DESC, r.item_id LIMIT 10"""
    )
    _rows_equal(body["items"], REORDER_FIELDS, want)
    items, to_order, at_risk, units = shop.sql(
        "SELECT count(*), count(*) FILTER (WHERE reorder), count(*) FILTER (WHERE stockout_risk >= 0.5), "
        "sum(order_quantity) FILTER (WHERE reorder) FROM reorder_plan"
    )[0]
    summary = body["summary"]
    assert (summary["items"], summary["to_order"], summary["at_risk"]) == (items, to_order, at_risk)
    assert summary["order_units"] == pytest.approx(units)
    assert body["total"] == to_order > 0 and all(i["reorder"] for i in body["items"])


def test_reorder_sorts_and_all_items(shop: Shop) -> None:
    body = shop.json("/api/v1/inventory/reorder", sort="days_of_cover", limit=500)
    want = shop.sql(
        "SELECT item_id, days_of_cover FROM reorder_plan ORDER BY days_of_cover ASC NULLS LAST, item_id"
    )
    _rows_equal(body["items"], ["item_id", "days_of_cover"], want)
    assert body["total"] == len(want) == body["summary"]["items"]
    # Stock that outlasts the horizon has infinite cover, served as null and listed last.
    beyond = [i for i in body["items"] if i["days_of_cover"] is None]
    assert body["items"][len(body["items"]) - len(beyond) :] == beyond
    largest = shop.json("/api/v1/inventory/reorder", sort="order_quantity", limit=3)
    top = shop.sql("SELECT item_id FROM reorder_plan ORDER BY order_quantity DESC, item_id LIMIT 3")
    assert [i["item_id"] for i in largest["items"]] == [r[0] for r in top]


def test_elasticities_equal_sql(shop: Shop) -> None:
    body = shop.json("/api/v1/inventory/elasticities")
    want = shop.sql(
        "SELECT id, elasticity, std_error, observations, pooled FROM elasticities "
        "WHERE level = 'category' ORDER BY elasticity ASC NULLS LAST, id"
    )
    _rows_equal(body["elasticities"], ["id", "elasticity", "std_error", "observations", "pooled"], want)
    items = shop.json("/api/v1/inventory/elasticities", level="item", limit=5)
    want = shop.sql(
        f"""SELECT e.id, i.title, e.elasticity FROM elasticities e JOIN {ITEM_META} i ON i.item_id = e.id
            WHERE e.level = 'item' ORDER BY e.elasticity ASC NULLS LAST, e.id LIMIT 5"""
    )
    _rows_equal(items["elasticities"], ["id", "title", "elasticity"], want)
    assert items["total"] == shop.sql("SELECT count(*) FROM elasticities WHERE level = 'item'")[0][0]


# -- the pages' JSON twins ------------------------------------------------------------------------------
def test_pages_are_built_from_the_same_json(shop: Shop) -> None:
    page = shop.json("/api/v1/pages/forecasts")
    assert page["status"] == "ready"
    data = page["data"]
    assert data["series"] == shop.json("/api/v1/forecasts")
    first = data["series"]["series"][0]["id"]
    assert data["selected"] == shop.json(f"/api/v1/forecasts/item/{first}")
    assert data["period"]["freq"] == "W" and data["period"]["horizon"] == 12
    accuracy = {(a["level"], a["measure"]): a for a in data["accuracy"]}
    assert set(accuracy) == {("item", "units"), ("category", "units"), ("category", "revenue")}
    n, mase = shop.sql("SELECT count(*), avg(mase) FROM forecast_models WHERE level = 'item'")[0]
    assert accuracy[("item", "units")]["series"] == n and accuracy[("item", "units")][
        "mase"
    ] == pytest.approx(mase)
    assert sum(accuracy[("item", "units")]["models"].values()) == n
    # The page's headline accuracy: median MASE and the share beating the naive forecast,
    # over the series whose MASE is finite (numpy over the stored rows, not the page's SQL).
    stored = np.array(
        [r[0] for r in shop.sql("SELECT mase FROM forecast_models WHERE level = 'item'")], float
    )
    finite = stored[np.isfinite(stored)]
    assert accuracy[("item", "units")]["median_mase"] == pytest.approx(float(np.median(finite)))
    assert accuracy[("item", "units")]["beats_naive"] == pytest.approx(float((finite < 1).mean()))

    inventory = shop.json("/api/v1/pages/inventory")["data"]
    assert inventory["reorder"] == shop.json("/api/v1/inventory/reorder")
    assert inventory["elasticities"] == shop.json("/api/v1/inventory/elasticities")
    slugs = [p["slug"] for p in shop.json("/api/v1/pages")]
    assert slugs.index("inventory") == slugs.index("forecasts") + 1


def test_without_forecasts_the_api_says_how_to_build_them(running: Running) -> None:
    with running.client("read") as c:
        listing = c.get("/api/v1/forecasts").json()
        assert listing["ready"] is False and "cartwise demand build" in listing["message"]
        assert listing["series"] == [] and listing["total"] == 0
        assert "cartwise demand build" in error_body(c.get("/api/v1/forecasts/item/sku-1"), 404)["message"]
        plan = c.get("/api/v1/inventory/reorder").json()
        assert plan["ready"] is False and plan["items"] == [] and "cartwise demand build" in plan["message"]
        assert c.get("/api/v1/inventory/elasticities").json()["ready"] is False
        page = c.get("/api/v1/pages/forecasts").json()["data"]
        assert page["ready"] is False and page["selected"] is None
        assert c.get("/api/v1/pages/inventory").json()["data"]["ready"] is False


def test_generated_requests_never_fail_with_a_servererror_body(shop: Shop) -> None:
    """Requests generated from the OpenAPI document, over a store with forecasts."""
    import schemathesis

    schema = schemathesis.openapi.from_url(shop.run.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {shop.run.keys['read']}"}
    checked = fuzz_operations(
        schema,
        headers,
        lambda path: path.startswith(("/api/v1/forecasts", "/api/v1/inventory")),
        max_examples=25,
    )
    checked = [c.split(" ", 1)[1] for c in checked]
    assert len(checked) == 4
