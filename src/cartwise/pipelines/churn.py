"""Churn and purchase propensity from the store: features at a cutoff, out-of-time evaluation, scores.

Time. A cutoff is a calendar day D (UTC). Features use only rows with ``ts`` before the end of
D (midnight after D, called the boundary); the outcome looks at the `horizon` days after it:

* target ``churn``: 1 when the customer places no order in the window, for the customers with
  an order on or before D;
* target ``purchase``: 1 when the customer places at least one order in the window, for the
  known customers seen on or before D (a `users` row created by then, an order, or an event
  under an id that `users` holds; anonymous visitors cannot be contacted and are left out).

`evaluate_churn` trains on a cutoff T1 and evaluates on T2 = T1 + horizon, so the model is
judged on a later period than the one it learned from; beside it, the same report scores
baselines that need no training: the R + F quintile score, 1 - P(alive) of the P(alive) model
(`cartwise.predict.fit_alive_model`: MBG/NBD or Pareto/NBD by holdout fit, on the orders up to T2),
and BG/NBD (also fitted on the orders up to T2) as 1 - P(alive) and as P(no order within the
horizon). `score_churn` trains on the
latest complete window and writes `churn_scores` for every customer as of the last data day.

Features (`FEATURES`; times in days from the boundary, money in the shop's currency):
recency_days, orders, revenue, avg_order_value, tenure_days (since first seen: sign-up, event
or order), days_since_first_order, mean_days_between_orders (NULL for a single order),
orders_30d, orders_90d, revenue_30d, revenue_90d, sessions_7d, sessions_30d, views_7d,
views_30d, add_to_carts_7d, add_to_carts_30d, days_since_last_visit, cart_abandonments
(sessions with an add-to-cart and no purchase), promo_share (share of purchase events flagged
`properties.promo`), category_breadth (distinct top-level categories bought) and
acquisition_channel (categorical). Customers without an order have NULL order features.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cartwise.core.errors import CartwiseError, InputError, ModelError
from cartwise.evaluation.classification import classification_report
from cartwise.pipelines.choices import TARGETS, Target
from cartwise.predict import (
    MIN_CLASS_COUNT,
    PropensityModel,
    bgnbd_p_no_purchase,
    fit_alive_model,
    fit_bgnbd,
    rfm_quintile_score,
    rfm_summary,
)
from cartwise.store import Store

MODEL_VERSION = "lightgbm-isotonic/1"
CATEGORICAL = ("acquisition_channel",)

FEATURES: tuple[str, ...] = (
    "recency_days",
    "orders",
    "revenue",
    "avg_order_value",
    "tenure_days",
    "days_since_first_order",
    "mean_days_between_orders",
    "orders_30d",
    "orders_90d",
    "revenue_30d",
    "revenue_90d",
    "sessions_7d",
    "sessions_30d",
    "views_7d",
    "views_30d",
    "add_to_carts_7d",
    "add_to_carts_30d",
    "days_since_last_visit",
    "cart_abandonments",
    "promo_share",
    "category_breadth",
    "acquisition_channel",
)

_DAY_US = 86_400e6

# $1 is the boundary (end of the cutoff day). Every table is filtered to ts < $1 before
# anything is computed, which is the whole no-leakage guarantee.
_FEATURES_SQL = """
WITH o AS (SELECT order_id, user_id, ts, amount FROM orders WHERE ts < $1),
e AS (SELECT user_id, ts, session_id, type, properties FROM events WHERE ts < $1),
u AS (SELECT user_id, any_value(created_at) AS created_at, any_value(acquisition_channel) AS acquisition_channel
      FROM users WHERE created_at IS NULL OR created_at < $1 GROUP BY user_id),
population AS ({population}),
ord AS (
  SELECT user_id, count(*) AS orders, sum(amount) AS revenue, min(ts) AS first_order, max(ts) AS last_order,
         count(*) FILTER (WHERE ts >= $1 - INTERVAL 30 DAY) AS orders_30d,
         count(*) FILTER (WHERE ts >= $1 - INTERVAL 90 DAY) AS orders_90d,
         coalesce(sum(amount) FILTER (WHERE ts >= $1 - INTERVAL 30 DAY), 0) AS revenue_30d,
         coalesce(sum(amount) FILTER (WHERE ts >= $1 - INTERVAL 90 DAY), 0) AS revenue_90d
  FROM o GROUP BY user_id),
act AS (
  SELECT user_id, min(ts) AS first_seen, max(ts) AS last_seen,
         count(DISTINCT session_id) FILTER (WHERE ts >= $1 - INTERVAL 7 DAY) AS sessions_7d,
         count(DISTINCT session_id) FILTER (WHERE ts >= $1 - INTERVAL 30 DAY) AS sessions_30d,
         count(*) FILTER (WHERE type = 'view' AND ts >= $1 - INTERVAL 7 DAY) AS views_7d,
         count(*) FILTER (WHERE type = 'view' AND ts >= $1 - INTERVAL 30 DAY) AS views_30d,
         count(*) FILTER (WHERE type = 'add_to_cart' AND ts >= $1 - INTERVAL 7 DAY) AS add_to_carts_7d,
         count(*) FILTER (WHERE type = 'add_to_cart' AND ts >= $1 - INTERVAL 30 DAY) AS add_to_carts_30d,
         count(*) FILTER (WHERE type = 'purchase') AS purchase_events,
         count(*) FILTER (WHERE type = 'purchase' AND (properties->>'promo') = 'true') AS promo_purchases
  FROM e GROUP BY user_id),
abandon AS (
  SELECT user_id, count(*) AS cart_abandonments FROM (
    SELECT user_id, session_id FROM e WHERE session_id IS NOT NULL GROUP BY user_id, session_id
    HAVING bool_or(type = 'add_to_cart') AND NOT bool_or(type = 'purchase'))
  GROUP BY user_id),
breadth AS (
  SELECT o.user_id, count(DISTINCT split_part(i.category, ' > ', 1)) AS category_breadth
  FROM o JOIN order_lines l USING (order_id) JOIN items i USING (item_id)
  WHERE i.category IS NOT NULL GROUP BY o.user_id)
SELECT p.user_id,
       (epoch_us($1) - epoch_us(ord.last_order)) / {day} AS recency_days,
       coalesce(ord.orders, 0) AS orders,
       coalesce(ord.revenue, 0) AS revenue,
       ord.revenue / ord.orders AS avg_order_value,
       (epoch_us($1) - epoch_us(least(ord.first_order, act.first_seen, u.created_at))) / {day} AS tenure_days,
       (epoch_us($1) - epoch_us(ord.first_order)) / {day} AS days_since_first_order,
       CASE WHEN ord.orders > 1
            THEN (epoch_us(ord.last_order) - epoch_us(ord.first_order)) / {day} / (ord.orders - 1) END
         AS mean_days_between_orders,
       coalesce(ord.orders_30d, 0) AS orders_30d,
       coalesce(ord.orders_90d, 0) AS orders_90d,
       coalesce(ord.revenue_30d, 0) AS revenue_30d,
       coalesce(ord.revenue_90d, 0) AS revenue_90d,
       coalesce(act.sessions_7d, 0) AS sessions_7d,
       coalesce(act.sessions_30d, 0) AS sessions_30d,
       coalesce(act.views_7d, 0) AS views_7d,
       coalesce(act.views_30d, 0) AS views_30d,
       coalesce(act.add_to_carts_7d, 0) AS add_to_carts_7d,
       coalesce(act.add_to_carts_30d, 0) AS add_to_carts_30d,
       (epoch_us($1) - epoch_us(act.last_seen)) / {day} AS days_since_last_visit,
       coalesce(abandon.cart_abandonments, 0) AS cart_abandonments,
       act.promo_purchases / nullif(act.purchase_events, 0) AS promo_share,
       coalesce(breadth.category_breadth, 0) AS category_breadth,
       u.acquisition_channel
FROM population p
LEFT JOIN ord USING (user_id) LEFT JOIN act USING (user_id) LEFT JOIN u USING (user_id)
LEFT JOIN abandon USING (user_id) LEFT JOIN breadth USING (user_id)
ORDER BY p.user_id
"""

_POPULATION_SQL = {
    "churn": "SELECT DISTINCT user_id FROM o",
    "purchase": (
        "SELECT user_id FROM o UNION SELECT user_id FROM u WHERE created_at IS NOT NULL "
        "UNION SELECT DISTINCT e.user_id FROM e JOIN u USING (user_id)"
    ),
}


def _boundary(cutoff: date) -> datetime:
    """The end of the cutoff day: features see ts < boundary."""
    return datetime(cutoff.year, cutoff.month, cutoff.day) + timedelta(days=1)


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise InputError(f"must be 'churn' or 'purchase'; received {target!r}.", parameter="target")


def _check_horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon <= 0:
        raise InputError(
            f"must be a whole number of days > 0; received {horizon!r}. Use e.g. 30.", parameter="horizon"
        )
    return int(horizon)


def parse_cutoff(value: str | date | datetime) -> date:
    """A cutoff day from a date, a datetime (its day) or YYYY-MM-DD text; InputError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(
            f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2025-06-30.", parameter="cutoff"
        ) from None


def last_data_day(store: Store) -> date:
    """The last day with an order or event (UTC); InputError when the store has neither."""
    row = store.con.execute(
        "SELECT greatest((SELECT max(ts) FROM orders), (SELECT max(ts) FROM events))"
    ).fetchall()[0]
    if row[0] is None:
        raise InputError("The store has no orders or events; load data (or `cartwise demo`) first.")
    return row[0].date() if isinstance(row[0], datetime) else pd.Timestamp(row[0]).date()


def build_features(store: Store, cutoff: str | date | datetime, target: Target = "churn") -> pd.DataFrame:
    """Features of every eligible customer as of the end of day `cutoff`, one row per customer.

    Returns a frame indexed by `user_id` (sorted) with the columns `FEATURES`; the population
    depends on `target` (see the module docstring). Reads only rows with ts before the end of
    the cutoff day, so later events never change the result.
    """
    _check_target(target)
    day = parse_cutoff(cutoff)
    sql = _FEATURES_SQL.format(population=_POPULATION_SQL[target], day=_DAY_US)
    frame = store.arrow(sql, [_boundary(day)]).to_pandas()
    frame = frame.set_index("user_id")
    for column in FEATURES:
        if column not in CATEGORICAL:
            frame[column] = frame[column].astype(np.float64)
    return frame[list(FEATURES)]


def build_labels(
    store: Store, cutoff: str | date | datetime, horizon: int, user_ids: pd.Index, target: Target = "churn"
) -> pd.Series:
    """Outcome of each of `user_ids` over the `horizon` days after day `cutoff` (1/0, int).

    churn: 1 = no order in the window; purchase: 1 = at least one order in it.
    """
    _check_target(target)
    days = _check_horizon(horizon)
    start = _boundary(parse_cutoff(cutoff))
    buyers = store.arrow(
        "SELECT DISTINCT user_id FROM orders WHERE ts >= $1 AND ts < $2",
        [start, start + timedelta(days=days)],
    ).column("user_id")
    bought = user_ids.isin(pd.Index(buyers.to_pylist()))
    outcome = ~bought if target == "churn" else bought
    return pd.Series(outcome.astype(np.int64), index=user_ids, name=target)


def _check_classes(labels: pd.Series, target: str, cutoff: date, horizon: int, role: str) -> None:
    ones = int(labels.sum())
    zeros = len(labels) - ones
    name = {"churn": ("churned", "bought again"), "purchase": ("bought", "did not buy")}[target]
    if min(ones, zeros) < MIN_CLASS_COUNT:
        raise ModelError(
            f"Too few customers of one outcome at the {role} cutoff {cutoff}: of {len(labels):,} customers "
            f"{ones:,} {name[0]} and {zeros:,} {name[1]} in the {horizon} days after it; at least "
            f"{MIN_CLASS_COUNT} of each are needed. Choose another `cutoff` or `horizon`, or load more history."
        )


def _window(store: Store, horizon: int, cutoff: str | date | datetime | None) -> tuple[date, date, date]:
    """(train cutoff, evaluation cutoff, last data day), checked against the data."""
    last = last_data_day(store)
    evaluation = last - timedelta(days=horizon) if cutoff is None else parse_cutoff(cutoff)
    if evaluation + timedelta(days=horizon) > last:
        raise InputError(
            f"{evaluation} plus the {horizon}-day horizon runs past the last data day {last}, so "
            f"outcomes are incomplete; choose a cutoff on or before {last - timedelta(days=horizon)} or a shorter horizon.",
            parameter="cutoff",
        )
    return evaluation - timedelta(days=horizon), evaluation, last


def _first_order_day(store: Store) -> date | None:
    first = store.con.execute("SELECT min(ts) FROM orders").fetchall()[0][0]
    return None if first is None else pd.Timestamp(first).date()


def _training_set(
    store: Store, cutoff: date, horizon: int, target: Target, role: str
) -> tuple[pd.DataFrame, pd.Series]:
    features = build_features(store, cutoff, target)
    if features.empty:
        first = _first_order_day(store)
        hint = (
            f"the first order is on {first}; choose a `cutoff` on or after {first + timedelta(days=horizon)}"
            if first
            else "the store has no orders; load orders or purchase events first"
        )
        raise InputError(
            f"No customer has history on or before the {role} cutoff {cutoff} "
            f"(`cutoff` minus the {horizon}-day horizon for training); {hint}."
        )
    labels = build_labels(store, cutoff, horizon, features.index, target)
    _check_classes(labels, target, cutoff, horizon, role)
    return features, labels


def _orders_to(store: Store, cutoff: date) -> pd.DataFrame:
    return store.arrow(
        "SELECT user_id, ts, amount FROM orders WHERE ts < $1", [_boundary(cutoff)]
    ).to_pandas()


def _alive_scores(store: Store, cutoff: date, user_ids: pd.Index) -> tuple[np.ndarray, str]:
    """(P(alive), model name) per customer from the P(alive) model fitted on orders up to `cutoff`.

    Customers without an order get P(alive) = 0 (treated as lapsed).
    """
    orders = _orders_to(store, cutoff).rename(columns={"user_id": "customer_id", "ts": "date"})
    fit = fit_alive_model(orders, cutoff, time_unit="day")
    return fit.p_alive().reindex(user_ids).fillna(0.0).to_numpy(), fit.name


def _bgnbd_scores(
    store: Store, cutoff: date, horizon: int, user_ids: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """(P(alive), P(no order in the horizon)) per customer from BG/NBD fitted on orders up to `cutoff`.

    Customers without an order get P(alive) = 0 and P(no order) = 1 (treated as lapsed).
    """
    orders = _orders_to(store, cutoff)
    summary = rfm_summary(
        orders,
        customer_col="user_id",
        date_col="ts",
        amount_col="amount",
        calibration_end=cutoff,
        observation_end=cutoff,
        time_unit="day",
    ).customers
    x, t_x, big_t = summary["frequency"], summary["recency"], summary["T"]
    model, _, quiet = fit_bgnbd(
        x, t_x, big_t, lambda fitted: bgnbd_p_no_purchase(fitted, horizon, x, t_x, big_t)
    )
    alive = pd.Series(model.p_alive(x, t_x, big_t), index=summary["customer_id"].astype(str))
    quiet_s = pd.Series(quiet, index=alive.index)
    return (
        alive.reindex(user_ids).fillna(0.0).to_numpy(),
        np.clip(quiet_s.reindex(user_ids).fillna(1.0).to_numpy(), 0.0, 1.0),
    )


def evaluate_churn(
    store: Store,
    *,
    horizon: int = 30,
    cutoff: str | date | datetime | None = None,
    target: Target = "churn",
    model: PropensityModel | None = None,
) -> dict[str, Any]:
    """Train at `cutoff` - `horizon`, evaluate at `cutoff`, against the RFM and BG/NBD baselines.

    `cutoff` is the evaluation day (default: the last data day minus `horizon`, the latest day
    whose window is complete). Returns a JSON-ready dict: target, horizon_days, train and test
    (cutoff, customers, positives, base_rate), scores (one `classification_report` per scorer:
    `model`; `rfm` = R + F quintile score, a ranking only; `p_alive` = 1 - P(alive) for churn,
    P(alive) for purchase, from the P(alive) model named in `p_alive_model` (mbgnbd or pareto);
    `bgnbd_p_alive` = the same from BG/NBD, which keeps every one-time buyer alive;
    `bgnbd_horizon` = BG/NBD's probability of the outcome within the horizon), p_alive_model,
    feature_importance (gain and share per feature, largest first), model_version and seconds
    (features, fit, score, baselines).

    Raises InputError for a bad horizon, target or cutoff (outcomes incomplete, no history before
    the training cutoff) and ModelError when either outcome has too few customers.
    """
    _check_target(target)
    days = _check_horizon(horizon)
    train_day, test_day, _ = _window(store, days, cutoff)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    X_train, y_train = _training_set(store, train_day, days, target, "training")
    X_test, y_test = _training_set(store, test_day, days, target, "evaluation")
    seconds["features"] = time.perf_counter() - started

    started = time.perf_counter()
    fitted = (model or PropensityModel()).fit(X_train, y_train)
    seconds["fit"] = time.perf_counter() - started
    started = time.perf_counter()
    p_model = fitted.predict_proba(X_test)[:, 1]
    seconds["score"] = time.perf_counter() - started

    started = time.perf_counter()
    churn = target == "churn"
    rfm = rfm_quintile_score(X_test["recency_days"], X_test["orders"])
    scores: dict[str, Any] = {
        "model": classification_report(y_test, p_model, probability=True),
        "rfm": classification_report(y_test, -rfm if churn else rfm, probability=False),
    }
    alive_model: str | None = None
    try:
        alive, alive_model = _alive_scores(store, test_day, X_test.index)
        scores["p_alive"] = classification_report(y_test, 1 - alive if churn else alive, probability=True)
    except CartwiseError as exc:
        scores["p_alive"] = {"error": str(exc)}
    try:
        alive, quiet = _bgnbd_scores(store, test_day, days, X_test.index)
        scores["bgnbd_p_alive"] = classification_report(
            y_test, 1 - alive if churn else alive, probability=True
        )
        scores["bgnbd_horizon"] = classification_report(
            y_test, quiet if churn else 1 - quiet, probability=True
        )
    except CartwiseError as exc:
        scores["bgnbd_p_alive"] = scores["bgnbd_horizon"] = {"error": str(exc)}
    seconds["baselines"] = time.perf_counter() - started

    gains = fitted.feature_importances_
    total = float(gains.sum()) or 1.0
    return {
        "target": target,
        "horizon_days": days,
        "train": _set_summary(train_day, y_train),
        "test": _set_summary(test_day, y_test),
        "scores": scores,
        "p_alive_model": alive_model,
        "feature_importance": [
            {"feature": name, "gain": float(gain), "share": float(gain) / total}
            for name, gain in gains.items()
        ],
        "model_version": MODEL_VERSION,
        "seconds": seconds,
    }


def _set_summary(cutoff: date, labels: pd.Series) -> dict[str, Any]:
    return {
        "cutoff": cutoff.isoformat(),
        "customers": len(labels),
        "positives": int(labels.sum()),
        "base_rate": float(labels.mean()),
    }


def score_churn(store: Store, *, horizon: int = 30, model: PropensityModel | None = None) -> dict[str, Any]:
    """Score every customer as of the last data day and replace the `churn_scores` table.

    For each target a model is trained on the latest complete window (features at the last day
    minus `horizon`, outcomes in the `horizon` days up to the last day) and applied to the
    features at the last day. `churn_scores` holds one row per known customer: user_id,
    p_churn (no order in the next `horizon` days; NULL for customers who never ordered),
    p_purchase (at least one order in that time), horizon_days, as_of (the last data day),
    model_version and scored_at (UTC). The two probabilities come from two models fitted on
    different populations, so for a buyer they add up to about, not exactly, 1.
    Returns a summary: customers, as_of, train_cutoff, horizon_days, mean probabilities and
    the training base rates.
    """
    days = _check_horizon(horizon)
    last = last_data_day(store)
    train_day = last - timedelta(days=days)
    predictions: dict[str, pd.Series] = {}
    base_rates: dict[str, float] = {}
    targets: tuple[Target, ...] = ("churn", "purchase")
    for target in targets:
        X_train, y_train = _training_set(store, train_day, days, target, "training")
        fitted = (model or PropensityModel()).fit(X_train, y_train)
        X_now = build_features(store, last, target)
        predictions[target] = pd.Series(fitted.predict_proba(X_now)[:, 1], index=X_now.index)
        base_rates[target] = float(y_train.mean())
    users = predictions["purchase"].index.union(predictions["churn"].index)
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    table = pa.table(
        {
            "user_id": pa.array(users.astype(str).to_list(), pa.string()),
            "p_churn": pa.array(
                predictions["churn"].reindex(users).to_numpy(), pa.float64(), from_pandas=True
            ),
            "p_purchase": pa.array(
                predictions["purchase"].reindex(users).to_numpy(), pa.float64(), from_pandas=True
            ),
            "horizon_days": pa.array(np.full(len(users), days), pa.int64()),
            "as_of": pa.array([last] * len(users), pa.date32()),
            "model_version": pa.array([MODEL_VERSION] * len(users), pa.string()),
            "scored_at": pa.array([scored_at] * len(users), pa.timestamp("us")),
        }
    )
    with store.transaction():
        store.replace("churn_scores", table)
    return {
        "customers": len(users),
        "as_of": last.isoformat(),
        "train_cutoff": train_day.isoformat(),
        "horizon_days": days,
        "mean_p_churn": float(predictions["churn"].mean()),
        "mean_p_purchase": float(predictions["purchase"].mean()),
        "train_base_rate": base_rates,
        "model_version": MODEL_VERSION,
        "table": "churn_scores",
    }


__all__ = [
    "FEATURES",
    "MODEL_VERSION",
    "TARGETS",
    "Target",
    "build_features",
    "build_labels",
    "evaluate_churn",
    "last_data_day",
    "parse_cutoff",
    "score_churn",
]
