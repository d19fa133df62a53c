"""Checks a shop owner or analyst would make on the simulated data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from cartwise.simulate import ShopConfig, SimulatedShop, simulate_shop


def test_session_conversion_rate_is_plausible(events: pd.DataFrame) -> None:
    session = events["session_id"]
    converted = events["type"].eq("purchase").groupby(session).any()
    assert 0.03 <= converted.mean() <= 0.25
    carted = events["type"].eq("add_to_cart").groupby(session).any()
    browse_only = events["type"].isin(["view", "search"]).groupby(session).all()
    assert (carted & ~converted).mean() > 0.05 and browse_only.mean() > 0.4
    assert session.value_counts().median() >= 3


def test_consumables_are_bought_again(events: pd.DataFrame, truth: dict[str, pd.DataFrame]) -> None:
    buys = events[events["type"] == "purchase"].sort_values("ts")
    again = buys.duplicated(["user_id", "item_id"])
    consumable = buys["item_id"].map(truth["truth_items"].set_index("item_id")["consumable"])
    rate_consumable, rate_other = again[consumable].mean(), again[~consumable].mean()
    assert rate_consumable > 0.1 and rate_consumable > 3 * rate_other


def test_weekly_seasonality_follows_the_true_profile(
    events: pd.DataFrame, truth: dict[str, pd.DataFrame]
) -> None:
    starts = events.groupby("session_id")["ts"].min()
    per_weekday = starts.dt.weekday.value_counts().sort_index()
    days = pd.to_datetime(truth["truth_days"]["day"])
    weekly = truth["truth_days"]["weekly"].groupby(days.dt.weekday).first()
    observed = per_weekday / days.dt.weekday.value_counts().sort_index()
    assert np.corrcoef(observed, weekly)[0, 1] > 0.9
    assert observed.idxmax() == weekly.idxmax()
    ratio = observed.max() / observed.min()
    assert abs(ratio / (weekly.max() / weekly.min()) - 1) < 0.1


def test_yearly_multiplier_averages_one_and_peaks_on_the_configured_day() -> None:
    config = ShopConfig(seed=3, users=50, items=20, days=365)
    days = simulate_shop(config).truth["truth_days"].to_pandas()
    assert abs(days["multiplier"].mean() - 1) < 1e-9
    peak = pd.Timestamp(days.loc[days["yearly"].idxmax(), "day"])
    assert abs(peak.dayofyear - config.yearly_peak_day) <= 1
    np.testing.assert_allclose(
        days["multiplier"], days["weekly"] * days["yearly"] / (days["weekly"] * days["yearly"]).mean()
    )


def test_complements_are_bought_together_and_substitutes_compared(
    events: pd.DataFrame, truth: dict[str, pd.DataFrame]
) -> None:
    relations = truth["truth_item_relations"]
    buys = events[events["type"] == "purchase"]
    orders_of = buys.groupby("item_id")["order_id"].agg(set)
    n_orders = buys["order_id"].nunique()
    together = expected = 0.0
    for row in relations[relations["relation"] == "complement"].itertuples():
        first, second = orders_of.get(row.item_id, set()), orders_of.get(row.related_item_id, set())
        together += len(first & second)
        expected += len(first) * len(second) / n_orders
    assert together > 5 * expected
    views = events[events["type"] == "view"]
    sessions_of = views.groupby("item_id")["session_id"].agg(set)
    n_sessions = views["session_id"].nunique()
    together = expected = 0.0
    for row in relations[relations["relation"] == "substitute"].itertuples():
        first, second = sessions_of.get(row.item_id, set()), sessions_of.get(row.related_item_id, set())
        together += len(first & second)
        expected += len(first) * len(second) / n_sessions
    assert together > 3 * expected


def test_promotions_raise_unit_sales_by_the_true_elasticity() -> None:
    """Pooled over promotions: units sold during a promotion / units expected without it = (promo_price/price)^elasticity."""
    shop = simulate_shop(ShopConfig(seed=9, users=3_000, items=150, days=120, promotions_per_item_year=4))
    buys = shop.events.to_pandas().query("type == 'purchase'")
    buys["day"] = buys["ts"].dt.floor("D")
    promos = shop.truth["promotions"].to_pandas()
    total = buys.groupby("day")["quantity"].sum()
    by_item = buys.groupby(["item_id", "day"])["quantity"].sum()
    observed = expected_without = expected_with = 0.0
    for item_id, item_promos in promos.groupby("item_id"):
        units = by_item.get(item_id, pd.Series(dtype=float))
        on = pd.DatetimeIndex(
            np.concatenate(
                [pd.date_range(p.starts_at, p.ends_at, inclusive="left") for p in item_promos.itertuples()]
            )
        )
        off = total.index.difference(on)
        share = units.reindex(off).fillna(0).sum() / total.reindex(off).sum()  # the item's regular share
        for p in item_promos.itertuples():
            days = pd.date_range(p.starts_at, p.ends_at, inclusive="left")
            observed += units.reindex(days).fillna(0).sum()
            expected_without += share * total.reindex(days).fillna(0).sum()
            expected_with += share * total.reindex(days).fillna(0).sum() * p.demand_multiplier
    assert observed / expected_without > 1.3  # promotions clearly sell more
    assert 0.85 < observed / expected_with < 1.1  # and by the multiplier the elasticity implies
    np.testing.assert_allclose(
        promos["demand_multiplier"],
        (
            promos["price"]
            / shop.items.to_pandas().set_index("item_id").loc[promos["item_id"], "price"].to_numpy()
        )
        ** shop.truth["truth_items"]
        .to_pandas()
        .set_index("item_id")
        .loc[promos["item_id"], "elasticity"]
        .to_numpy(),
    )


def test_promotion_prices_are_charged_and_flagged(shop: SimulatedShop, events: pd.DataFrame) -> None:
    promos = shop.truth["promotions"].to_pandas()
    buys = events[events["type"] == "purchase"].merge(promos, on="item_id", suffixes=("", "_promo"))
    during = buys[(buys["ts"] >= buys["starts_at"]) & (buys["ts"] < buys["ends_at"])]
    assert len(during) > 0
    np.testing.assert_allclose(during["price"], during["price_promo"])
    assert during["properties"].map(lambda p: json.loads(p).get("promo") is True).all()


def test_out_of_stock_items_are_viewed_but_not_bought(
    events: pd.DataFrame, truth: dict[str, pd.DataFrame]
) -> None:
    stockouts = truth["truth_stockouts"].assign(day=lambda d: pd.to_datetime(d["day"]))
    assert len(stockouts) > 0
    day = events["ts"].dt.floor("D")
    keyed = events.assign(day=day).merge(stockouts, on=["item_id", "day"])
    assert len(keyed) > 0
    assert set(keyed["type"]) == {"view"}
    assert keyed["properties"].map(lambda p: json.loads(p).get("in_stock") is False).all()


def test_price_sensitive_customers_buy_cheaper_items(
    shop: SimulatedShop, events: pd.DataFrame, truth: dict[str, pd.DataFrame]
) -> None:
    buys = events[events["type"] == "purchase"]
    relative = buys["item_id"].map(truth["truth_items"].set_index("item_id")["relative_price"])
    users = truth["truth_users"].set_index("user_id")
    level = buys["user_id"].map(users["price_sensitivity"])
    paid = relative.groupby(level).mean()
    assert paid["high"] < paid["medium"] < paid["low"]
    channel = shop.users.to_pandas().set_index("user_id")["acquisition_channel"]
    high = users["price_sensitivity"].eq("high").groupby(channel).mean()
    assert high["affiliate"] > high["email"]
