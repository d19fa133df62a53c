"""The per-variant sums of an experiment's analysis as the data stood at several cut times, from
one scan of exposures and purchases (the Experiments page's cumulative-lift timeline).

At a cut `c` the analysis sees the exposures and purchase lines before `c`
(`experiments.experiment_summary(..., until=c)`). The ascending cuts `c_0 < ... < c_{K-1}` split
time into buckets, bucket `j` holding times in `[c_{j-1}, c_j)` (bucket 0 everything before
`c_0`), so a time is seen at cut `k` exactly when its bucket is `<= k`:

- a user counts from the bucket of their first exposure `t0` (their first exposure before a cut
  is their first exposure overall once that is before the cut);
- a kept purchase line counts from the later of its own bucket and its user's;
- an order is in the pre-period when any of its kept lines is before `t0`. Such a line is seen at
  every cut the user is, so the flag is the same at every cut; an order counts once, from the
  first bucket any of its lines enters.

Each user's metric values at cut `k` are therefore running sums of per-bucket increments, and
each summed column at cut `k` (`sum`, `sum_squares`, the pre-period and product sums) is
`Σ_users f(V_k)` = `Σ_{buckets j <= k} Σ_users [f(V_j) - f(V_{j-1})]`: the terms telescope. SQL
groups the lines per (user, order, bucket) and per order (one scan of exposures and one of
events, as the single analysis does); numpy runs the per-user sums over buckets and adds up the
differences per (bucket, variant), then over buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow.compute as pc

from cartwise.store import Store

# The increments per (user, bucket), in the order of the query's value columns.
_VALUES = ("orders", "revenue", "units", "pre_orders", "pre_revenue", "pre_units")


def _bucket(column: str, k: int) -> str:
    # Index of the first cut after `column` (every time here is before the last cut).
    whens = " ".join(f"WHEN {column} < $cutoffs[{i + 1}] THEN {i}" for i in range(k - 1))
    return f"CASE {whens} ELSE {k - 1} END" if k > 1 else "0"


def _cuts_sql(days: float | None, pre_days: float, k: int) -> str:
    # Same filters as `experiments._user_metrics_sql` with `until` = the last cut. Users get an
    # integer key (`uid`) so that numpy sorts and compares numbers, not strings.
    window = "" if days is None else f"AND e.ts < x.t0 + to_microseconds(CAST({days * 86400e6} AS BIGINT))"
    pre = f"x.t0 - to_microseconds(CAST({pre_days * 86400e6} AS BIGINT))"
    return f"""
        WITH f AS (
            SELECT user_id, arg_min(variant, ts) AS variant, min(ts) AS t0
            FROM exposures WHERE experiment = $key AND ts < $last GROUP BY user_id),
        x AS MATERIALIZED (
            SELECT user_id, row_number() OVER () AS uid, variant,
                   coalesce(list_position($variants, variant), 0) - 1 AS v, t0, {_bucket("t0", k)} AS bu
            FROM f),
        g AS MATERIALIZED (
            -- Lines per (user, order, bucket): one row for most orders.
            SELECT x.uid, coalesce(e.order_id, e.event_id) AS order_key,
                   greatest({_bucket("e.ts", k)}, x.bu) AS b,
                   any_value(x.v) AS v, bool_or(e.ts < x.t0) AS has_pre,
                   sum(coalesce(e.revenue, 0)) AS revenue, sum(coalesce(e.quantity, 1)) AS units
            FROM events e JOIN x ON e.user_id = x.user_id
            WHERE e.type = 'purchase' AND e.ts >= {pre} {window} AND e.ts < $last
            GROUP BY ALL),
        o AS MATERIALIZED (
            SELECT uid, order_key, any_value(v) AS v, bool_or(has_pre) AS pre, min(b) AS entry,
                   count(*) AS parts, sum(revenue) AS revenue, sum(units) AS units
            FROM g GROUP BY uid, order_key)
        SELECT uid, v, entry AS b, pre, 1 AS orders, revenue, CAST(units AS DOUBLE) AS units, NULL AS variant
        FROM o WHERE parts = 1
        UNION ALL
        -- The few orders whose lines enter in several buckets: each part in its own bucket.
        SELECT g.uid, g.v, g.b, m.pre, CAST(g.b = m.entry AS INTEGER), g.revenue, CAST(g.units AS DOUBLE), NULL
        FROM g JOIN (SELECT uid, order_key, pre, entry FROM o WHERE parts > 1) m
             ON g.uid = m.uid AND g.order_key = m.order_key
        UNION ALL
        -- Users entering per (bucket, variant), with the variant's name.
        SELECT NULL, any_value(v), bu, NULL, count(*), NULL, NULL, variant FROM x GROUP BY bu, variant"""


def _terms(x: np.ndarray) -> dict[str, np.ndarray]:
    """Each summed column's per-user term, given the user's values `x` (rows, `_VALUES`)."""
    orders, revenue, units, pre_orders, pre_revenue, pre_units = x.T
    out: dict[str, np.ndarray] = {}
    for metric, value, pre in (
        ("conversion", (orders > 0).astype(np.float64), (pre_orders > 0).astype(np.float64)),
        ("revenue", revenue, pre_revenue),
        ("orders", orders, pre_orders),
        ("units", units, pre_units),
    ):
        out[f"{metric}_sum"] = value
        out[f"{metric}_sq"] = value * value
        out[f"{metric}_pre"] = pre
        out[f"{metric}_pre_sq"] = pre * pre
        out[f"{metric}_prod"] = value * pre
    out["rpo_product"] = revenue * orders
    return out


def cut_sums(
    store: Store,
    key: str,
    cutoffs: Sequence[datetime],
    variants: Sequence[str],
    *,
    days: float | None,
    pre_days: float,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per cut and variant (arrays of shape `(len(cutoffs), len(variants))`): `users` and each
    column of `experiments._columns()` as `experiment_summary(..., until=cut)` sums it, for the
    strictly ascending `cutoffs`; and the exposed variants that are not in `variants`."""
    k, nv = len(cutoffs), len(variants)
    params: dict[str, Any] = {"key": key, "last": cutoffs[-1], "variants": list(variants)}
    if k > 1:  # one cut needs no bucket bounds (DuckDB refuses an unused parameter)
        params["cutoffs"] = list(cutoffs)
    table = store.con.sql(_cuts_sql(days, pre_days, k), params=params).to_arrow_table()
    entering = table.filter(pc.is_valid(table["variant"]))
    unknown = sorted(set(entering["variant"].to_pylist()) - set(variants))
    users = np.zeros(k * nv)
    if unknown:
        return {"users": users.reshape(k, nv)}, unknown
    np.add.at(
        users,
        entering["b"].to_numpy() * nv + entering["v"].to_numpy(),
        entering["orders"].to_numpy().astype(np.float64),
    )
    sums: dict[str, np.ndarray] = {"users": users.reshape(k, nv).cumsum(axis=0)}
    lines = table.filter(pc.is_null(table["variant"]))
    # Rows sorted by (user, bucket) through one integer key.
    run_key = lines["uid"].to_numpy() * k + lines["b"].to_numpy()
    order = np.argsort(run_key)
    run_key = run_key[order]
    pre = lines["pre"].to_numpy(zero_copy_only=False)[order]
    increments = np.empty((len(order), len(_VALUES)))
    for i, column in enumerate(("orders", "revenue", "units")):
        value = lines[column].to_numpy().astype(np.float64)[order]
        increments[:, i] = np.where(pre, 0.0, value)
        increments[:, i + 3] = np.where(pre, value, 0.0)
    if len(order) == 0:
        for name in _terms(increments):
            sums[name] = np.zeros((k, nv))
        return sums, []
    # One run per (user, bucket), then each user's running values over their runs; a user has at
    # most `k` runs, so the running sums take at most k - 1 vector steps.
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = run_key[1:] != run_key[:-1]
    starts = np.flatnonzero(new_run)
    after = np.add.reduceat(increments, starts, axis=0)  # each run's own increments, for now
    run_user, run_bucket = np.divmod(run_key[starts], k)
    run_variant = lines["v"].to_numpy()[order][starts]
    first = np.ones(len(starts), dtype=bool)
    first[1:] = run_user[1:] != run_user[:-1]
    position = np.arange(len(starts)) - np.flatnonzero(first)[np.cumsum(first) - 1]
    for j in range(1, int(position.max()) + 1):
        at = np.flatnonzero(position == j)
        after[at] += after[at - 1]
    # A user's first run starts from nothing (every term of zero values is 0); later runs start
    # from the run before.
    later = np.flatnonzero(~first)
    now, then = _terms(after), _terms(after[later - 1])
    cell = run_bucket * nv + run_variant
    for name, value in now.items():
        change = value.copy()  # `value` may be a column of `after`
        change[later] -= then[name]
        added = np.bincount(cell, weights=change, minlength=k * nv)
        sums[name] = added.reshape(k, nv).cumsum(axis=0)
    return sums, []
