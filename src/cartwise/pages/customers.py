"""What the Customers pages and their API twins show: search, Customer 360, segments and lifetime value.

Every function reads the `profiles`, `clusters`, `churn_scores` and saved-segment tables
written by `cartwise.pipelines.profiles.refresh_profiles` and `cartwise.pipelines.churn.score_churn`,
through the service's gate, and returns JSON-ready dictionaries (no NaN: missing values are
None; times are ISO 8601 UTC with a trailing `Z`; money is rounded to cents).

Before profiles are built, the readers answer with `ready: false` and a message saying how
to build them, so pages can show a helpful empty state instead of an error.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from cartwise.core.errors import CartwiseError, InputError, ModelError, NotFoundError
from cartwise.core.records import json_rows, json_value
from cartwise.pages import dashboard
from cartwise.predict import fit_alive_model, rfm_summary
from cartwise.profiles import (
    HORIZON_WEEKS,
    MONEY_FIELDS,
    NO_PROFILES,
    RFM_SEGMENTS,
    SEGMENT_RULE_MAX_CHARS,
    check_segment_rule,
    list_segments,
    segment_count,
)
from cartwise.store import Store

if TYPE_CHECKING:
    from cartwise.service.service import Service

BUYER = "coalesce(orders, 0) >= 1"  # a buyer has an order; a visitor (profiled from events) has none
SORTABLE: tuple[str, ...] = (
    "user_id",
    "orders",
    "revenue",
    "avg_order_value",
    "days_since_last_order",
    "last_order_at",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "p_alive",
    "expected_purchases_12m",
    "clv_12m",
)
LIST_COLUMNS: tuple[str, ...] = (
    "user_id",
    "country",
    "orders",
    "revenue",
    "avg_order_value",
    "last_order_at",
    "days_since_last_order",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_segment",
    "p_alive",
    "expected_purchases_12m",
    "clv_12m",
    "cluster",
)
_MONEY = MONEY_FIELDS
MAX_LIMIT = 500
MAX_RULE_CHARS = SEGMENT_RULE_MAX_CHARS
MIN_CALIBRATION_DAYS = 28
MAX_FREQUENCY_GROUP = 7
ALIVE_BINS = 10
RFM_NAMES = frozenset(name for name, _, _ in RFM_SEGMENTS)


# -- helpers ---------------------------------------------------------------------------------------
def _json_value(name: str, value: Any) -> Any:
    """One value made JSON-ready; money columns (`_MONEY`) in cents."""
    return json_value(value, money=name in _MONEY)


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or []]
    return json_rows(names, cursor.fetchall(), money=_MONEY)


def _ready(store: Store) -> bool:
    return store.has_table("profiles")


def _require_profiles(store: Store) -> None:
    if not _ready(store):
        raise NotFoundError(NO_PROFILES)


def _as_of(store: Store) -> str | None:
    rows = store.con.execute("SELECT max(as_of), max(scored_at) FROM profiles").fetchall()
    return _json_value("as_of", rows[0][0]) if rows else None


# -- search and list -------------------------------------------------------------------------------
def _segment_filter(store: Store, segment: str) -> tuple[str, list[Any]]:
    if segment in RFM_NAMES:
        return "rfm_segment = ?", [segment]
    saved = store.con.execute("SELECT count(*) FROM segments WHERE name = ?", [segment]).fetchall()[0][0]
    if saved:
        return "user_id IN (SELECT user_id FROM segment_members WHERE segment = ?)", [segment]
    names = [r[0] for r in store.con.execute("SELECT name FROM segments ORDER BY name").fetchall()]
    known = ", ".join([*(n for n, _, _ in RFM_SEGMENTS), *names])
    raise InputError(
        f"`segment` {segment!r} is neither an RFM segment nor a saved segment; use one of: {known}."
    )


def _list(
    store: Store, *, q: str | None, segment: str | None, sort: str, limit: int, offset: int
) -> dict[str, Any]:
    field, direction = dashboard.parse_sort(sort, SORTABLE, "clv_12m")
    base: dict[str, Any] = {"q": q or "", "segment": segment, "sort": sort, "limit": limit, "offset": offset}
    if not _ready(store):
        return {
            **base,
            "ready": False,
            "message": NO_PROFILES,
            "total": 0,
            "buyers": 0,
            "visitors": 0,
            "customers": [],
        }
    where, params = ["TRUE"], []
    if q and q.strip():
        where.append("contains(lower(user_id), lower(?))")
        params.append(q.strip())
    if segment:
        clause, values = _segment_filter(store, segment)
        where.append(clause)
        params += values
    condition = " AND ".join(where)
    total, buyers = store.con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {BUYER}) FROM profiles WHERE {condition}", params
    ).fetchall()[0]
    cursor = store.con.execute(
        f"SELECT {', '.join(LIST_COLUMNS)} FROM profiles WHERE {condition} "
        f"ORDER BY {field} {direction} NULLS LAST, user_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return {
        **base,
        "ready": True,
        "message": None,
        "total": int(total),
        "buyers": int(buyers),
        "visitors": int(total) - int(buyers),
        "customers": _rows(cursor),
    }


def list_customers(
    service: Service,
    *,
    q: str | None = None,
    segment: str | None = None,
    sort: str = "-revenue",
    limit: int = 25,
    offset: int = 0,
) -> dict[str, Any]:
    """Customers whose id contains `q` (case-insensitive), in an RFM or saved `segment`, sorted.

    `sort` is a field of `SORTABLE`, prefixed with `-` for descending; missing values sort
    last and ties by user_id. `total` counts every match; `customers` holds `limit` of them
    from `offset`.
    """
    dashboard.check_page(limit, offset, MAX_LIMIT)
    with service.read() as store:
        return _list(store, q=q, segment=segment, sort=sort, limit=limit, offset=offset)


# -- Customer 360 ----------------------------------------------------------------------------------
def customer_detail(service: Service, user_id: str, *, events: int = 50, orders: int = 20) -> dict[str, Any]:
    """One customer: profile, RFM, predictions, churn scores, cluster, saved segments, orders, events.

    Raises NotFoundError naming the id when the customer is not in the profiles.
    """
    with service.read() as store:
        _require_profiles(store)
        found = _rows(store.con.execute("SELECT * FROM profiles WHERE user_id = ?", [user_id]))
        if not found:
            seen = store.con.execute("SELECT count(*) FROM events WHERE user_id = ?", [user_id]).fetchall()
            hint = (
                "they appeared after the profiles were built; run `cartwise profiles build`."
                if seen[0][0]
                else "check the id (search with /api/v1/customers?q=...)."
            )
            raise NotFoundError(f"No customer {user_id!r} in the profiles; {hint}")
        profile = found[0]
        churn = None
        if store.has_table("churn_scores"):
            scores = _rows(
                store.con.execute(
                    "SELECT p_churn, p_purchase, horizon_days, as_of, model_version, scored_at "
                    "FROM churn_scores WHERE user_id = ?",
                    [user_id],
                )
            )
            churn = scores[0] if scores else None
        cluster = None
        if profile.get("cluster") is not None and store.has_table("clusters"):
            described = _rows(
                store.con.execute(
                    "SELECT cluster, description FROM clusters WHERE cluster = ?", [profile["cluster"]]
                )
            )
            cluster = described[0] if described else {"cluster": profile["cluster"], "description": None}
        segments = _rows(
            store.con.execute(
                "SELECT s.name, s.rule, s.description FROM segment_members m "
                "JOIN segments s ON s.name = m.segment WHERE m.user_id = ? ORDER BY s.name",
                [user_id],
            )
        )
        recent_orders = _rows(
            store.con.execute(
                "SELECT order_id, ts, amount, lines, units FROM orders WHERE user_id = ? "
                "ORDER BY ts DESC, order_id LIMIT ?",
                [user_id, orders],
            )
        )
        timeline = _rows(
            store.con.execute(
                """SELECT e.ts, e.type, e.item_id, i.title, i.category, e.quantity, e.price,
                          e.revenue, e.order_id, e.session_id
                   FROM events e LEFT JOIN items i USING (item_id)
                   WHERE e.user_id = ? ORDER BY e.ts DESC, e.event_id LIMIT ?""",
                [user_id, events],
            )
        )
        event_count = store.con.execute("SELECT count(*) FROM events WHERE user_id = ?", [user_id]).fetchall()
        identities, merges = _identities(store, user_id)
    return {
        "user_id": user_id,
        "profile": profile,
        "rfm": {
            "recency_score": profile.get("recency_score"),
            "frequency_score": profile.get("frequency_score"),
            "monetary_score": profile.get("monetary_score"),
            "segment": profile.get("rfm_segment"),
        },
        "predictions": {
            "p_alive": profile.get("p_alive"),
            "expected_purchases_12m": profile.get("expected_purchases_12m"),
            "clv_12m": profile.get("clv_12m"),
            "horizon_weeks": HORIZON_WEEKS,
            "model_version": profile.get("model_version"),
            "scored_at": profile.get("scored_at"),
        },
        "churn": churn,
        "cluster": cluster,
        "segments": segments,
        "orders": recent_orders,
        "events": timeline,
        "events_total": int(event_count[0][0]),
        "identities": identities,
        "merges": merges,
    }


def _identities(store: Store, user_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ids linked to the customer (identity stitching) and every merge tried with its ids."""
    if not store.has_table("identities"):
        return [], []
    linked = _rows(
        store.con.execute(
            "SELECT alias_id, evidence, first_seen FROM identities WHERE customer_id = ? "
            "ORDER BY first_seen, alias_id",
            [user_id],
        )
    )
    ids = [user_id, *(row["alias_id"] for row in linked)]
    merges = _rows(
        store.con.execute(
            "SELECT merged_at, from_id, into_id, evidence, outcome, reason FROM merges "
            "WHERE from_id IN (SELECT unnest($1)) OR into_id IN (SELECT unnest($1)) ORDER BY merged_at",
            [ids],
        )
    )
    return linked, merges


# -- segments --------------------------------------------------------------------------------------
def _rfm(store: Store) -> dict[str, Any]:
    if not _ready(store):
        return {"ready": False, "message": NO_PROFILES, "cells": [], "segments": [], "totals": None}
    counted = store.con.execute(
        """SELECT recency_score, frequency_score, count(*), coalesce(sum(revenue), 0)
           FROM profiles WHERE recency_score IS NOT NULL AND frequency_score IS NOT NULL
           GROUP BY ALL"""
    ).fetchall()
    by_cell = {(int(r), int(f)): (int(n), float(v)) for r, f, n, v in counted}
    segment_of = {(r, f): name for name, rs, fs in reversed(RFM_SEGMENTS) for r in rs for f in fs}
    cells = [
        {
            "recency_score": r,
            "frequency_score": f,
            "customers": by_cell.get((r, f), (0, 0.0))[0],
            "revenue": round(by_cell.get((r, f), (0, 0.0))[1], 2),
            "segment": segment_of[(r, f)],
        }
        for r in range(1, 6)
        for f in range(1, 6)
    ]
    stats = {
        row[0]: row[1:]
        for row in store.con.execute(
            """SELECT rfm_segment, count(*), coalesce(sum(revenue), 0), avg(revenue), avg(clv_12m),
                      avg(p_alive), avg(days_since_last_order)
               FROM profiles WHERE rfm_segment IS NOT NULL GROUP BY rfm_segment"""
        ).fetchall()
    }
    buyers = sum(v[0] for v in stats.values())
    revenue = sum(float(v[1]) for v in stats.values())
    segments = []
    for name, rs, fs in RFM_SEGMENTS:
        n, rev, avg_rev, avg_clv, avg_alive, avg_days = stats.get(name, (0, 0.0, None, None, None, None))
        segments.append(
            {
                "segment": name,
                "recency_scores": list(rs),
                "frequency_scores": list(fs),
                "customers": int(n),
                "share": n / buyers if buyers else 0.0,
                "revenue": round(float(rev), 2),
                "revenue_share": float(rev) / revenue if revenue else 0.0,
                "avg_revenue": _json_value("revenue", avg_rev),
                "avg_clv_12m": _json_value("clv_12m", avg_clv),
                "avg_p_alive": _json_value("p_alive", avg_alive),
                "avg_days_since_last_order": _json_value("days", avg_days),
            }
        )
    customers = store.con.execute("SELECT count(*) FROM profiles").fetchall()[0][0]
    return {
        "ready": True,
        "message": None,
        "as_of": _as_of(store),
        "cells": cells,
        "segments": segments,
        "totals": {
            "customers": int(customers),
            "buyers": int(buyers),
            "without_orders": int(customers) - int(buyers),
            "revenue": round(revenue, 2),
        },
    }


def rfm_grid(service: Service) -> dict[str, Any]:
    """The 5 x 5 grid of recency by frequency scores (customers and revenue per cell, with the
    RFM segment each cell belongs to) and per-segment totals, over customers with an order."""
    with service.read() as store:
        return _rfm(store)


def _clusters(store: Store) -> dict[str, Any]:
    if not _ready(store):
        return {"ready": False, "message": NO_PROFILES, "clusters": []}
    if not store.has_table("clusters") or not store.count("clusters"):
        return {
            "ready": True,
            "message": "No clusters: profiles were built without them, or too few buyers to cluster.",
            "clusters": [],
        }
    table = store.arrow("SELECT * FROM clusters ORDER BY cluster").to_pylist()
    extra = {
        row[0]: row[1:]
        for row in store.con.execute(
            """SELECT cluster, avg(orders), avg(revenue), avg(avg_order_value), avg(days_since_last_order),
                      avg(clv_12m), avg(p_alive)
               FROM profiles WHERE cluster IS NOT NULL GROUP BY cluster"""
        ).fetchall()
    }
    out = []
    for row in table:
        means = extra.get(row["cluster"], (None,) * 6)
        out.append(
            {
                "cluster": int(row["cluster"]),
                "size": int(row["size"]),
                "share": _json_value("share", row["share"]),
                "revenue": _json_value("revenue", row["revenue"]),
                "description": row["description"],
                "avg_orders": _json_value("orders", means[0]),
                "avg_revenue": _json_value("revenue", means[1]),
                "avg_order_value": _json_value("avg_order_value", means[2]),
                "avg_days_since_last_order": _json_value("days", means[3]),
                "avg_clv_12m": _json_value("clv_12m", means[4]),
                "avg_p_alive": _json_value("p_alive", means[5]),
                "features_z": {k[2:]: _json_value(k, v) for k, v in row.items() if k.startswith("z_")},
            }
        )
    return {"ready": True, "message": None, "clusters": out}


def clusters(service: Service) -> dict[str, Any]:
    """Behavioural clusters: size, share, revenue, plain-words description, feature z-scores and
    the mean profile values of their members."""
    with service.read() as store:
        return _clusters(store)


def _saved(store: Store) -> dict[str, Any]:
    saved = list_segments(store)
    revenue = {
        name: (size, rev)
        for name, size, rev in store.con.execute(
            "SELECT segment, arg_max(size, computed_at), arg_max(revenue, computed_at) "
            "FROM segment_history GROUP BY segment"
        ).fetchall()
    }
    out = []
    for s in saved:
        out.append(
            {
                "name": s["name"],
                "rule": s["rule"],
                "description": s["description"],
                "created_at": _json_value("created_at", s["created_at"]),
                "size": int(s["size"]),
                "revenue": _json_value("revenue", revenue.get(s["name"], (None, None))[1]),
                "history": [
                    {"computed_at": _json_value("t", h["computed_at"]), "size": int(h["size"])}
                    for h in s["history"]
                ],
            }
        )
    return {"segments": out, "profiles_ready": _ready(store)}


def saved_segments(service: Service) -> dict[str, Any]:
    """Saved rule segments with their current size, latest revenue and size history."""
    with service.read() as store:
        return _saved(store)


def _count(store: Store, rule: str) -> int:
    _require_profiles(store)
    return segment_count(store, check_segment_rule(rule))


def count_rule(service: Service, rule: str) -> dict[str, Any]:
    """The builder's live count: customers matching `rule`, out of all profiled customers, and
    of them the buyers (an order or more) and the visitors (none), each out of its own total."""
    with service.read() as store:
        matched = _count(store, rule)
        matched_buyers = _count(store, f"({rule}) and orders >= 1") if matched else 0
        total, buyers = store.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {BUYER}) FROM profiles"
        ).fetchall()[0]
    return {
        "rule": rule,
        "count": matched,
        "total": int(total),
        "share": matched / total if total else 0.0,
        "buyers": matched_buyers,
        "buyers_total": int(buyers),
        "visitors": matched - matched_buyers,
        "visitors_total": int(total) - int(buyers),
    }


# -- lifetime value --------------------------------------------------------------------------------
def _histogram(values: np.ndarray, bins: int) -> list[dict[str, Any]]:
    """`bins` equal-width bars from min(0, smallest) to the 99th percentile; bar i counts
    lower <= clv < upper, and the last bar is open-ended (`upper` None) so a few very valuable
    customers do not squash the rest of the chart. Edges are rounded to cents."""
    if values.size == 0:
        return []
    low = math.floor(min(0.0, float(values.min())) * 100) / 100
    high = float(np.quantile(values, 0.99))
    if high <= low:
        high = low + 1.0
    width = (high - low) / (bins - 1)
    edges = [round(low + i * width, 2) for i in range(bins)]
    # np.histogram's bins are [a, b) but the last, closed one: with +inf as the last edge,
    # that closed bar is the open-ended one.
    counts, _ = np.histogram(values, bins=[*edges, math.inf])
    uppers: list[float | None] = [*edges[1:], None]
    return [
        {"lower": lower, "upper": upper, "customers": int(n)}
        for lower, upper, n in zip(edges, uppers, counts, strict=True)
    ]


_CALIBRATION_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}


def alive_bins(p_alive: np.ndarray, bought: np.ndarray, bins: int = ALIVE_BINS) -> list[dict[str, Any]]:
    """Customers in `bins` equal-width bins of P(alive) (0-0.1, ..., 0.9-1; 1 falls in the last):
    per bin the customers, their mean P(alive) and the share who bought again in the holdout.

    The repeat rate is a floor for the share alive (an active customer may not buy within a
    short holdout), so a bin whose repeat rate stays far below its P(alive), such as one-time
    buyers from long ago held certainly alive, shows a P(alive) that is too high.
    """
    index = np.minimum((p_alive * bins).astype(int), bins - 1)
    rows = []
    for i in range(bins):
        members = index == i
        n = int(members.sum())
        if n == 0:
            continue
        rows.append(
            {
                "lower": i / bins,
                "upper": (i + 1) / bins,
                "customers": n,
                "mean_p_alive": float(p_alive[members].mean()),
                "repeat_rate": float(bought[members].mean()),
            }
        )
    return rows


def calibration_holdout(orders: pd.DataFrame, holdout_days: int | None = None) -> dict[str, Any]:
    """The P(alive) model fitted on the orders up to a calibration end, checked on the holdout after it.

    The holdout is the last `holdout_days` days of orders (default a third of the span, at
    least 7 days); the calibration period must keep at least 28 days. Purchases are counted
    in calendar days, time in weeks (`rfm_summary`). The model is the one profiles use
    (`cartwise.predict.fit_alive_model`: MBG/NBD or Pareto/NBD), chosen and fitted on
    the calibration period alone. Customers are grouped by their number of repeat purchases in
    calibration (0, 1, ..., 6, 7+); for each group the mean actual purchases in the holdout is
    compared with the model's mean conditional expectation E[Y(t) | x, t_x, T] over the
    holdout length t (Fader, Hardie and Lee 2005, figure 4). `alive_bins` sets P(alive) at the
    calibration end beside the share of each bin who bought again in the holdout.
    """
    if orders.empty:
        raise ModelError("No orders yet: the calibration and holdout check needs order history.")
    days = pd.to_datetime(orders["ts"]).dt.normalize()
    first, last = days.min().date(), days.max().date()
    span = (last - first).days
    holdout = max(7, span // 3) if holdout_days is None else holdout_days
    if holdout_days is None and span - holdout < MIN_CALIBRATION_DAYS:
        raise ModelError(
            f"Orders span {span} days; the calibration and holdout check needs at least "
            f"{MIN_CALIBRATION_DAYS + 7} days of order history."
        )
    if holdout < 1 or span - holdout < MIN_CALIBRATION_DAYS:
        raise InputError(
            f"`holdout_days` {holdout} leaves {span - holdout} days of calibration out of {span} days of "
            f"orders; keep at least {MIN_CALIBRATION_DAYS} (use a holdout between 1 and {span - MIN_CALIBRATION_DAYS})."
        )
    calibration_end = last - timedelta(days=holdout)
    renamed = orders.rename(columns={"user_id": "customer_id", "ts": "date"})
    try:
        fit = fit_alive_model(
            renamed[pd.to_datetime(renamed["date"]).dt.normalize().dt.date <= calibration_end],
            calibration_end,
        )
    except ValueError as exc:
        raise ModelError(
            f"The P(alive) model could not be fitted on the calibration period ({exc})."
        ) from None
    model, penalizer = fit.model, fit.penalizer
    # The same calibration-period histories as the fit's, with the holdout counted after them.
    summary = rfm_summary(
        renamed,
        customer_col="customer_id",
        date_col="date",
        amount_col="amount",
        calibration_end=calibration_end,
        observation_end=last,
        time_unit="week",
    )
    c = summary.customers
    x, t_x, big_t = (c[k].to_numpy(np.float64) for k in ("frequency", "recency", "T"))
    horizon = summary.holdout_duration
    predicted = model.conditional_expected_purchases(horizon, x, t_x, big_t)
    alive = model.p_alive(x, t_x, big_t)
    frame = pd.DataFrame(
        {
            "group": np.minimum(x, MAX_FREQUENCY_GROUP),
            "actual": c["frequency_holdout"].to_numpy(),
            "predicted": predicted,
        }
    )
    grouped = frame.groupby("group").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    rows = [
        {
            "frequency": int(g),
            "label": f"{int(g)}+" if g == MAX_FREQUENCY_GROUP else str(int(g)),
            "customers": int(r.customers),
            "actual": float(r.actual),
            "predicted": float(r.predicted),
        }
        for g, r in grouped.iterrows()
    ]
    return {
        "calibration_start": first.isoformat(),
        "calibration_end": summary.calibration_end.isoformat(),
        "holdout_end": summary.observation_end.isoformat(),
        "holdout_days": holdout,
        "holdout_weeks": horizon,
        "customers": len(c),
        "model": fit.name,
        "params": model.params_,
        "penalizer": penalizer,
        "groups": rows,
        "alive_bins": alive_bins(alive, c["frequency_holdout"].to_numpy() > 0),
        "total_actual": int(frame["actual"].sum()),
        "total_predicted": float(frame["predicted"].sum()),
        "mean_absolute_error": float(np.mean(np.abs(frame["actual"] - frame["predicted"]))),
    }


def _value_part(store: Store, bins: int, top: int) -> dict[str, Any]:
    values = np.array(
        [r[0] for r in store.con.execute("SELECT clv_12m FROM profiles WHERE isfinite(clv_12m)").fetchall()],
        dtype=np.float64,
    )
    stats = store.con.execute(
        """SELECT count(*), sum(clv_12m), avg(clv_12m), median(clv_12m), quantile_cont(clv_12m, 0.9),
                  quantile_cont(clv_12m, 0.99), sum(expected_purchases_12m), avg(p_alive)
           FROM profiles WHERE isfinite(clv_12m)"""
    ).fetchall()[0]
    leaders = _rows(
        store.con.execute(
            """SELECT user_id, clv_12m, expected_purchases_12m, p_alive, orders, revenue, rfm_segment, country
               FROM profiles WHERE isfinite(clv_12m) ORDER BY clv_12m DESC, user_id LIMIT ?""",
            [top],
        )
    )
    # Money fields are rounded to cents, counts and probabilities are left as they are.
    kinds = ("count", "money", "money", "money", "money", "money", "count", "share")
    keys = ("customers", "total", "mean", "median", "p90", "p99", "expected_purchases", "avg_p_alive")
    summary = {
        k: _json_value("clv_12m" if kind == "money" else k, v)
        for k, kind, v in zip(keys, kinds, stats, strict=True)
    }
    return {
        "ready": True,
        "message": None,
        "as_of": _as_of(store),
        "horizon_weeks": HORIZON_WEEKS,
        "summary": summary,
        "histogram": _histogram(values, bins),
        "top_customers": leaders,
    }


def lifetime_value(
    service: Service, *, bins: int = 30, top: int = 20, holdout_days: int | None = None
) -> dict[str, Any]:
    """CLV over the next 52 weeks: distribution (`bins` bars), the `top` customers, and the
    calibration/holdout check of the P(alive) model (`calibration_holdout`), or its reason for absence."""
    if not 2 <= bins <= 200:
        raise InputError(f"must be between 2 and 200; received {bins}.", parameter="bins")
    if not 1 <= top <= MAX_LIMIT:
        raise InputError(f"must be between 1 and {MAX_LIMIT}; received {top}.", parameter="top")
    with service.read() as store:
        if not _ready(store):
            return {
                "ready": False,
                "message": NO_PROFILES,
                "summary": None,
                "histogram": [],
                "top_customers": [],
                "calibration": None,
                "calibration_message": NO_PROFILES,
            }
        part = _value_part(store, bins, top)
        # The fit is cached for the latest orders: a new order (or another store) refits it.
        fingerprint = store.con.execute("SELECT count(*), max(ts), sum(amount) FROM orders").fetchall()[0]
        key = (str(store.path), *fingerprint, holdout_days)
        calibration, reason = _CALIBRATION_CACHE.get(key), None
        orders = (
            None
            if calibration is not None
            # Orders after year 9999 (no calendar date holds them) cannot be placed in a holdout.
            else store.arrow(
                "SELECT user_id, ts, amount FROM orders WHERE ts <= ?", [datetime.max]
            ).to_pandas()
        )
    if orders is not None:
        # Fitted outside the gate so collection and other readers are not held up.
        try:
            calibration = calibration_holdout(orders, holdout_days)
        except InputError:
            raise
        except CartwiseError as exc:  # too little history, or no convergence
            reason = str(exc)
        else:
            if len(_CALIBRATION_CACHE) >= 8:  # a few holdout lengths over the latest orders
                _CALIBRATION_CACHE.clear()
            _CALIBRATION_CACHE[key] = calibration
    return {**part, "calibration": calibration, "calibration_message": reason}


# -- the page ---------------------------------------------------------------------------------------
def profile_fields(store: Store) -> list[dict[str, str]]:
    """Profile fields usable in segment rules, with their types (the builder's help)."""
    if not _ready(store):
        return []
    return [
        {"name": r[0], "type": r[1].lower()}
        for r in store.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'profiles' ORDER BY ordinal_position"
        ).fetchall()
    ]


def customers_page(service: Service) -> dict[str, Any]:
    """The Customers page: the first customers by revenue, RFM grid, clusters, saved segments,
    rule fields and lifetime value; each part is also served alone under /api/v1."""
    with service.read() as store:
        ready = _ready(store)
        listing = _list(store, q=None, segment=None, sort="-revenue", limit=25, offset=0)
        rfm = _rfm(store)
        cluster_part = _clusters(store)
        saved = _saved(store)
        fields = profile_fields(store)
        as_of = _as_of(store) if ready else None
    value = lifetime_value(service)
    return {
        "ready": ready,
        "message": None if ready else NO_PROFILES,
        "as_of": as_of,
        "customers": listing,
        "rfm": rfm,
        "clusters": cluster_part,
        "segments": saved["segments"],
        "fields": fields,
        "value": value,
    }


dashboard.register_page(
    dashboard.Page(
        "customers",
        "Customers",
        30,
        "Who buys, how much they are worth and who is slipping away.",
        data=customers_page,
        template="customers.html",
    )
)
