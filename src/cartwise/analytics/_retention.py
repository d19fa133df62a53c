"""Cohort retention, revenue retention and cohort LTV curves.

A user's cohort is the week (ISO, from Monday) or month of their first event
(`cohort="first_seen"`) or first purchase (`cohort="first_purchase"`). Period n of a
cohort is the n-th week or month after it (period 0 is the cohort's own). For each
cohort and period:

- `cohort_users`: users in the cohort.
- `active_users`: cohort users with an activity event in period n: any event
  (`activity="any"`) or a purchase (`activity="purchase"`).
- `retention` = active_users / cohort_users.
Orders loaded from a transaction log (no purchase events) count as purchases: a store loaded
from a transaction log alone has first-purchase retention (`analytics._facts.order_facts`).

- `revenue`: purchase revenue of cohort users in period n (as in `kpis`: `revenue`, or
  price x quantity); `revenue_retention` = revenue / revenue of period 0 (0 when that is 0).
- `ltv`: cumulative revenue per cohort user from period 0 through period n.

Each cohort lists every period from 0 to the last period of the data, zeros included,
except the periods of an empty stretch longer than about a year (`MAX_GAP`): one purchase
dated 9999 adds its own period to each cohort, not the 416,000 weeks before it. Events dated
after year 9999 (which no calendar date can hold) are not counted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from cartwise.analytics._common import (
    as_range,
    as_table,
    filled_periods,
    in_calendar,
    in_range,
    period_index,
    period_start,
)
from cartwise.analytics._facts import event_facts, whole_days, with_orders
from cartwise.core.errors import ConfigError

COLUMNS = (
    "cohort",
    "cohort_start",
    "period",
    "cohort_users",
    "active_users",
    "retention",
    "revenue",
    "revenue_retention",
    "ltv",
)


def retention_query(facts: ir.Table, by: str, cohort: str, activity: str) -> ir.Table:
    """The Ibis expression behind `retention`, over event facts (`event_facts` or their
    rollup): per (cohort, period) `members` (cohort users with any event in the period; in
    period 0 that is the whole cohort), `active_users` and `revenue`."""
    facts = in_calendar(facts)
    t = facts.mutate(p=period_index(facts.ts, by))
    g = t.group_by(["user_id", "p"]).aggregate(purchases=t.purchases.sum(), revenue=t.revenue.sum())
    whole = ibis.window(group_by=g.user_id)
    first = g.p.min(where=g.purchases > 0) if cohort == "first_purchase" else g.p.min()
    g = g.mutate(cohort=first.over(whole))
    g = g.filter(g.cohort.notnull() & (g.p >= g.cohort))
    # Rows of `g` are distinct (user, period) pairs, so counting rows counts users.
    active = g.count(where=g.purchases > 0) if activity == "purchase" else g.count()
    return g.group_by(["cohort", (g.p - g.cohort).name("period")]).aggregate(
        members=g.count(), active_users=active, revenue=g.revenue.sum()
    )


def retention(
    events: Any,
    by: Literal["week", "month"] = "week",
    *,
    cohort: Literal["first_purchase", "first_seen"] = "first_purchase",
    activity: Literal["any", "purchase"] = "any",
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    facts: ir.Table | None = None,
    orders: ir.Table | None = None,
) -> pd.DataFrame:
    """Long table of retention per cohort and period (see the module docstring for formulas).

    Columns: `cohort` (period index), `cohort_start` (date), `period` (0, 1, ...),
    `cohort_users`, `active_users`, `retention`, `revenue`, `revenue_retention`, `ltv`.
    Only events with start <= ts < end are read. `facts`: the same events already rolled
    up (`stored_facts`), read instead when `start` and `end` are midnights. `orders`: the
    `orders` table; those loaded from a transaction log count as purchases (and activity).
    """
    if by not in ("week", "month"):
        raise ConfigError(f"{by!r} is not a cohort period; choose week or month.", parameter="by")
    if cohort not in ("first_purchase", "first_seen"):
        raise ConfigError(f"{cohort!r} is unknown; choose first_purchase or first_seen.", parameter="cohort")
    if activity not in ("any", "purchase"):
        raise ConfigError(f"{activity!r} is unknown; choose any or purchase.", parameter="activity")
    start_ts, end_ts = as_range(start, end)
    if facts is None or not whole_days(start_ts, end_ts):
        facts = event_facts(as_table(events, "events"))
    # One query: the cohort sizes are the members of period 0.
    facts = with_orders(facts, orders)
    cells = retention_query(in_range(facts, start_ts, end_ts), by, cohort, activity).to_pandas()
    sizes = cells.loc[cells.period == 0, ["cohort", "members"]].rename(columns={"members": "cohort_users"})
    cells = cells.drop(columns=["members"])
    if sizes.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    listed = filled_periods((cells.cohort + cells.period).astype("int64"), by)
    grid = pd.DataFrame(
        [(int(c), p - int(c)) for c in sorted(sizes.cohort) for p in listed if p >= int(c)],
        columns=["cohort", "period"],
    )
    frame = grid.merge(
        cells.astype({"cohort": "int64", "period": "int64"}), how="left", on=["cohort", "period"]
    )
    frame = frame.merge(sizes.astype({"cohort": "int64"}), on="cohort")
    frame[["active_users", "revenue"]] = frame[["active_users", "revenue"]].fillna(0)
    frame["active_users"] = frame.active_users.astype("int64")
    frame["cohort_users"] = frame.cohort_users.astype("int64")
    frame["revenue"] = frame.revenue.astype("float64")
    frame["retention"] = frame.active_users / frame.cohort_users
    base = frame.groupby("cohort").revenue.transform("first")
    frame["revenue_retention"] = (frame.revenue / base.where(base != 0)).fillna(0.0)
    frame["ltv"] = frame.groupby("cohort").revenue.cumsum() / frame.cohort_users
    frame["cohort_start"] = [period_start(int(c), by) for c in frame.cohort]
    return frame[list(COLUMNS)].sort_values(["cohort", "period"], ignore_index=True)
