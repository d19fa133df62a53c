"""Event facts: the per-event measures KPIs and retention add up, and their daily rollup.

`event_facts(events)` gives one row per event: `ts`, `user_id`, `session` (the event's
`session_id`, else "its user on its day"), `order_key` (for a purchase, its `order_id`, else
its `event_id`; null otherwise), and the measures `purchases`, `units`,
`revenue`, `refunds`, `refund_amount` (money as in `kpis`) and `anon_orders` (a purchase
with no order key at all). Every figure of `kpis` and `retention` is a sum of these
measures or a distinct count of `user_id`, `session` or `order_key`, so the same figures
come out of the rows grouped by (day, user, session, order): `rollup_facts`.

Orders loaded from a transaction log (`orders.source` other than `events`) have no purchase
events; `order_facts` gives each one fact row (`session` null: an order is not a visit), and
`with_orders` adds them to the events' facts, so revenue, orders, AOV, new and returning
customers, repeat rate and retention count them like purchases. Orders derived from purchase
events are already in the events' facts, with the session that converted: they are read there.

A store keeps that grouping in `event_rollup`, folded in by `refresh_rollup` after loads.
`stored_facts` reads the rollup plus, one row per event, everything stored since the last
refresh, so answers are exact however stale the rollup is. The rollup has a few rows per
session instead of one per event, which is what makes the store's KPIs fast.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from cartwise.analytics._common import require_columns
from cartwise.analytics._timeline import COLUMNS, TIMELINE, clear_timeline, fold_timeline
from cartwise.store import Store

ROLLUP = "event_rollup"
ROLLUP_STATE = "event_rollup_state"
TAIL = "events_after_rollup"
CURRENT = "_cw_event_facts"
"""Temporary view: the rollup plus the facts of the events after it."""
CURRENT_TIMELINE = "_cw_event_timeline"
"""Temporary view: the timeline plus the events after it."""
KEYS = ("ts", "user_id", "session", "order_key")
FACT_SCHEMA = ibis.schema(
    {
        "ts": "timestamp",
        "user_id": "string",
        "session": "string",
        "order_key": "string",
        "purchases": "int64",
        "units": "int64",
        "revenue": "float64",
        "refunds": "int64",
        "refund_amount": "float64",
        "anon_orders": "int64",
    }
)
MEASURES = tuple(name for name in FACT_SCHEMA.names if name not in KEYS)
COMPACT_RATIO = 1.5
"""Regroup the rollup when appends have grown it to this multiple of its compacted size."""


def _money(events: ir.Table) -> ir.FloatingValue:
    """`revenue`, else `price x quantity` (quantity null counts as 1), else 0."""
    qty = events.quantity.cast("float64") if "quantity" in events.columns else ibis.literal(1.0)
    fallback = events.price * qty.fill_null(1.0) if "price" in events.columns else ibis.literal(0.0)
    revenue = events.revenue if "revenue" in events.columns else ibis.null("float64")
    return revenue.cast("float64").coalesce(fallback.cast("float64"), 0.0)


def event_facts(events: ir.Table) -> ir.Table:
    """One row per event in the shape of `FACT_SCHEMA` (see the module docstring)."""
    require_columns(events, ["user_id", "ts", "type"])
    cols = events.columns
    purchase = events.type == "purchase"
    refund = events.type == "refund"
    session = events.user_id.concat("/", events.ts.date().cast("string"))
    if "session_id" in cols:
        session = ibis.cases((events.session_id.notnull(), events.session_id), else_=session)
    order = events.order_id if "order_id" in cols else ibis.null("string")
    if "event_id" in cols:
        order = order.coalesce(events.event_id)
    units = (events.quantity if "quantity" in cols else ibis.literal(1)).cast("int64").fill_null(1)
    amount = _money(events)
    facts = events.select(
        ts=events.ts,
        user_id=events.user_id,
        session=session,
        order_key=ibis.cases((purchase, order), else_=None),
        purchases=purchase,
        units=ibis.cases((purchase, units), else_=0),
        revenue=ibis.cases((purchase, amount), else_=0.0),
        refunds=refund,
        refund_amount=ibis.cases((refund, amount), else_=0.0),
        anon_orders=purchase & order.isnull(),
    )
    return facts.cast(FACT_SCHEMA)


def order_facts(orders: ir.Table) -> ir.Table:
    """One fact row per order loaded from a transaction log (`source` not `events`): its time,
    customer and id, 1 purchase, its units (null counts as 1) and amount as revenue; an order
    with a negative amount is a refund (its amount goes to `refund_amount`, as for a `refund`
    event). `session` is null: orders say nothing of visits or sessions."""
    require_columns(orders, ["order_id", "user_id", "ts", "amount"])
    logged = orders
    if "source" in orders.columns:
        logged = orders.filter(orders.source.isnull() | (orders.source != "events"))
    amount = logged.amount.cast("float64").fill_null(0.0)
    refund = amount < 0
    units = (logged.units if "units" in logged.columns else ibis.literal(1)).cast("int64").fill_null(1)
    facts = logged.select(
        ts=logged.ts,
        user_id=logged.user_id,
        session=ibis.null("string"),
        order_key=ibis.cases((refund, ibis.null("string")), else_=logged.order_id.cast("string")),
        purchases=ibis.cases((refund, 0), else_=1),
        units=ibis.cases((refund, 0), else_=units),
        revenue=ibis.cases((refund, 0.0), else_=amount),
        refunds=ibis.cases((refund, 1), else_=0),
        refund_amount=ibis.cases((refund, amount), else_=0.0),
        anon_orders=ibis.literal(0),
    )
    return facts.cast(FACT_SCHEMA)


def with_orders(facts: ir.Table, orders: ir.Table | None) -> ir.Table:
    """`facts` plus the facts of the orders loaded from a transaction log (`order_facts`)."""
    if orders is None:
        return facts
    return facts.select(*FACT_SCHEMA.names).cast(FACT_SCHEMA).union(order_facts(orders))


def stored_orders(store: Store) -> ir.Table | None:
    """The store's `orders` when some were loaded from a transaction log (`with_orders` then
    adds them), else None: a union that adds nothing would still cost the KPI query its
    rollup fast path (see `stored_facts`)."""
    if not store.has_table("orders"):
        return None
    logged = store.con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM orders WHERE source IS DISTINCT FROM 'events' LIMIT 1)"
    ).fetchall()[0][0]
    return store.ibis().table("orders") if logged else None


def rollup_facts(facts: ir.Table) -> ir.Table:
    """Facts summed per (day, user, session, order key); `ts` becomes the day's midnight."""
    day = facts.mutate(ts=facts.ts.truncate("D"))
    grouped = day.group_by(list(KEYS)).aggregate(**{m: day[m].sum() for m in MEASURES})
    return grouped.cast(FACT_SCHEMA)


def whole_days(*stamps: datetime | None) -> bool:
    """True when every bound is absent or a midnight, so day rows can stand for events."""
    return all(s is None or s == datetime(s.year, s.month, s.day) for s in stamps)


def stored_facts(store: Store) -> ir.Table | None:
    """The store's rollup plus the facts of events stored since its last refresh (None
    before the rollup's migration). Both parts read the watermark in the same query, so a
    refresh in between cannot count an event twice (the view `events_after_rollup`); the
    rollup alone when no event is stored after it."""
    if not store.has_table(ROLLUP):
        return None
    mismatch, lag = _status(store.con)
    if mismatch:  # events were deleted or replaced since: read the events
        return None
    backend = store.ibis()
    rollup = backend.table(ROLLUP).select(*FACT_SCHEMA.names).cast(FACT_SCHEMA)
    if not lag:
        # Nothing after the watermark: without the union DuckDB need not copy the rows into
        # a materialised CTE (a one-off probe: kpi_query 0.78-0.94 s against 0.95-1.26 s at
        # 10M events).
        # Events stored after this check are simply not read, as if the query ran now.
        return rollup
    # Through a view, not as an Ibis union: the KPI query reads the facts five times, and
    # DuckDB copies a union read that often into a materialised CTE, while a view is
    # expanded at each read, which scans the rollup's columns again instead (a one-off
    # probe at 10M events: kpis 0.64 s against 0.73-0.88 s with 10,000 events after the
    # rollup; alike, 1.5 s, with every event after it).
    union = rollup.union(event_facts(backend.table(TAIL)))
    store.con.execute(f"CREATE OR REPLACE TEMP VIEW {CURRENT} AS {ibis.to_sql(union, dialect='duckdb')}")
    return backend.table(CURRENT)


def stored_timeline(store: Store) -> ir.Table | None:
    """The store's events as `(ts, user_id, type)`, sorted for funnels: the timeline plus the
    events stored after the rollup's watermark, which it shares (see `analytics._timeline`).
    None before the timeline's migration or when events were deleted or replaced since."""
    if not store.has_table(TIMELINE):
        return None
    mismatch, lag = _status(store.con)
    if mismatch:
        return None
    backend = store.ibis()
    timeline = backend.table(TIMELINE)
    if not lag:
        return timeline
    # A view, for the reason given in `stored_facts`: a funnel reads it once per step.
    union = timeline.union(backend.table(TAIL).select(*COLUMNS).cast(timeline.schema()))
    store.con.execute(
        f"CREATE OR REPLACE TEMP VIEW {CURRENT_TIMELINE} AS {ibis.to_sql(union, dialect='duckdb')}"
    )
    return backend.table(CURRENT_TIMELINE)


def rollup_lag(store: Store) -> int:
    """Events stored since the rollup's last refresh (all of them before the first)."""
    return _status(store.con)[1]


def refresh_rollup(store: Store) -> dict[str, Any]:
    """Fold the events stored since the last refresh into `event_rollup` and `event_timeline`
    (`analytics._timeline`), in one transaction.

    Rebuilds both from scratch when `events` no longer holds the rows folded before (the table
    was replaced), and regroups the rollup when appends have grown it by `COMPACT_RATIO`.
    Returns `{"folded": events added, "rows": rollup rows, "rebuilt": bool, "compacted": bool,
    "months_sorted": timeline months sorted again}`.
    """
    con = store.con
    backend = store.ibis()
    with store.transaction():
        watermark, folded, compacted_rows = _one(
            con, f"SELECT watermark, folded, compacted_rows FROM {ROLLUP_STATE}"
        )
        rebuilt, _ = _status(con)
        if rebuilt:
            con.execute(f"DELETE FROM {ROLLUP}")
            clear_timeline(con)
            con.execute(f"UPDATE {ROLLUP_STATE} SET watermark = -1, folded = 0, compacted_rows = 0")
            watermark, folded, compacted_rows = -1, 0, 0
        top, added = _one(
            con, f"SELECT coalesce(max(rowid), -1), count(*) FROM events WHERE rowid > {watermark}"
        )
        compacted, months_sorted = False, 0
        if added:
            tail = rollup_facts(event_facts(backend.table(TAIL)))
            con.execute(f"INSERT INTO {ROLLUP} BY NAME {ibis.to_sql(tail)}")
            months_sorted = fold_timeline(con, TAIL)
            rows = store.count(ROLLUP)
            if not compacted_rows:  # the first fold is grouped already
                compacted_rows = rows
            elif rows > COMPACT_RATIO * compacted_rows:
                regrouped = ibis.to_sql(rollup_facts(backend.table(ROLLUP)))
                con.execute(f"CREATE TEMP TABLE _cw_rollup AS {regrouped}")
                con.execute(f"DELETE FROM {ROLLUP}")
                con.execute(f"INSERT INTO {ROLLUP} BY NAME SELECT * FROM _cw_rollup")
                con.execute("DROP TABLE _cw_rollup")
                compacted_rows = store.count(ROLLUP)
                compacted = True
            con.execute(
                f"UPDATE {ROLLUP_STATE} SET watermark = ?, folded = ?, compacted_rows = ?",
                [top, folded + added, compacted_rows],
            )
        rows = store.count(ROLLUP)
    return {
        "folded": int(added),
        "rows": rows,
        "rebuilt": rebuilt,
        "compacted": compacted,
        "months_sorted": months_sorted,
    }


def reset_rollup(store: Store) -> None:
    """Empty the rollup and the timeline and move the watermark before the first event, inside
    the caller's transaction: call it with any deletion from `events`. Reads then fold every
    event on the fly (exact, slower) until `refresh_rollup` rebuilds both. A deletion must not
    rely on the row-count check of `_status`: DuckDB may hand a deleted row's id to a later
    insert, which would then sit below the watermark and never be folded."""
    if not store.has_table(ROLLUP):
        return
    store.con.execute(f"DELETE FROM {ROLLUP}")
    if store.has_table(TIMELINE):
        clear_timeline(store.con)
    store.con.execute(f"UPDATE {ROLLUP_STATE} SET watermark = -1, folded = 0, compacted_rows = 0")


def _status(con: Any) -> tuple[bool, int]:
    """(whether `events` no longer holds exactly the rows folded into the rollup, events
    stored after its watermark), in one query."""
    # All rows minus those after the watermark: the total comes from table statistics and the
    # tail scan skips row groups (a one-off probe: 3.5 ms against 75 ms for counting up to
    # the watermark at 10M events).
    total, after, folded = _one(
        con,
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events WHERE rowid > s.watermark), "
        f"s.folded FROM {ROLLUP_STATE} s",
    )
    return total - after != folded, int(after)


def _one(con: Any, sql: str) -> tuple[Any, ...]:
    """The single row of `sql` (read whole, so the connection is free for the next query)."""
    rows = con.execute(sql).fetchall()
    return tuple(rows[0])
