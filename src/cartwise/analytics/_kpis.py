"""Shop KPIs per day, week or month, each beside its value for the previous period.

Definitions (period = the day, ISO week from Monday, or calendar month of `ts`, UTC):

- `revenue` (GMV): sum over `purchase` events of `revenue`, or `price x quantity` when
  revenue is null (quantity defaults to 1), refunds not deducted.
- `orders`: distinct `order_id` of purchase events (a purchase without one is an order).
- `units`: sum of `quantity` over purchase events (null counts as 1).
- `aov` (average order value): revenue / orders.
- `visitors`: distinct `user_id` with any event in the period.
- `sessions`: distinct `session_id`; an event without one belongs to the session
  "its user on its day". `converting_sessions`: sessions with a purchase event.
- `conversion_rate`: converting_sessions / sessions.
- `revenue_per_visitor`: revenue / visitors.
- `customers`: distinct users with a purchase in the period; `new_customers`: those whose
  first purchase in the data is in the period; `returning_customers`: those who purchased
  in an earlier period.
- `repeat_purchase_rate`: share of the period's customers who have placed at least two
  orders from their first one up to the end of the period.
- `refunds`: number of `refund` events; `refund_amount`: minus the sum of their revenue
  (a positive amount).

Ratios with a zero denominator are 0. Periods between the first and last with no events
are listed with zeros, so `<kpi>_prev` is always the calendar-previous period.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from cartwise.analytics._common import (
    as_table,
    as_timestamp,
    check_grain,
    period_index,
    period_start,
    require_columns,
)

KPIS: tuple[str, ...] = (
    "revenue",
    "orders",
    "units",
    "aov",
    "visitors",
    "sessions",
    "converting_sessions",
    "conversion_rate",
    "revenue_per_visitor",
    "customers",
    "new_customers",
    "returning_customers",
    "repeat_purchase_rate",
    "refunds",
    "refund_amount",
)
"""KPI columns of `kpis()`, in order; each has a `<name>_prev` twin."""


def _money(events: ir.Table) -> ir.FloatingValue:
    qty = events.quantity.cast("float64") if "quantity" in events.columns else ibis.literal(1.0)
    fallback = events.price * qty.fill_null(1.0) if "price" in events.columns else ibis.literal(0.0)
    revenue = events.revenue if "revenue" in events.columns else ibis.null("float64")
    return revenue.cast("float64").coalesce(fallback.cast("float64"), 0.0)


def kpi_query(events: ir.Table, grain: str, end: datetime | None = None) -> ir.Table:
    """The Ibis expression behind `kpis`: one row per period with events, raw counts and sums."""
    require_columns(events, ["user_id", "ts", "type"])
    if end is not None:
        events = events.filter(events.ts < end)
    cols = events.columns
    purchase = events.type == "purchase"
    refund = events.type == "refund"
    day = events.ts.date().cast("string")
    session = events.user_id.concat("/", day)
    if "session_id" in cols:
        session = ibis.cases((events.session_id.notnull(), events.session_id), else_=session)
    order = events.order_id if "order_id" in cols else ibis.null("string")
    if "event_id" in cols:
        order = order.coalesce(events.event_id)
    t = events.select(
        p=period_index(events.ts, grain),
        user_id=events.user_id,
        session=session,
        purchase=purchase,
        refund=refund,
        order=ibis.cases((purchase, order), else_=None),
        money=_money(events),
        units=(events.quantity if "quantity" in cols else ibis.literal(1)).cast("int64").fill_null(1),
    )
    per_period = t.group_by("p").aggregate(
        revenue=t.money.sum(where=t.purchase),
        orders_known=t.order.nunique(where=t.purchase),
        orders_anon=(t.purchase & t.order.isnull()).cast("int64").sum(),
        units=t.units.sum(where=t.purchase),
        visitors=t.user_id.nunique(),
        sessions=t.session.nunique(),
        converting_sessions=t.session.nunique(where=t.purchase),
        refunds=t.refund.cast("int64").sum(),
        refund_amount=-t.money.sum(where=t.refund),
    )
    buyers = t.filter(t.purchase)
    per_user = buyers.group_by(["user_id", "p"]).aggregate(
        n_orders=buyers.order.nunique() + buyers.order.isnull().cast("int64").sum()
    )
    history = ibis.window(group_by=per_user.user_id, order_by=per_user.p, rows=(None, 0))
    per_user = per_user.mutate(
        first_p=per_user.p.min().over(ibis.window(group_by=per_user.user_id)),
        cum_orders=per_user.n_orders.sum().over(history),
    )
    customers = per_user.group_by("p").aggregate(
        customers=per_user.count(),
        new_customers=(per_user.first_p == per_user.p).cast("int64").sum(),
        repeat_customers=(per_user.cum_orders >= 2).cast("int64").sum(),
    )
    joined = per_period.left_join(customers, "p")
    return joined.select(per_period, customers.customers, customers.new_customers, customers.repeat_customers)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den != 0)).fillna(0.0)


def kpis(
    events: Any,
    by: str = "day",
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
) -> pd.DataFrame:
    """KPIs per period (see the module docstring for each formula), oldest first.

    Columns: `period` (int index), `period_start` (date), then each name in `KPIS` and
    `<name>_prev` (the previous period's value; 0 before the first period with events).
    `start`/`end` limit the periods listed to those overlapping [start, end); history
    before `start` still decides who is a new or returning customer.
    """
    grain = check_grain(by)
    table = as_table(events, "events")
    start_ts, end_ts = as_timestamp(start, "start"), as_timestamp(end, "end")
    raw = kpi_query(table, grain, end_ts).to_pandas()
    columns = ["period", "period_start", *KPIS, *(f"{k}_prev" for k in KPIS)]
    if raw.empty:
        return pd.DataFrame(columns=columns)
    # Engines differ in sum types (DuckDB sums integers to HUGEINT): compute in floats.
    raw = raw.astype("float64").set_index("p").sort_index()
    raw.index = raw.index.astype("int64")
    spine = range(int(raw.index.min()) - 1, int(raw.index.max()) + 1)
    frame = raw.reindex(spine).fillna(0)
    frame["orders"] = frame.pop("orders_known") + frame.pop("orders_anon")
    frame["aov"] = _ratio(frame.revenue, frame.orders)
    frame["conversion_rate"] = _ratio(frame.converting_sessions, frame.sessions)
    frame["revenue_per_visitor"] = _ratio(frame.revenue, frame.visitors)
    frame["returning_customers"] = frame.customers - frame.new_customers
    frame["repeat_purchase_rate"] = _ratio(frame.pop("repeat_customers"), frame.customers)
    counts = [
        "orders",
        "units",
        "visitors",
        "sessions",
        "converting_sessions",
        "customers",
        "new_customers",
        "returning_customers",
        "refunds",
    ]
    frame[counts] = frame[counts].astype("int64")
    frame["refund_amount"] = frame.refund_amount + 0.0  # no "-0.0" when there are none
    for k in KPIS:
        frame[f"{k}_prev"] = frame[k].shift(1, fill_value=0)
    frame = frame.iloc[1:]  # the padding period before the first only fed `_prev`
    if start_ts is not None:
        frame = frame[frame.index >= int(_index_of(start_ts, grain))]
    frame = frame.rename_axis("period").reset_index()
    frame["period_start"] = [period_start(int(p), grain) for p in frame.period]
    return frame[columns].reset_index(drop=True)


def _index_of(stamp: datetime, grain: str) -> int:
    days = (stamp.date() - date(1970, 1, 1)).days
    if grain == "day":
        return days
    if grain == "week":
        return (days + 3) // 7
    return stamp.year * 12 + stamp.month - 1
