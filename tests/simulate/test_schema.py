"""Simulated tables follow the canonical schema and the rules of a real event stream."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from cartwise.schema import EVENT_TYPES, EVENTS, ITEMS, USERS
from cartwise.simulate import SimulatedShop, arrow_schema

KIND_TYPES = {
    "id": pa.string(),
    "string": pa.string(),
    "json": pa.string(),
    "timestamp": pa.timestamp("us"),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
}


def test_canonical_columns_and_types(shop: SimulatedShop) -> None:
    for table, canonical in ((shop.events, EVENTS), (shop.items, ITEMS), (shop.users, USERS)):
        assert table.column_names == canonical.column_names
        for column in canonical.columns:
            assert table.schema.field(column.name).type == KIND_TYPES[column.kind], (
                canonical.name,
                column.name,
            )
            if column.required:
                assert table[column.name].null_count == 0, (canonical.name, column.name)
        assert table.schema == arrow_schema(canonical)


def test_ids_are_unique_and_references_resolve(shop: SimulatedShop, events: pd.DataFrame) -> None:
    assert events["event_id"].is_unique
    assert shop.items["item_id"].to_pandas().is_unique
    assert shop.users["user_id"].to_pandas().is_unique
    assert set(events["item_id"].dropna()) <= set(shop.items["item_id"].to_pylist())
    customers = set(shop.users["user_id"].to_pylist())
    visitors = set(events["user_id"]) - customers
    assert visitors and all(v.startswith("v") for v in visitors)
    assert set(events["type"]) <= set(EVENT_TYPES)


def test_timestamps_are_naive_utc_inside_the_period(
    events: pd.DataFrame, truth: dict[str, pd.DataFrame]
) -> None:
    period = pd.to_datetime(truth["truth_days"]["day"])
    start, days = period.min(), len(period)
    assert start == pd.Timestamp("2025-01-01") and days == 120
    assert events["ts"].dt.tz is None
    assert events["ts"].min() >= start
    assert events["ts"].max() < start + pd.Timedelta(days=days)
    assert events["ts"].is_monotonic_increasing


def test_purchase_lines_carry_order_price_and_revenue(events: pd.DataFrame) -> None:
    buys = events[events["type"] == "purchase"]
    assert buys["order_id"].notna().all() and (buys["quantity"] >= 1).all() and (buys["price"] > 0).all()
    np.testing.assert_allclose(buys["revenue"], buys["price"] * buys["quantity"], atol=0.005)
    assert not buys.duplicated(["order_id", "item_id"]).any()
    per_order = buys.groupby("order_id").agg(
        users=("user_id", "nunique"), sessions=("session_id", "nunique"), times=("ts", "nunique")
    )
    assert (per_order == 1).all().all()
    others = events[events["type"] != "purchase"]
    assert others["order_id"].isna().all() and others["revenue"].isna().all()
    negative = events[events["quantity"] < 0]
    assert set(negative["type"]) == {"remove_from_cart"}


def test_funnel_order_within_sessions(events: pd.DataFrame) -> None:
    """Every purchased item was added to the cart earlier in the same session, after checkout began."""
    buys = events[events["type"] == "purchase"][["session_id", "item_id", "ts"]]
    adds = (
        events[events["type"] == "add_to_cart"].groupby(["session_id", "item_id"])["ts"].min().rename("added")
    )
    checkout = events[events["type"] == "begin_checkout"].groupby("session_id")["ts"].min().rename("checkout")
    joined = buys.join(adds, on=["session_id", "item_id"]).join(checkout, on="session_id")
    assert joined["added"].notna().all() and joined["checkout"].notna().all()
    assert (joined["added"] <= joined["checkout"]).all() and (joined["checkout"] <= joined["ts"]).all()
    views = events[events["type"] == "view"].groupby(["session_id", "item_id"])["ts"].min().rename("viewed")
    carted = events[events["type"] == "add_to_cart"].join(views, on=["session_id", "item_id"])
    assert (carted["viewed"] <= carted["ts"]).all()


def test_properties_are_json_objects(events: pd.DataFrame) -> None:
    props = events["properties"].map(json.loads)
    assert props.map(
        lambda p: isinstance(p, dict) and p.get("device") in {"mobile", "desktop", "tablet"}
    ).all()
    searches = props[events["type"] == "search"]
    assert len(searches) > 0 and searches.map(lambda p: bool(p.get("query"))).all()
    assert props.map(lambda p: p.get("promo") is True).any()
    assert props.map(lambda p: p.get("in_stock") is False).any()


def test_catalogue_reads_like_a_shop(shop: SimulatedShop) -> None:
    items = shop.items.to_pandas()
    assert (items["category"].str.count(" > ") == 2).all()
    assert items["category"].str.split(" > ").str[0].nunique() >= 6
    assert items["brand"].nunique() >= 8
    assert (items["title"].str.len() > 10).all() and (items["description"].str.len() > 40).all()
    assert (items["price"] > items["cost"]).all() and (items["cost"] > 0).all()
    assert (items["stock"] >= 0).all() and items["active"].all()
    # Log-normal prices: log price is roughly symmetric, prices themselves are right-skewed.
    assert items["price"].skew() > 1 and abs(np.log(items["price"]).skew()) < 1
    users = shop.users.to_pandas()
    assert users["email"].str.fullmatch(r"[^@]+@[^@]+").all()
    assert users["acquisition_channel"].nunique() >= 4
