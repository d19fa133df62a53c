"""Demand from the store: series, forecasts with intervals, a reorder plan and price elasticities.

`build_forecasts` reads the order lines (joined to orders for their time and to items for the
top-level category), turns them into demand per item and per category, forecasts each series
with the automatic model of `cartwise.forecast` (the promotion-aware global model competes
for items, with their price and promotion discount as known covariates), backtests that
choice, turns the item forecasts and `items.stock` into a reorder plan, and estimates price
elasticities. It replaces these tables:

* `demand(level, id, measure, date, value, complete)`: units and revenue per period; `level`
  is `item` or `category`, `measure` `units` or `revenue`, `date` the period's first day (weeks
  start on Monday). A period in which the series sold nothing is 0; a period in which the
  whole shop has no order (missing data) is NULL. `complete` is false for a period only partly
  covered by the orders (the first and last weeks, usually); forecasts learn from complete
  periods only.
* `forecasts(level, id, measure, date, forecast, lo_80, hi_80, lo_95, hi_95, model)`: the
  `horizon` periods after the last complete one: item units, category units and revenue.
* `forecast_models(level, id, measure, model, mase, smape, coverage_80)`: the model used per
  series and its accuracy when the same procedure forecast the last `horizon` complete
  periods from the ones before (NULL where the series is too short for that).
* `reorder_plan(item_id, stock, lead_time_demand, safety_stock, reorder_point, order_quantity,
  days_of_cover, stockout_risk, reorder)`: see `cartwise.forecast.reorder_plan`; riskiest first.
  `order_quantity` is rounded up to whole units for items sold in units (every order line
  with a whole quantity).
* `elasticities(level, id, elasticity, std_error, observations, pooled)`: see `build_elasticities`.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from cartwise.core.errors import CartwiseWarning, ConfigError, DataWarning, InputError
from cartwise.evaluation.forecast import coverage, mase, smape, summarize_backtest
from cartwise.forecast import (
    OUTPUT_COLUMNS,
    ElasticityModel,
    Panel,
    attach_covariates,
    backtest_histories,
    build_panel,
    cross_validate,
    demand_series,
    forecast_panel,
    reorder_plan,
)
from cartwise.store import Store

NO_CATEGORY = "(no category)"
"""Top-level category of items without one."""

STEP_DAYS = {"D": 1, "W": 7}

_LEFT_OUT = "left out of the automatic choice"
"""Words of the forecast runner's warning when a candidate model cannot train at all."""


def _check_freq(freq: str) -> Literal["D", "W"]:
    value = str(freq).upper()
    if value not in STEP_DAYS:
        raise ConfigError(f"must be D (daily) or W (weekly); received {freq!r}.", parameter="freq")
    return "D" if value == "D" else "W"


def _positive_int(value: Any, parameter: str, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(
            f"must be a positive whole number of periods, e.g. {example}; received {value!r}.",
            parameter=parameter,
        )
    return int(value)


def _whole_units(plan: pd.DataFrame, lines: pd.DataFrame) -> pd.Series:
    """`plan.order_quantity`, rounded up to a whole unit for items sold in units.

    An item is sold in units when every one of its order lines has a whole quantity; nobody
    orders 0.625 of a shirt. Rounding up keeps the order-up-to level at least as high as the
    forecast asks. Items sold by weight or length (a fractional quantity on any line) keep the
    exact quantity.
    """
    fractional = set(lines.loc[lines["units"] % 1 != 0, "item_id"].astype(str))
    whole = ~plan["id"].astype(str).isin(fractional)
    return plan["order_quantity"].where(~whole, np.ceil(plan["order_quantity"]))


def load_order_lines(store: Store) -> pd.DataFrame:
    """The store's order lines with their order time and top-level category.

    Columns: `item_id`, `category` (the first level of `items.category`, `(no category)` when
    unknown), `ts` (UTC), `units` (a line without a quantity is one unit), `revenue` (price ×
    quantity when the line has no revenue). Raises `InputError` when there are no lines.
    """
    frame = store.arrow(
        f"""SELECT l.item_id,
                   coalesce(nullif(trim(split_part(i.category, '>', 1)), ''), '{NO_CATEGORY}') AS category,
                   o.ts,
                   coalesce(l.quantity, 1)::DOUBLE AS units,
                   coalesce(l.revenue, l.price * coalesce(l.quantity, 1))::DOUBLE AS revenue
            FROM order_lines l JOIN orders o USING (order_id) LEFT JOIN items i USING (item_id)
            WHERE o.ts IS NOT NULL
            ORDER BY o.ts"""
    ).to_pandas()
    if frame.empty:
        raise InputError(
            f"The store {store.path} has no order lines; load orders with item lines "
            "(`cartwise ingest events` with purchases, or `cartwise ingest transactions` with item columns) "
            "or build the demo shop (`cartwise demo`)."
        )
    return frame


def demand_table(lines: pd.DataFrame, freq: str = "W") -> pd.DataFrame:
    """Demand per item and per category, units and revenue, from `load_order_lines` rows.

    Returns the long table saved as `demand`: `level, id, measure, date, value, complete`
    (see the module docstring). Series come from `cartwise.forecast.demand_series`: each
    starts at its first sale and runs to the last period with orders; a period without sales
    of the series is 0, a period without any order in the shop is missing (NaN).
    """
    freq = _check_freq(freq)
    step = STEP_DAYS[freq]
    days = pd.to_datetime(lines["ts"]).dt.normalize()
    first_day, last_day = days.min().date(), days.max().date()
    parts = []
    for level, key in (("item", "item_id"), ("category", "category")):
        for measure in ("units", "revenue"):
            series = demand_series(lines, key, "ts", measure, freq)
            series.insert(0, "level", level)
            series.insert(2, "measure", measure)
            parts.append(series)
    table = pd.concat(parts, ignore_index=True)
    table["id"] = table["id"].astype(str)
    start = pd.to_datetime(table["date"]).dt.date
    table["complete"] = (start >= first_day) & (start + dt.timedelta(days=step - 1) <= last_day)
    return table


def _item_covariates(store: Store, panel: Panel, horizon: int, freq: str) -> pd.DataFrame:
    """Known covariates per item and period, over each series' history and the horizon.

    `price`: revenue / units in a period with sales, otherwise the list price less the
    period's average promotion discount. `discount`: the average over the period's days of the
    promotion discount running that day (0 without a promotion or a `promotions` table).
    """
    rows = []
    for sid, y, start in zip(panel.ids, panel.ys, panel.starts, strict=True):
        dates = panel.label(np.arange(start, start + y.size + horizon))
        rows.append(pd.DataFrame({"id": sid, "date": dates}))
    grid = pd.concat(rows, ignore_index=True)
    grid["date"] = pd.to_datetime(grid["date"])
    unit = "week" if freq == "W" else "day"
    sold = store.arrow(
        f"""SELECT l.item_id AS id, date_trunc('{unit}', o.ts)::DATE AS date,
                   sum(coalesce(l.revenue, l.price * coalesce(l.quantity, 1))) / nullif(sum(coalesce(l.quantity, 1)), 0) AS sold_price
            FROM order_lines l JOIN orders o USING (order_id) GROUP BY ALL"""
    ).to_pandas()
    listed = store.arrow("SELECT item_id AS id, price AS list_price FROM items").to_pandas()
    promos = _promotion_days(store)
    step = pd.to_timedelta(promos["day"].dt.dayofweek if freq == "W" else 0, unit="D")
    discount = (
        promos.assign(date=promos["day"] - step)
        .groupby(["id", "date"])["discount"]
        .sum()
        .div(STEP_DAYS[freq])
        .rename("discount")
        .reset_index()
    )
    for frame in (sold, discount):
        frame["date"] = pd.to_datetime(frame["date"])
    out = grid.merge(sold, on=["id", "date"], how="left").merge(listed, on="id", how="left")
    out = out.merge(discount, on=["id", "date"], how="left")
    out["discount"] = out["discount"].fillna(0.0)
    out["price"] = out["sold_price"].fillna(out["list_price"] * (1 - out["discount"]))
    out["date"] = out["date"].dt.date
    return out[["id", "date", "price", "discount"]]


def _promotion_days(store: Store) -> pd.DataFrame:
    """One row per item and day of a promotion: `id, day, discount, promo_price` (empty without promotions)."""
    if not store.has_table("promotions"):
        return pd.DataFrame(
            {
                "id": pd.Series(dtype=object),
                "day": pd.Series(dtype="datetime64[ns]"),
                "discount": pd.Series(dtype=float),
                "promo_price": pd.Series(dtype=float),
            }
        )
    cols = {str(r[0]) for r in store.con.execute("DESCRIBE promotions").fetchall()}
    needed = {"item_id", "starts_at", "ends_at", "discount"}
    if not needed <= cols:
        raise InputError(
            f"The `promotions` table lacks the columns {sorted(needed - cols)}; its columns are {sorted(cols)}. "
            "Give one row per promotion with item_id, starts_at, ends_at (exclusive) and discount (0.2 = 20% off)."
        )
    price = "p.price" if "price" in cols else "i.price * (1 - p.discount)"
    frame = store.arrow(
        f"""SELECT p.item_id AS id, d.day::DATE AS day, max(p.discount) AS discount, min({price}) AS promo_price
            FROM promotions p LEFT JOIN items i USING (item_id),
                 LATERAL (SELECT unnest(range(p.starts_at::DATE, p.ends_at::DATE, INTERVAL 1 DAY)) AS day) d
            GROUP BY ALL"""
    ).to_pandas()
    frame["day"] = pd.to_datetime(frame["day"])
    return frame


def _series_metrics(
    backtest: pd.DataFrame, train: dict[tuple[int, str], np.ndarray], season_length: int
) -> pd.DataFrame:
    """MASE, sMAPE and 80% coverage per series of a one-window backtest frame."""
    rows = []
    for sid, g in backtest.groupby("id", sort=False):
        rows.append(
            {
                "id": str(sid),
                "mase": mase(g["actual"], g["forecast"], train[(1, str(sid))], season_length),
                "smape": smape(g["actual"], g["forecast"]),
                "coverage_80": coverage(g["actual"], g["lo_80"], g["hi_80"]),
            }
        )
    return pd.DataFrame(rows, columns=["id", "mase", "smape", "coverage_80"])


def _forecast_level(
    demand: pd.DataFrame, level: str, measure: str, horizon: int, freq: str, store: Store | None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Forecast and backtest one level and measure; returns (forecasts, per-series models, summary)."""
    history = demand[(demand["level"] == level) & (demand["measure"] == measure) & demand["complete"]]
    panel = build_panel(history[["id", "date", "value"]], "id", "date", "value", freq=freq)
    if store is not None:
        attach_covariates(panel, _item_covariates(store, panel, horizon, freq), "id", "date", horizon)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = forecast_panel(panel, horizon, "auto")
        backtest = cross_validate(panel, horizon, ["auto"], n_windows=1)
    # Per-series fallbacks are routine for short item histories and stay quiet; a model left
    # out of the automatic choice altogether is said once per level, as is anything else.
    said: set[str] = set()
    for record in caught:
        text = str(record.message)
        if (issubclass(record.category, DataWarning) and _LEFT_OUT not in text) or text in said:
            continue
        said.add(text)
        where = f"{level} {measure}: " if _LEFT_OUT in text else ""
        if isinstance(record.message, CartwiseWarning):  # keep the parameters it names
            said_again = type(record.message)(
                f"{where}{record.message.message}", mentions=record.message.mentions
            )
            warnings.warn(said_again, stacklevel=2)
        else:
            warnings.warn(f"{where}{text}", record.category, stacklevel=2)
    train = backtest_histories(panel, horizon, 1)
    forecasts = result.frame[list(OUTPUT_COLUMNS)].copy()
    forecasts["model"] = forecasts["id"].map(result.models)
    forecasts.insert(0, "measure", measure)
    forecasts.insert(0, "level", level)
    models = pd.DataFrame({"id": list(result.models), "model": list(result.models.values())})
    models = models.merge(_series_metrics(backtest, train, panel.season_length), on="id", how="left")
    models.insert(0, "measure", measure)
    models.insert(0, "level", level)
    summary = summarize_backtest(backtest, train, panel.season_length)
    figures = summary.iloc[0].drop("model").to_dict() if len(summary) else {}
    return forecasts, models, {"series": len(panel.ids), "models": result.model_counts(), "backtest": figures}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_forecasts(
    store: Store,
    horizon: int = 12,
    freq: str = "W",
    lead_time: int = 2,
    service_level: float = 0.95,
    review_period: int = 1,
    elasticities: bool = True,
) -> dict[str, Any]:
    """Demand series, forecasts, backtest, reorder plan (and elasticities) from the store.

    `horizon`, `lead_time` and `review_period` count periods of `freq` (`W` weeks or `D` days);
    `service_level` is the wanted chance of no stock-out during the lead time. Replaces the
    tables `demand`, `forecasts`, `forecast_models`, `reorder_plan` (and `elasticities`), see
    the module docstring. Returns a report: the periods used, series and models per level,
    the backtest summary per level (MASE, sMAPE, 80% and 95% coverage), the reorder counts
    with the ten riskiest items, the elasticity summary and the seconds taken.
    """
    started = time.perf_counter()
    freq = _check_freq(freq)
    horizon = _positive_int(horizon, "horizon", "12")
    lead_time = _positive_int(lead_time, "lead_time", "2")
    if isinstance(review_period, bool) or not isinstance(review_period, int) or review_period < 0:
        raise ConfigError(
            f"must be a whole number of periods ≥ 0; received {review_period!r}.", parameter="review_period"
        )
    if lead_time + review_period > horizon:
        raise ConfigError(
            f"{horizon} periods is shorter than the lead time ({lead_time}) plus the review period "
            f"({review_period}); forecast at least {lead_time + review_period} periods or shorten the lead time.",
            parameter="horizon",
        )
    if not isinstance(service_level, float | int) or not 0.5 <= service_level < 1:
        raise ConfigError(
            f"must be in [0.5, 1), e.g. 0.95; received {service_level!r}.", parameter="service_level"
        )
    lines = load_order_lines(store)
    demand = demand_table(lines, freq)
    complete = demand.loc[demand["complete"], "date"]
    if complete.nunique() < 2:
        raise InputError(
            f"The orders cover {complete.nunique()} complete {'weeks' if freq == 'W' else 'days'}; "
            "forecasts need at least two. Load a longer history or use daily periods (D).",
            parameter="freq",
        )
    parts, models, levels = [], [], {}
    for level, measure in (("item", "units"), ("category", "units"), ("category", "revenue")):
        fc, mod, summary = _forecast_level(
            demand, level, measure, horizon, freq, store if level == "item" else None
        )
        parts.append(fc)
        models.append(mod)
        levels[f"{level}_{measure}"] = summary
    forecasts = pd.concat(parts, ignore_index=True)
    forecast_models = pd.concat(models, ignore_index=True)

    items = forecasts[forecasts["level"] == "item"]
    stock_rows = store.arrow("SELECT item_id, stock FROM items WHERE stock IS NOT NULL").to_pandas()
    stock = dict(zip(stock_rows["item_id"].astype(str), stock_rows["stock"].astype(float), strict=True))
    plan = reorder_plan(items, stock, lead_time, float(service_level), review_period)
    plan["order_quantity"] = _whole_units(plan, lines)
    plan.insert(6, "days_of_cover", plan.pop("periods_of_cover") * STEP_DAYS[freq])
    plan["reorder"] = plan["order_quantity"] > 0
    plan = plan.rename(columns={"id": "item_id"})

    store.replace("demand", pa.Table.from_pandas(demand, preserve_index=False))
    store.replace("forecasts", pa.Table.from_pandas(forecasts, preserve_index=False))
    store.replace("forecast_models", pa.Table.from_pandas(forecast_models, preserve_index=False))
    store.replace("reorder_plan", pa.Table.from_pandas(plan, preserve_index=False))
    riskiest = [{k: _finite(v) for k, v in row.items()} for row in plan.head(10).to_dict(orient="records")]
    report: dict[str, Any] = {
        "freq": freq,
        "horizon": horizon,
        "history": {"first": min(complete), "last": max(complete), "periods": int(complete.nunique())},
        "forecast_from": max(complete) + dt.timedelta(days=STEP_DAYS[freq]),
        "levels": levels,
        "reorder": {
            "lead_time": lead_time,
            "service_level": float(service_level),
            "items": len(plan),
            "to_order": int(plan["reorder"].sum()),
            "at_risk": int((plan["stockout_risk"] >= 0.5).sum()),
            "riskiest": riskiest,
        },
    }
    if elasticities:
        report["elasticities"] = build_elasticities(store, lines=lines)
    report["tables"] = {
        name: store.count(name)
        for name in ("demand", "forecasts", "forecast_models", "reorder_plan", "elasticities")
        if store.has_table(name) and (name != "elasticities" or elasticities)
    }
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def daily_sales(store: Store, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Units and price per item and day, the input of `ElasticityModel`.

    Columns `item, category, period, units, price`. Units come from `demand_series` (0 on a
    day without sales, missing on a day without any order). The price is revenue / units on
    a day with sales, else the promotion price on a promotion day, else the list price. A day
    on which the item was shown as out of stock (a `view` event whose properties hold
    `"in_stock": false`) has no price: its sales say nothing about demand, so it is skipped.
    """
    lines = load_order_lines(store) if lines is None else lines
    units = demand_series(lines, "item_id", "ts", "units", "D").rename(columns={"value": "units"})
    revenue = demand_series(lines, "item_id", "ts", "revenue", "D").rename(columns={"value": "revenue"})
    sales = units.merge(revenue, on=["id", "date"], how="left")
    sales["date"] = pd.to_datetime(sales["date"])
    listed = store.arrow("SELECT item_id AS id, price AS list_price FROM items").to_pandas()
    category = lines.drop_duplicates("item_id").set_index("item_id")["category"]
    promos = _promotion_days(store).rename(columns={"day": "date"})
    sales = sales.merge(listed, on="id", how="left").merge(
        promos[["id", "date", "promo_price"]], on=["id", "date"], how="left"
    )
    paid = np.where(sales["units"] > 0, sales["revenue"] / sales["units"].where(sales["units"] > 0), np.nan)
    price = pd.Series(paid, index=sales.index).fillna(sales["promo_price"]).fillna(sales["list_price"])
    out_of_stock = store.arrow(
        """SELECT DISTINCT item_id AS id, ts::DATE AS date, true AS out_of_stock FROM events
           WHERE type = 'view' AND item_id IS NOT NULL AND properties LIKE '%in_stock%'
             AND json_extract_string(properties, '$.in_stock') = 'false'"""
    ).to_pandas()
    out_of_stock["date"] = pd.to_datetime(out_of_stock["date"])
    flagged = sales[["id", "date"]].merge(out_of_stock, on=["id", "date"], how="left")["out_of_stock"]
    price = price.where(flagged.isna().to_numpy())
    return pd.DataFrame(
        {
            "item": sales["id"].astype(str),
            "category": sales["id"].map(category).fillna(NO_CATEGORY),
            "period": sales["date"],
            "units": sales["units"],
            "price": price,
        }
    )


def build_elasticities(
    store: Store, min_price_changes: int = 3, prior_sd: float | None = None, lines: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Price elasticity per item and per top-level category from the store's daily sales.

    Fits `cartwise.forecast.ElasticityModel` on `daily_sales` (daily, because promotions start
    and end on any weekday and a weekly average price would blur them) and replaces the table
    `elasticities(level, id, elasticity, std_error, observations, pooled)`: `level` is `item` or
    `category`; `pooled` marks items with fewer than `min_price_changes` days at another price,
    which get their category's estimate. `prior_sd` is the spread of elasticities within a
    category (None estimates it). Returns counts, the spread used, the dispersion and the
    category estimates.
    """
    started = time.perf_counter()
    sales = daily_sales(store, lines)
    model = ElasticityModel(min_price_changes=min_price_changes, prior_sd=prior_sd).fit(sales)
    items = model.items_.rename(columns={"item": "id"})
    cats = model.categories_.rename(columns={"category": "id"})
    table = pd.concat(
        [
            items.assign(level="item")[["level", "id", "elasticity", "std_error", "observations", "pooled"]],
            cats.assign(level="category", pooled=True)[
                ["level", "id", "elasticity", "std_error", "observations", "pooled"]
            ],
        ],
        ignore_index=True,
    )
    store.replace("elasticities", pa.Table.from_pandas(table, preserve_index=False))
    own = items[~items["pooled"]]
    return {
        "items": len(items),
        "items_own_estimate": len(own),
        "items_pooled": int(items["pooled"].sum()),
        "items_without_estimate": int(items["elasticity"].isna().sum()),
        "median_item_elasticity": _finite(float(own["elasticity"].median())) if len(own) else None,
        "spread_within_category": round(float(model.prior_sd_), 3),
        "dispersion": round(float(model.dispersion_), 3),
        "categories": [
            {k: _finite(v) for k, v in row.items()}
            for row in cats[["id", "elasticity", "std_error", "items"]].to_dict(orient="records")
        ],
        "seconds": round(time.perf_counter() - started, 2),
    }
