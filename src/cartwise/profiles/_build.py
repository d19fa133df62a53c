"""Customer profiles: one row per customer, built with Ibis over the canonical tables.

Fields (all as of `as_of`, default the latest event or order up to year 9999):
- `first_seen`, `last_seen`: first and last event; `sessions`, `events`: counts (0 for a
  customer known only from orders).
- `orders`, `revenue`, `avg_order_value` (revenue / orders), `first_order_at`,
  `last_order_at`, `days_since_last_order` ((as_of - last_order_at) in days, fractional).
- `top_category` (top level of the category path) and `top_category_share` (its share of
  the customer's item revenue); `top_brand` likewise.
- `promo_share`: share of the customer's purchase events flagged `properties.promo = true`.
- `price_percentile`: mean, over the customer's purchased lines, of the item's price
  percentile within its top-level category (0 cheapest, 1 dearest): price sensitivity.
- `device`: the device (`properties.device`) of most of the customer's events.
- `acquisition_channel`, `country`, `email_consent`, `sms_consent`, `created_at` from users.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

SECONDS_PER_DAY = 86_400.0


def _top(grouped: ir.Table, key: str, value: str, label: str) -> ir.Table:
    """Per user, the `key` with the largest `value`, and its share of the user's total."""
    window = ibis.window(group_by="user_id", order_by=[ibis.desc(value), key])
    ranked = grouped.mutate(
        _rank=ibis.row_number().over(window),
        _total=grouped[value].sum().over(ibis.window(group_by="user_id")),
    )
    best = ranked.filter(ranked._rank == 0)
    return best.select(
        "user_id",
        **{label: best[key], f"{label}_share": (best[value] / best._total.nullif(0)).cast("float64")},
    )


def profile_expression(con: Any, as_of: datetime | None = None) -> ir.Table:
    """The profile table as an Ibis expression over a backend holding the canonical tables."""
    events, orders, lines, items, users = (
        con.table(n) for n in ("events", "orders", "order_lines", "items", "users")
    )
    if as_of is None:
        # Times after year 9999 (no calendar date holds them) cannot be an `as_of`: the latest before.
        latest = [t.filter(t.ts <= datetime.max).ts.max().execute() for t in (events, orders)]
        as_of = max((t for t in latest if t is not None and not pd.isna(t)), default=datetime(1970, 1, 1))
    as_of_lit = ibis.literal(pd.Timestamp(as_of).to_pydatetime(), type="timestamp")
    events = events.filter(events.ts <= as_of_lit)
    orders = orders.filter(orders.ts <= as_of_lit)

    activity = events.group_by("user_id").aggregate(
        first_seen=events.ts.min(),
        last_seen=events.ts.max(),
        events=events.count(),
        sessions=events.session_id.nunique(),
        purchase_events=(events.type == "purchase").sum(),
        promo_purchases=(
            (events.type == "purchase") & events.properties["promo"].bool.fill_null(False)
        ).sum(),
    )
    buying = orders.group_by("user_id").aggregate(
        orders=orders.count(),
        revenue=orders.amount.sum(),
        first_order_at=orders.ts.min(),
        last_order_at=orders.ts.max(),
    )
    catalogue = items.mutate(top_level=items.category.split(" > ")[0])
    catalogue = catalogue.mutate(
        price_pct=ibis.percent_rank().over(group_by=catalogue.top_level, order_by=catalogue.price)
    )
    bought = lines.join(orders.select("order_id", "user_id"), "order_id").join(
        catalogue.select("item_id", "top_level", "brand", "price_pct"), "item_id"
    )
    by_category = bought.group_by(["user_id", "top_level"]).aggregate(spend=bought.revenue.sum())
    by_brand = bought.group_by(["user_id", "brand"]).aggregate(spend=bought.revenue.sum())
    price = bought.group_by("user_id").aggregate(price_percentile=bought.price_pct.mean())
    devices = events.mutate(device=events.properties["device"].str)
    devices = (
        devices.filter(devices.device.notnull()).group_by(["user_id", "device"]).aggregate(n=ibis._.count())
    )
    device = _top(devices, "device", "n", "device").drop("device_share")

    ids = (
        users.select("user_id")
        .union(events.select("user_id"), distinct=True)
        .union(orders.select("user_id"), distinct=True)
    )
    profile = ids
    for part in (
        activity,
        buying,
        _top(by_category, "top_level", "spend", "top_category"),
        _top(by_brand, "brand", "spend", "top_brand"),
        price,
        device,
        users.select(
            "user_id", "created_at", "country", "acquisition_channel", "email_consent", "sms_consent"
        ),
    ):
        joined = profile.left_join(part, "user_id")
        profile = joined.select(~ibis.selectors.endswith("_right"))
    # Counts stay integers: a customer known only from orders (a transaction log) has 0 events,
    # not a missing value that would turn the whole column into floats (`events: 65.0`).
    return profile.mutate(
        events=profile.events.fill_null(0),
        sessions=profile.sessions.fill_null(0),
        orders=profile.orders.fill_null(0),
        revenue=profile.revenue.fill_null(0.0),
        avg_order_value=(profile.revenue / profile.orders.nullif(0)).cast("float64"),
        days_since_last_order=(
            (as_of_lit.epoch_seconds() - profile.last_order_at.epoch_seconds()) / SECONDS_PER_DAY
        ).cast("float64"),
        promo_share=(profile.promo_purchases / profile.purchase_events.nullif(0)).cast("float64"),
        as_of=as_of_lit,
    ).drop("purchase_events", "promo_purchases", "top_brand_share")


def build_profiles(con: Any, as_of: datetime | None = None) -> pd.DataFrame:
    """Profiles with RFM scores and segments, as a data frame sorted by revenue (highest first)."""
    from cartwise.profiles._rfm import add_rfm

    frame = profile_expression(con, as_of).execute()
    frame = add_rfm(frame)
    return frame.sort_values(["revenue", "user_id"], ascending=[False, True], ignore_index=True)
