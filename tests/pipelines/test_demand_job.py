"""`cartwise demand` on a simulated shop: series against the orders, forecasts, reorders, elasticities against the truth."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cartwise.cli.demand import demand
from cartwise.core.errors import ConfigError, InputError
from cartwise.core.settings import get_settings
from cartwise.pipelines.demand import build_forecasts, demand_table
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store

# Frequent promotions and widely spread true elasticities, so that each of the 60 items has
# enough sales at discounted prices for its own estimate.
SHOP = ShopConfig(seed=1, users=5000, items=60, days=365, promotions_per_item_year=8, elasticity_sd=1.0)
HORIZON, LEAD_TIME = 8, 2


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    db = tmp_path_factory.mktemp("demand") / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as store:
        build_demo(store, SHOP)
    args = ["build", "--db", str(db), "--horizon", str(HORIZON), "--lead-time", str(LEAD_TIME), "--json"]
    result = CliRunner().invoke(demand, args)
    assert result.exit_code == 0, result.output
    return db, json.loads(result.output)


@pytest.fixture
def store(built: tuple[Path, dict[str, Any]]) -> Iterator[Store]:
    db = built[0]
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as opened:
        yield opened


def frame(store: Store, sql: str) -> pd.DataFrame:
    return store.arrow(sql).to_pandas()


def test_weekly_series_sum_to_the_orders(store: Store) -> None:
    per_item = frame(
        store,
        """SELECT d.id, d.value AS series, o.units FROM demand d JOIN (
               SELECT l.item_id AS id, date_trunc('week', o.ts)::DATE AS date, sum(l.quantity) AS units
               FROM order_lines l JOIN orders o USING (order_id) GROUP BY ALL) o USING (id, date)
           WHERE d.level = 'item' AND d.measure = 'units'""",
    )
    assert len(per_item) > 1000 and (per_item["series"] == per_item["units"]).all()
    totals = frame(
        store,
        """SELECT level, measure, sum(value) AS total FROM demand GROUP BY ALL ORDER BY level, measure""",
    ).set_index(["level", "measure"])["total"]
    units = store.con.execute("SELECT sum(quantity) FROM order_lines").fetchall()[0][0]
    revenue = store.con.execute("SELECT sum(amount) FROM orders").fetchall()[0][0]
    for level in ("item", "category"):
        assert totals[(level, "units")] == units
        assert totals[(level, "revenue")] == pytest.approx(revenue, rel=1e-9)


def test_weeks_without_sales_are_zero_and_only_edge_weeks_are_incomplete(store: Store) -> None:
    item = frame(store, "SELECT * FROM demand WHERE level = 'item' AND measure = 'units' ORDER BY id, date")
    sold_weeks = store.con.execute(
        """SELECT count(DISTINCT (l.item_id, date_trunc('week', o.ts))) FROM order_lines l JOIN orders o USING (order_id)"""
    ).fetchall()[0][0]
    assert (item["value"] > 0).sum() == sold_weeks
    assert (item["value"] == 0).sum() > 100 and item["value"].notna().all()
    for _, series in item.groupby("id"):
        steps = pd.to_datetime(series["date"]).diff().dropna()
        assert (steps == pd.Timedelta(days=7)).all()  # every week from the first sale on
        assert series["date"].max() == dt.date(2025, 12, 29)  # to the last week with orders
    # 2025-01-01 is a Wednesday and 2025-12-31 too: the first and last weeks are partial.
    incomplete = set(item.loc[~item["complete"], "date"])
    assert incomplete == {dt.date(2024, 12, 30), dt.date(2025, 12, 29)}


def test_gaps_in_the_data_are_missing_not_zero() -> None:
    ts = pd.to_datetime(["2025-03-03", "2025-03-04", "2025-03-12", "2025-03-24", "2025-03-30"])
    lines = pd.DataFrame(
        {
            "item_id": ["a", "b", "a", "a", "b"],
            "category": ["X", "Y", "X", "X", "Y"],
            "ts": ts,
            "units": [1.0, 2.0, 3.0, 4.0, 5.0],
            "revenue": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )
    table = demand_table(lines, "W")
    b = table[(table["level"] == "item") & (table["id"] == "b") & (table["measure"] == "units")]
    by_week = dict(zip(b["date"], b["value"], strict=True))
    # b sold in weeks 1 and 4; week 2 had orders (of a) so b's 0 is real; week 3 had no order at all.
    assert by_week[dt.date(2025, 3, 10)] == 0
    assert np.isnan(by_week[dt.date(2025, 3, 17)])
    assert by_week[dt.date(2025, 3, 24)] == 5
    assert table["complete"].all()  # the orders run from a Monday to a Sunday


def test_forecasts_cover_the_horizon_with_ordered_intervals(
    store: Store, built: tuple[Path, dict[str, Any]]
) -> None:
    report = built[1]
    fc = frame(store, "SELECT * FROM forecasts")
    counts = fc.groupby(["level", "measure", "id"]).size()
    assert (counts == HORIZON).all()
    assert len(counts.loc["item"]) == SHOP.items and len(counts.loc["category"]) == 2 * 8
    ordered = (fc["lo_95"] <= fc["lo_80"]) & (fc["lo_80"] <= fc["forecast"])
    ordered &= (fc["forecast"] <= fc["hi_80"]) & (fc["hi_80"] <= fc["hi_95"])
    assert ordered.all() and (fc["lo_95"] >= 0).all()
    first = dt.date.fromisoformat(report["forecast_from"])
    assert sorted(set(fc["date"])) == [first + dt.timedelta(weeks=k) for k in range(HORIZON)]
    assert first == dt.date(2025, 12, 29)  # right after the last complete week
    assert report["levels"]["item_units"]["series"] == SHOP.items
    assert fc["model"].notna().all()


def test_backtest_accuracy_and_coverage_are_reported(
    store: Store, built: tuple[Path, dict[str, Any]]
) -> None:
    levels = built[1]["levels"]
    for name in ("item_units", "category_units", "category_revenue"):
        figures = levels[name]["backtest"]
        assert 0.5 <= figures["coverage_80"] <= figures["coverage_95"] <= 1
        assert 0 < figures["mase"] < 3 and 0 < figures["smape"] < 200
    models = frame(store, "SELECT * FROM forecast_models WHERE level = 'item'")
    assert len(models) == SHOP.items and models["coverage_80"].between(0, 1).all()
    assert models["coverage_80"].mean() >= 0.5  # intervals have width for items too
    # The summary pools the same backtest periods the table scores series by series.
    assert models["coverage_80"].mean() == pytest.approx(levels["item_units"]["backtest"]["coverage_80"])
    counts = models["model"].value_counts().to_dict()
    assert counts == levels["item_units"]["models"]


def test_reorder_plan_flags_items_whose_stock_is_below_lead_time_demand(store: Store) -> None:
    plan = frame(
        store,
        f"""WITH lead AS (
                SELECT id, sum(forecast) AS demand FROM (
                    SELECT id, forecast, row_number() OVER (PARTITION BY id ORDER BY date) AS step
                    FROM forecasts WHERE level = 'item') WHERE step <= {LEAD_TIME} GROUP BY id)
            SELECT p.*, i.stock AS items_stock, lead.demand FROM reorder_plan p
            JOIN items i USING (item_id) JOIN lead ON lead.id = p.item_id""",
    )
    assert len(plan) == SHOP.items and (plan["stock"] == plan["items_stock"]).all()
    assert plan["lead_time_demand"].to_numpy() == pytest.approx(plan["demand"].to_numpy())
    short = plan[plan["items_stock"] < plan["demand"]]
    ample = plan[plan["items_stock"] > plan["reorder_point"]]
    assert len(short) >= 3 and len(ample) >= 3
    assert short["reorder"].all() and (short["stockout_risk"] > 0.5).all()
    assert (short["order_quantity"] >= short["demand"] - short["items_stock"]).all()
    assert not ample["reorder"].any() and (ample["order_quantity"] == 0).all()
    assert (short["days_of_cover"] < 7 * LEAD_TIME).all()
    risk = frame(store, "SELECT stockout_risk FROM reorder_plan")["stockout_risk"]
    assert risk.is_monotonic_decreasing  # riskiest first


def test_elasticities_track_the_true_ones(store: Store) -> None:
    items = frame(
        store,
        """SELECT e.*, t.elasticity AS truth FROM elasticities e JOIN truth_items t ON t.item_id = e.id
           WHERE e.level = 'item'""",
    )
    assert len(items) == SHOP.items and not items["pooled"].any()
    assert np.corrcoef(items["elasticity"], items["truth"])[0, 1] > 0.6
    error = (items["elasticity"] - items["truth"]).abs().mean()
    oracle = (items["truth"] - items["truth"].mean()).abs().mean()  # every item at the true mean
    assert error < 0.75 * oracle
    cats = frame(
        store,
        """SELECT e.id, e.elasticity, e.std_error, avg(t.elasticity) AS truth
           FROM elasticities e JOIN items i ON split_part(i.category, ' > ', 1) = e.id
           JOIN truth_items t USING (item_id) WHERE e.level = 'category' GROUP BY ALL""",
    )
    assert len(cats) == 8 and (cats["std_error"] > 0).all()
    assert ((cats["elasticity"] - cats["truth"]).abs() < 0.6).all()
    assert (cats["elasticity"] - cats["truth"]).abs().mean() < 0.35


def test_elasticity_command_rewrites_the_table(built: tuple[Path, dict[str, Any]]) -> None:
    db, report = built
    result = CliRunner().invoke(
        demand, ["elasticity", "--db", str(db), "--min-price-changes", "100000", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["items_pooled"] == SHOP.items and out["items_own_estimate"] == 0
    assert report["elasticities"]["items_own_estimate"] == SHOP.items
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as store:
        pooled = frame(store, "SELECT * FROM elasticities WHERE level = 'item'")
    assert pooled["pooled"].all()
    CliRunner().invoke(demand, ["elasticity", "--db", str(db), "--json"])  # restore the default estimates


def test_bad_settings_say_what_to_change(store: Store) -> None:
    # Each error names its parameter as the API does; the CLI names the option (tested below).
    with pytest.raises(ConfigError, match=r"`lead_time`: must be a positive whole number.*received 0"):
        build_forecasts(store, lead_time=0)
    with pytest.raises(
        ConfigError,
        match=r"`horizon`: 4 periods is shorter than the lead time \(6\) plus the review period \(1\)",
    ):
        build_forecasts(store, horizon=4, lead_time=6)
    with pytest.raises(ConfigError, match=r"`freq`: must be D \(daily\) or W \(weekly\); received 'M'"):
        build_forecasts(store, freq="M")
    with pytest.raises(ConfigError, match=r"`service_level`: must be in \[0.5, 1\).*received 1.5") as caught:
        build_forecasts(store, service_level=1.5)
    assert caught.value.parameter == "service_level"


def test_the_command_reports_bad_options_as_cartwise_errors(built: tuple[Path, dict[str, Any]]) -> None:
    result = CliRunner().invoke(demand, ["build", "--db", str(built[0]), "--horizon", "0"])
    assert isinstance(result.exception, ConfigError) and result.exception.parameter == "horizon"
    result = CliRunner().invoke(demand, ["build", "--db", str(built[0]), "--freq", "M"])
    assert result.exit_code == 2 and "Invalid value for '--freq': 'M'" in result.output


def test_a_shop_without_promotions_or_stock_flags_still_gets_everything(
    built: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    db = tmp_path / "plain.duckdb"
    shutil.copy(built[0], db)
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as plain:
        plain.con.execute("DROP TABLE promotions")
        plain.con.execute("DELETE FROM events WHERE type <> 'purchase'")
        plain.con.execute("DELETE FROM order_lines WHERE item_id >= 'SKU-00020'")  # 20 items, to be quick
        report = build_forecasts(plain, horizon=4, lead_time=1)
        cats = frame(plain, "SELECT elasticity FROM elasticities WHERE level = 'category'")
    assert report["levels"]["item_units"]["series"] == 20
    assert report["reorder"]["items"] == 20
    # Prices paid on the days with sales still show the discounts.
    assert report["elasticities"]["items_own_estimate"] > 10
    assert (cats["elasticity"] < 0).all()


def test_a_store_without_orders_is_an_input_error(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    settings = get_settings(db=db, memory_limit="1GB")
    with (
        open_store(db, settings=settings) as empty,
        pytest.raises(InputError, match="has no order lines; load"),
    ):
        build_forecasts(empty)


def test_items_sold_in_units_get_whole_order_quantities(store: Store) -> None:
    """Issue 24.10: the demo shop sells whole units, so nobody is told to order 0.625 of one."""
    plan = frame(store, "SELECT order_quantity, reorder FROM reorder_plan")
    assert plan["reorder"].any()
    quantities = plan["order_quantity"].to_numpy()
    assert (quantities == np.floor(quantities)).all()
    assert (plan["reorder"] == (quantities > 0)).all()
