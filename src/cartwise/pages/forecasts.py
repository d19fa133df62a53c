"""What the Forecasts and Inventory pages and their API twins show.

Every function reads the tables written by `cartwise.pipelines.demand.build_forecasts`
(`demand`, `forecasts`, `forecast_models`, `reorder_plan`, `elasticities`) joined to `items`
for titles and categories, through the service's gate, and returns JSON-ready dictionaries:
NaN and infinities become None (a `days_of_cover` of None means the stock outlasts the
forecast horizon), dates are ISO 8601 (`YYYY-MM-DD`, the first day of the period).

Before forecasts are built, the readers answer with `ready: false` and a message saying how
to build them, so pages can show a helpful empty state instead of an error. Bad parameters
raise `InputError` naming the parameter and its valid values; unknown series raise
`NotFoundError` naming the id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from cartwise.core.errors import InputError, NotFoundError
from cartwise.core.records import json_rows, json_value
from cartwise.pages import dashboard
from cartwise.store import Store

if TYPE_CHECKING:
    from cartwise.service.service import Service

NO_FORECASTS = "No forecasts yet: run `cartwise demand build` (or `cartwise train`) to forecast demand."
NO_ELASTICITIES = "No price elasticities yet: run `cartwise demand build` (or `cartwise demand elasticity`) to estimate them."
FORECAST_TABLES: tuple[str, ...] = ("demand", "forecasts", "forecast_models")
LEVELS: tuple[str, ...] = ("item", "category")
MEASURES: tuple[str, ...] = ("units", "revenue")
SORTABLE: tuple[str, ...] = ("id", "title", "model", "mase", "smape", "coverage_80", "forecast_total")
"""Fields the series list sorts by; a leading `-` sorts descending."""
DEFAULT_SORT = "-forecast_total"
REORDER_SORTS: dict[str, str] = {
    "stockout_risk": "r.stockout_risk DESC NULLS LAST",
    "order_quantity": "r.order_quantity DESC NULLS LAST",
    "days_of_cover": "r.days_of_cover ASC NULLS LAST",
    "stock": "r.stock ASC NULLS LAST",
    "item_id": "r.item_id ASC",
}
"""Orders of the reorder list, each in its useful direction: riskiest, largest order, fewest
days of cover, least stock first; ties by item id."""
AT_RISK = 0.5
"""A stock-out risk at or above this counts an item as at risk."""
MAX_LIMIT = 500
MAX_ELASTICITY_LIMIT = 1000
PAGE_SERIES = 25
PAGE_REORDER = 50

# Titles and categories of items, one row per item even if `items` repeats an id.
_ITEM_META = "SELECT item_id AS id, any_value(title) AS title, any_value(category) AS category FROM items GROUP BY item_id"


# -- helpers ---------------------------------------------------------------------------------------
def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or []]
    return json_rows(names, cursor.fetchall())


def _ready(store: Store) -> bool:
    names = set(store.table_names())
    return all(t in names for t in FORECAST_TABLES)


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise InputError(f"`level` {level!r} is not a forecast level; use item or category.")
    return level


def _check_measure(store: Store, level: str, measure: str) -> str:
    if measure not in MEASURES:
        raise InputError(f"`measure` {measure!r} is not a demand measure; use units or revenue.")
    available = [
        r[0]
        for r in store.con.execute(
            "SELECT DISTINCT measure FROM forecast_models WHERE level = ? ORDER BY measure", [level]
        ).fetchall()
    ]
    if available and measure not in available:
        raise InputError(
            f"`measure` {measure!r} has no forecasts at level {level}; forecasts exist for: "
            f"{', '.join(available)}."
        )
    return measure


def _period(store: Store) -> dict[str, Any]:
    """The period of the series (`W` or `D`), the last complete period and the forecast span."""
    dates = store.con.execute(
        "SELECT DISTINCT date FROM forecasts WHERE level = 'item' ORDER BY date LIMIT 2"
    ).fetchall()
    step = (dates[1][0] - dates[0][0]).days if len(dates) == 2 else 7
    span = store.con.execute(
        "SELECT min(date), max(date), count(DISTINCT date) FROM forecasts WHERE level = 'item'"
    ).fetchall()[0]
    history = store.con.execute(
        "SELECT min(date), max(date), count(DISTINCT date) FROM demand WHERE complete"
    ).fetchall()[0]
    return {
        "freq": "D" if step == 1 else "W",
        "history_first": json_value(history[0]),
        "history_last": json_value(history[1]),
        "history_periods": int(history[2] or 0),
        "forecast_first": json_value(span[0]),
        "forecast_last": json_value(span[1]),
        "horizon": int(span[2] or 0),
    }


# -- the series list ---------------------------------------------------------------------------------
def _list(
    store: Store, *, level: str, measure: str, q: str | None, sort: str, limit: int, offset: int
) -> dict[str, Any]:
    _check_level(level)
    field, direction = dashboard.parse_sort(sort, SORTABLE, "mase")
    base: dict[str, Any] = {
        "level": level,
        "measure": measure,
        "q": q or "",
        "sort": sort,
        "limit": limit,
        "offset": offset,
    }
    if not _ready(store):
        return {**base, "ready": False, "message": NO_FORECASTS, "total": 0, "series": []}
    _check_measure(store, level, measure)
    where, params = ["m.level = ?", "m.measure = ?"], [level, measure]
    if q and q.strip():
        where.append(
            "(contains(lower(m.id), lower(?)) OR contains(lower(coalesce(meta.title, '')), lower(?)))"
        )
        params += [q.strip(), q.strip()]
    condition = " AND ".join(where)
    joins = f"""FROM forecast_models m
        LEFT JOIN ({_ITEM_META}) meta ON m.level = 'item' AND meta.id = m.id
        LEFT JOIN (SELECT id, sum(forecast) AS forecast_total FROM forecasts
                   WHERE level = ? AND measure = ? GROUP BY id) t ON t.id = m.id"""
    total = store.con.execute(
        f"SELECT count(*) {joins} WHERE {condition}", [level, measure, *params]
    ).fetchall()[0][0]
    order = "m.id" if field == "id" else "coalesce(meta.title, m.id)" if field == "title" else field
    cursor = store.con.execute(
        f"""SELECT m.level, m.id, m.measure, coalesce(meta.title, m.id) AS title, meta.category,
                   m.model, m.mase, m.smape, m.coverage_80, t.forecast_total
            {joins} WHERE {condition}
            ORDER BY {order} {direction} NULLS LAST, m.id LIMIT ? OFFSET ?""",
        [level, measure, *params, limit, offset],
    )
    return {**base, "ready": True, "message": None, "total": int(total), "series": _rows(cursor)}


def list_series(
    service: Service,
    *,
    level: str = "item",
    measure: str = "units",
    q: str | None = None,
    sort: str = DEFAULT_SORT,
    limit: int = PAGE_SERIES,
    offset: int = 0,
) -> dict[str, Any]:
    """Forecast series of `level` and `measure` whose id or item title contains `q`
    (case-insensitive), with the chosen model and its backtest MASE, sMAPE and 80% coverage.

    `forecast_total` is the sum of the forecast over the horizon. `sort` is a field of
    `SORTABLE`, prefixed with `-` for descending; missing values sort last, ties by id.
    `total` counts every match; `series` holds `limit` of them from `offset`.
    """
    dashboard.check_page(limit, offset, MAX_LIMIT)
    with service.read() as store:
        return _list(store, level=level, measure=measure, q=q, sort=sort, limit=limit, offset=offset)


# -- one series ---------------------------------------------------------------------------------------
def _detail(store: Store, level: str, series_id: str, measure: str) -> dict[str, Any]:
    _check_level(level)
    if not _ready(store):
        raise NotFoundError(NO_FORECASTS)
    _check_measure(store, level, measure)
    key = [level, series_id, measure]
    history = _rows(
        store.con.execute(
            "SELECT date, value, complete FROM demand WHERE level = ? AND id = ? AND measure = ? ORDER BY date",
            key,
        )
    )
    forecast = _rows(
        store.con.execute(
            "SELECT date, forecast, lo_80, hi_80, lo_95, hi_95 FROM forecasts "
            "WHERE level = ? AND id = ? AND measure = ? ORDER BY date",
            key,
        )
    )
    models = _rows(
        store.con.execute(
            "SELECT model AS name, mase, smape, coverage_80 FROM forecast_models "
            "WHERE level = ? AND id = ? AND measure = ?",
            key,
        )
    )
    meta: dict[str, Any] = {"title": series_id, "category": None}
    if level == "item":
        found = _rows(
            store.con.execute(f"SELECT title, category FROM ({_ITEM_META}) WHERE id = ?", [series_id])
        )
        if found:
            meta = {"title": found[0]["title"] or series_id, "category": found[0]["category"]}
    if not history and not forecast and not models:
        if level == "item" and meta["category"] is not None:
            hint = "it has no sales in the order history, so it has no demand series."
        else:
            hint = f"check the id (search with /api/v1/forecasts?level={level}&q=...)."
        raise NotFoundError(f"No {level} {series_id!r} among the forecast series; {hint}")
    elasticity = None
    if store.has_table("elasticities"):
        found = _rows(
            store.con.execute(
                "SELECT elasticity, std_error, observations, pooled FROM elasticities WHERE level = ? AND id = ?",
                [level, series_id],
            )
        )
        elasticity = found[0] if found else None
    reorder = None
    if level == "item" and store.has_table("reorder_plan"):
        found = _rows(
            store.con.execute(
                "SELECT stock, lead_time_demand, safety_stock, reorder_point, order_quantity, days_of_cover, "
                "stockout_risk, reorder FROM reorder_plan WHERE item_id = ?",
                [series_id],
            )
        )
        reorder = found[0] if found else None
    return {
        "level": level,
        "id": series_id,
        "measure": measure,
        **meta,
        "model": models[0] if models else None,
        "history": history,
        "forecast": forecast,
        "message": None if forecast else "This series was too short to forecast; it shows its history only.",
        "elasticity": elasticity,
        "reorder": reorder,
    }


def series_detail(service: Service, level: str, series_id: str, *, measure: str = "units") -> dict[str, Any]:
    """One series: its history (every period of `demand`, with `complete` false for partly
    covered periods), the forecast with 80% and 95% intervals, the chosen model and its
    backtest errors (MASE, sMAPE in %, 80% coverage), the price elasticity and, for items,
    the reorder plan row. Raises NotFoundError naming the id when there is no such series."""
    with service.read() as store:
        return _detail(store, level, series_id, measure)


# -- inventory ------------------------------------------------------------------------------------------
def _reorder(store: Store, *, only_reorder: bool, sort: str, limit: int, offset: int) -> dict[str, Any]:
    if sort not in REORDER_SORTS:
        raise InputError(
            f"`sort` {sort!r} is not a reorder-list order; use one of {', '.join(REORDER_SORTS)}."
        )
    base: dict[str, Any] = {"only_reorder": only_reorder, "sort": sort, "limit": limit, "offset": offset}
    if not store.has_table("reorder_plan"):
        return {**base, "ready": False, "message": NO_FORECASTS, "summary": None, "total": 0, "items": []}
    counts = store.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reorder), count(*) FILTER (WHERE stockout_risk >= ?), "
        "coalesce(sum(order_quantity) FILTER (WHERE reorder), 0) FROM reorder_plan",
        [AT_RISK],
    ).fetchall()[0]
    summary = {
        "items": int(counts[0]),
        "to_order": int(counts[1]),
        "at_risk": int(counts[2]),
        "order_units": float(counts[3]),
        "at_risk_threshold": AT_RISK,
    }
    condition = "r.reorder" if only_reorder else "TRUE"
    total = store.con.execute(f"SELECT count(*) FROM reorder_plan r WHERE {condition}").fetchall()[0][0]
    cursor = store.con.execute(
        f"""SELECT r.item_id, meta.title, meta.category, r.stock, r.lead_time_demand, r.safety_stock,
                   r.reorder_point, r.order_quantity, r.days_of_cover, r.stockout_risk, r.reorder
            FROM reorder_plan r LEFT JOIN ({_ITEM_META}) meta ON meta.id = r.item_id
            WHERE {condition}
            ORDER BY {REORDER_SORTS[sort]}, r.item_id LIMIT ? OFFSET ?""",
        [limit, offset],
    )
    return {
        **base,
        "ready": True,
        "message": None,
        "summary": summary,
        "total": int(total),
        "items": _rows(cursor),
    }


def reorder_list(
    service: Service,
    *,
    only_reorder: bool = False,
    sort: str = "stockout_risk",
    limit: int = PAGE_REORDER,
    offset: int = 0,
) -> dict[str, Any]:
    """The reorder plan with item titles and categories, in the order `sort` names (see
    `REORDER_SORTS`); `only_reorder` keeps the items to order now. `summary` counts every item
    of the plan: items, items to order, items at risk (stock-out risk ≥ 0.5) and units to order."""
    dashboard.check_page(limit, offset, MAX_LIMIT)
    with service.read() as store:
        return _reorder(store, only_reorder=only_reorder, sort=sort, limit=limit, offset=offset)


def _elasticities(store: Store, *, level: str, limit: int) -> dict[str, Any]:
    _check_level(level)
    base: dict[str, Any] = {"level": level, "limit": limit}
    if not store.has_table("elasticities"):
        return {**base, "ready": False, "message": NO_ELASTICITIES, "total": 0, "elasticities": []}
    total = store.con.execute("SELECT count(*) FROM elasticities WHERE level = ?", [level]).fetchall()[0][0]
    cursor = store.con.execute(
        f"""SELECT e.id, coalesce(meta.title, e.id) AS title, meta.category, e.elasticity, e.std_error,
                   e.observations, e.pooled
            FROM elasticities e LEFT JOIN ({_ITEM_META}) meta ON e.level = 'item' AND meta.id = e.id
            WHERE e.level = ?
            ORDER BY e.elasticity ASC NULLS LAST, e.id LIMIT ?""",
        [level, limit],
    )
    return {**base, "ready": True, "message": None, "total": int(total), "elasticities": _rows(cursor)}


def elasticities(service: Service, *, level: str = "category", limit: int = 200) -> dict[str, Any]:
    """Price elasticities of `level` (item or category), most price-sensitive (most negative)
    first: the % change in units for a 1% change in price, its standard error, the days
    observed and whether an item's estimate is pooled with its category's."""
    if not 1 <= limit <= MAX_ELASTICITY_LIMIT:
        raise InputError(f"`limit` must be between 1 and {MAX_ELASTICITY_LIMIT}; received {limit}.")
    with service.read() as store:
        return _elasticities(store, level=level, limit=limit)


# -- the pages ---------------------------------------------------------------------------------------------
def _accuracy(store: Store) -> list[dict[str, Any]]:
    """Per level and measure: series, models chosen and backtest errors: mean `mase`, `smape`
    and `coverage_80`; `median_mase` and `beats_naive` (the share of series with MASE below 1,
    i.e. more accurate than the seasonal naive forecast) over the series with a finite MASE
    (a history that never changes has none). The page shows MASE and coverage: an item that sells
    nothing in most weeks gets an sMAPE near 200% whatever the forecast."""
    summary = _rows(
        store.con.execute(
            """SELECT level, measure, count(*) AS series, avg(mase) AS mase, avg(smape) AS smape,
                      avg(coverage_80) AS coverage_80,
                      median(mase) FILTER (WHERE isfinite(mase)) AS median_mase,
                      avg((mase < 1)::DOUBLE) FILTER (WHERE isfinite(mase)) AS beats_naive
               FROM forecast_models GROUP BY level, measure
               ORDER BY level = 'category', measure = 'revenue'"""
        )
    )
    counts = store.con.execute(
        "SELECT level, measure, model, count(*) FROM forecast_models GROUP BY ALL ORDER BY 4 DESC, 3"
    ).fetchall()
    for row in summary:
        row["models"] = {m: int(n) for lv, ms, m, n in counts if (lv, ms) == (row["level"], row["measure"])}
    return summary


def forecasts_page(service: Service) -> dict[str, Any]:
    """The Forecasts page: the item series with the largest forecast first, the first of them
    in full (history, forecast, model) and the backtest accuracy per level and measure."""
    with service.read() as store:
        listing = _list(
            store, level="item", measure="units", q=None, sort=DEFAULT_SORT, limit=PAGE_SERIES, offset=0
        )
        if not listing["ready"]:
            return {
                "ready": False,
                "message": NO_FORECASTS,
                "period": None,
                "accuracy": [],
                "series": listing,
                "selected": None,
            }
        first = listing["series"][0]["id"] if listing["series"] else None
        return {
            "ready": True,
            "message": None,
            "period": _period(store),
            "accuracy": _accuracy(store),
            "series": listing,
            "selected": _detail(store, "item", first, "units") if first is not None else None,
        }


def inventory_page(service: Service) -> dict[str, Any]:
    """The Inventory page: the reorder plan riskiest first and the category price elasticities."""
    with service.read() as store:
        reorder = _reorder(store, only_reorder=False, sort="stockout_risk", limit=PAGE_REORDER, offset=0)
        cats = _elasticities(store, level="category", limit=200)
        period = _period(store) if _ready(store) else None
    return {
        "ready": reorder["ready"],
        "message": reorder["message"],
        "period": period,
        "reorder": reorder,
        "elasticities": cats,
    }


dashboard.register_page(
    dashboard.Page(
        "forecasts",
        "Forecasts",
        50,
        "Demand ahead, per item and category, with the model behind each forecast.",
        data=forecasts_page,
        template="forecasts.html",
    )
)
dashboard.register_page(
    dashboard.Page(
        "inventory",
        "Inventory",
        55,
        "What to reorder now, what may run out and how price moves demand.",
        data=inventory_page,
        template="inventory.html",
    )
)
