"""Refreshing customer profiles: base fields, RFM, CLV predictions, clusters and saved segments.

`refresh_profiles` materialises three tables, replaced on each run:
- `profiles`: one row per customer (see cartwise.profiles) plus `p_alive`,
  `expected_purchases_12m`, `clv_12m` (the P(alive) model of `cartwise.predict.fit_alive_model`,
  MBG/NBD or Pareto/NBD by holdout fit, + Gamma-Gamma, fitted on all orders up to `as_of`,
  weekly time, 52-week horizon, 10% a year discount), `p_churn` and
  `p_purchase` (from the latest `churn_scores`, when scored), `uplift` (from `uplift_scores`,
  written by `cartwise uplift fit`, when scored), `cluster`, `model_version`
  and `scored_at`;
- `clusters`: one row per behavioural cluster with its size, revenue and description;
and recomputes the members of every saved segment, appending its size to
`segment_history`, and counts every saved audience at `as_of` (`audience_sizes`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cartwise.core.errors import CartwiseError, ConfigError, NotFoundError
from cartwise.pipelines.audiences import refresh_audiences
from cartwise.profiles import (
    HORIZON_WEEKS,
    MONEY_FIELDS,
    cluster_customers,
    rule_filter,
    segment_count,
)
from cartwise.profiles import list_segments as list_segments  # the CLI reads segments through here
from cartwise.store import Store

ANNUAL_DISCOUNT = 0.10
MODEL_VERSION = "{model}+gammagamma/2"
"""`model_version` of scored profiles; `{model}` is the P(alive) model chosen (mbgnbd or pareto)."""


def _predictions(orders: pd.DataFrame, as_of: datetime) -> tuple[pd.DataFrame, dict[str, Any]]:
    """p_alive, expected purchases and discounted CLV over 52 weeks for every customer with an order."""
    # The models (SciPy) and the profile builder (Ibis) load here and in `refresh_profiles`,
    # so commands that only read profiles or segments do not pay for them.
    from cartwise.predict import GammaGamma, customer_lifetime_value, fit_alive_model

    fit = fit_alive_model(
        orders.rename(columns={"user_id": "customer_id", "ts": "date"}), as_of.date(), time_unit="week"
    )
    customers = fit.summary.customers
    purchases = fit.model
    x, t_x, big_t = fit.arrays()
    expected = purchases.conditional_expected_purchases(HORIZON_WEEKS, x, t_x, big_t)
    repeaters = (customers["frequency"] > 0) & (customers["monetary_value"] > 0)
    spend = GammaGamma().fit(
        customers.loc[repeaters, "monetary_count"], customers.loc[repeaters, "monetary_value"]
    )
    weekly = (1 + ANNUAL_DISCOUNT) ** (7 / 365.25) - 1
    frame = pd.DataFrame(
        {
            "user_id": customers["customer_id"].astype(str).to_numpy(),
            "p_alive": purchases.p_alive(x, t_x, big_t),
            "expected_purchases_12m": expected,
            "clv_12m": customer_lifetime_value(
                purchases,
                spend,
                x,
                t_x,
                big_t,
                customers["monetary_value"].fillna(0.0),
                horizon=HORIZON_WEEKS,
                discount_rate=weekly,
                monetary_count=customers["monetary_count"],
            ),
        }
    )
    report = {
        **fit.report(),
        "gamma_gamma": spend.params_,
        "customers": len(frame),
    }
    return frame, report


def refresh_profiles(store: Store, as_of: datetime | None = None, *, clusters: bool = True) -> dict[str, Any]:
    """Rebuild profiles, predictions, clusters and segment memberships; returns a report."""
    from cartwise.profiles import build_profiles

    profiles = build_profiles(store.ibis(), as_of)
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    report: dict[str, Any] = {"customers": len(profiles)}
    if profiles.empty:
        raise NotFoundError("The store has no customers yet; load events, orders or users first.")
    as_of_value = pd.Timestamp(profiles["as_of"].iloc[0]).to_pydatetime()
    orders = store.arrow("SELECT user_id, ts, amount FROM orders WHERE ts <= ?", [as_of_value]).to_pandas()
    try:
        predictions, report["clv"] = _predictions(orders, as_of_value)
        profiles = profiles.merge(predictions, on="user_id", how="left")
        profiles["model_version"] = MODEL_VERSION.format(model=report["clv"]["model"])
    except (CartwiseError, ValueError) as exc:
        # Too few repeat buyers, or no convergence: profiles still refresh, without predictions.
        for column in ("p_alive", "expected_purchases_12m", "clv_12m"):
            profiles[column] = np.nan
        profiles["model_version"] = None
        report["clv_error"] = str(exc)
    if store.has_table("churn_scores"):
        # Scores from `cartwise churn score` (or `cartwise train`) join the profile as fields.
        churn = store.arrow("SELECT user_id, p_churn, p_purchase FROM churn_scores").to_pandas()
        profiles = profiles.merge(churn, on="user_id", how="left")
    else:
        profiles["p_churn"] = np.nan
        profiles["p_purchase"] = np.nan
    if store.has_table("uplift_scores"):
        # Predicted change in P(purchase) from the campaign message (`cartwise uplift fit`).
        uplift = store.arrow("SELECT user_id, uplift FROM uplift_scores").to_pandas()
        profiles = profiles.merge(uplift, on="user_id", how="left")
    else:
        profiles["uplift"] = np.nan
    profiles["scored_at"] = scored_at
    profiles["cluster"] = pd.Series(pd.NA, index=profiles.index, dtype="Int64")
    cluster_table = pd.DataFrame(columns=["cluster", "size", "share", "revenue", "description"])
    if clusters:
        try:
            result = cluster_customers(profiles)
            profiles["cluster"] = profiles["user_id"].map(result.labels).astype("Int64")
            cluster_table = result.summary
            report["clusters"] = {"k": result.k, "silhouette": result.silhouette}
        except ValueError as exc:
            report["clusters_error"] = str(exc)
    with store.transaction():
        store.replace("profiles", pa.Table.from_pandas(profiles, preserve_index=False))
        store.replace("clusters", pa.Table.from_pandas(cluster_table, preserve_index=False))
        report["segments"] = _recompute_segments(store, scored_at)
        # Audiences' windows end at the profiles' `as_of`; their sizes join the history.
        audiences = refresh_audiences(store, as_of_value)
        report["audiences"] = audiences["sizes"]
        if audiences["errors"]:
            report["audience_errors"] = audiences["errors"]
    return report


def _recompute_segments(store: Store, computed_at: datetime) -> dict[str, int]:
    sizes = {}
    profiles = store.ibis().table("profiles")
    for name, rule in store.con.execute("SELECT name, rule FROM segments ORDER BY name").fetchall():
        members = profiles.filter(rule_filter(profiles, rule)).select("user_id", "revenue").to_pyarrow()
        store.con.execute("DELETE FROM segment_members WHERE segment = ?", [name])
        store.append(
            "segment_members", pa.table({"segment": [name] * members.num_rows, "user_id": members["user_id"]})
        )
        revenue = float(pa.compute.sum(members["revenue"]).as_py() or 0.0)
        store.con.execute(
            "INSERT INTO segment_history VALUES (?, ?, ?, ?)", [name, computed_at, members.num_rows, revenue]
        )
        sizes[name] = members.num_rows
    return sizes


def save_segment(store: Store, name: str, rule: str, description: str = "") -> dict[str, Any]:
    """Save (or replace) a named segment; its members are computed at once and on every refresh."""
    if not name.strip():
        raise ConfigError("A segment needs a name.")
    size = segment_count(store, rule)  # validates the rule against the profile fields
    with store.transaction():
        store.con.execute("DELETE FROM segments WHERE name = ?", [name])
        store.con.execute(
            "INSERT INTO segments VALUES (?, ?, ?, ?)",
            [name, rule, description, datetime.now(UTC).replace(tzinfo=None)],
        )
        _recompute_segments(store, datetime.now(UTC).replace(tzinfo=None))
    return {"name": name, "rule": rule, "size": size}


def profile_of(store: Store, user_id: str) -> dict[str, Any]:
    """One customer's stored profile, ready to show: money (`MONEY_FIELDS`) in cents, counts as
    integers. NotFoundError when there are no profiles or no such customer."""
    if not store.has_table("profiles"):
        raise NotFoundError("No profiles yet; run `cartwise profiles build` first.")
    rows = store.arrow("SELECT * FROM profiles WHERE user_id = ?", [user_id]).to_pylist()
    if not rows:
        raise NotFoundError(f"No customer {user_id!r} in the profiles; check the id or rebuild them.")
    return {name: _shown(name, value) for name, value in rows[0].items()}


def _shown(name: str, value: Any) -> Any:
    """Money rounded to cents for display only; the stored profile keeps the computed value."""
    if name in MONEY_FIELDS and isinstance(value, float) and math.isfinite(value):
        return round(value, 2)
    return value


def segment_members(store: Store, name: str) -> list[str]:
    """The user ids in saved segment `name`, sorted (none for an unknown segment)."""
    rows = store.con.execute(
        "SELECT user_id FROM segment_members WHERE segment = ? ORDER BY user_id", [name]
    ).fetchall()
    return [row[0] for row in rows]


def delete_segment(store: Store, name: str) -> None:
    """Remove a saved segment, its members and its history."""
    if not store.con.execute("SELECT count(*) FROM segments WHERE name = ?", [name]).fetchall()[0][0]:
        raise NotFoundError(f"No segment named {name!r}; `cartwise segments list` shows them.")
    with store.transaction():
        for table in ("segments", "segment_members", "segment_history"):
            column = "name" if table == "segments" else "segment"
            store.con.execute(f"DELETE FROM {table} WHERE {column} = ?", [name])
