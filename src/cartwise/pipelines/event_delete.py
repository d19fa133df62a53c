"""Deleting events: by id, or by a filter (time range, types, user), keeping what is derived
from them consistent.

`delete_events` removes the matching events in one transaction with what they feed:
orders derived from purchase events are rebuilt from the purchases left (an order whose
purchases are all gone is removed, with its lines), and the analytics rollup and timeline
are emptied and rebuilt from the remaining events. Profiles, scores and trained models are
batch results: they keep describing the old events until the next `cartwise train` (or
`profiles build`), which the answer says in `rebuild`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from cartwise.analytics import refresh_rollup, reset_rollup
from cartwise.core.errors import ConfigError
from cartwise.ingest import derive_orders
from cartwise.store import Store

MAX_IDS = 100_000
"""Event ids accepted in one deletion."""
STALE_UNTIL_RETRAIN: tuple[str, ...] = (
    "profiles",
    "churn_scores",
    "clv",
    "recommendation models",
    "forecasts",
)
"""Batch results built from events: refreshed by the next `cartwise train`."""
_DOOMED = "_cw_doomed_events"
_IDS = "_cw_delete_ids"


@dataclass(frozen=True)
class EventFilter:
    """Which events to delete; every given criterion must hold (AND). At least one is required.

    `start`/`end`: ISO times, start <= ts < end (UTC); any year DuckDB holds, so
    `start="10000-01-01"` reaches events no calendar date can name. `types`: event types.
    """

    event_ids: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    types: tuple[str, ...] = ()
    user_id: str | None = None

    def is_empty(self) -> bool:
        return not (self.event_ids or self.start or self.end or self.types or self.user_id is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_ids": len(self.event_ids),
            "start": self.start,
            "end": self.end,
            "types": list(self.types),
            "user_id": self.user_id is not None,
        }


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)


_OFFSET = re.compile(r"[T ]\d\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|[+-]\d\d(:?\d\d)?)$")


def _stamp(store: Store, value: str, name: str) -> str:
    """The SQL for the UTC time `value` (a parameter); ConfigError about parameter `name` unless
    DuckDB reads it. A time with an offset (`Z`, `+02:00`) is converted to UTC."""
    sql = (
        "timezone('UTC', CAST(? AS TIMESTAMPTZ))" if _OFFSET.search(value.strip()) else "CAST(? AS TIMESTAMP)"
    )
    try:
        store.con.execute(f"SELECT {sql}", [value.strip()]).fetchall()
        return sql
    except Exception:
        raise ConfigError(
            f"{value[:60]!r} is not a time; use ISO form, e.g. 2026-01-31 or 2026-01-31T12:00:00 (UTC).",
            parameter=name,
        ) from None


def _where(store: Store, flt: EventFilter) -> _Where:
    if flt.is_empty():
        raise ConfigError(
            "Say which events to delete: give event ids, a start or end time, event types or a "
            "customer id (deleting every event is not offered; start a new store instead)."
        )
    if len(flt.event_ids) > MAX_IDS:
        raise ConfigError(
            f"{len(flt.event_ids)} event ids given; delete at most {MAX_IDS} at a time.",
            parameter="event_ids",
        )
    where = _Where()
    if flt.event_ids:
        where.clauses.append(f"event_id IN (SELECT event_id FROM {_IDS})")
    for name, value, op in (("start", flt.start, ">="), ("end", flt.end, "<")):
        if value:
            where.clauses.append(f"ts {op} {_stamp(store, value, name)}")
            where.params.append(value.strip())
    if flt.start and flt.end:
        first, last = _stamp(store, flt.start, "start"), _stamp(store, flt.end, "end")
        ordered = store.con.execute(
            f"SELECT {first} < {last}", [flt.start.strip(), flt.end.strip()]
        ).fetchall()[0][0]
        if not ordered:
            raise ConfigError(
                f"{flt.end!r} must be after the start time {flt.start!r} (start <= time < end).",
                parameter="end",
            )
    if flt.types:
        where.clauses.append(f"type IN ({', '.join('?' for _ in flt.types)})")
        where.params.extend(flt.types)
    if flt.user_id is not None:
        where.clauses.append("user_id = ?")
        where.params.append(flt.user_id)
    return where


def remove_events(store: Store, where_sql: str, params: list[Any]) -> dict[str, int]:
    """Delete the events `where_sql` selects, inside the caller's transaction, with their
    derived orders and the rollup (emptied; the caller rebuilds it with `refresh_rollup`).
    Returns `{"events": n, "orders": n, "order_lines": n}` removed."""
    con = store.con
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_DOOMED} AS SELECT DISTINCT coalesce(order_id, event_id) AS order_id "
        f"FROM events WHERE type = 'purchase' AND {where_sql}",
        params,
    )
    orders_before, lines_before = _orders_and_lines(store)
    deleted = con.execute(f"DELETE FROM events WHERE {where_sql}", params).fetchall()[0][0]
    if deleted:
        # Rebuilt from the purchases left: gone when none is, smaller when some are.
        derive_orders(store, f"SELECT order_id FROM {_DOOMED}")
        reset_rollup(store)
    con.execute(f"DROP TABLE {_DOOMED}")
    orders_after, lines_after = _orders_and_lines(store)
    return {
        "events": int(deleted),
        "orders": orders_before - orders_after,
        "order_lines": lines_before - lines_after,
    }


def _orders_and_lines(store: Store) -> tuple[int, int]:
    row = store.con.execute(
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines)"
    ).fetchall()
    return int(row[0][0]), int(row[0][1])


def delete_events(store: Store, flt: EventFilter, *, dry_run: bool = False) -> dict[str, Any]:
    """Delete the events matching `flt` (see the module docstring); with `dry_run`, only count them.

    Returns `{"filter", "dry_run", "matched", "deleted": {"events", "orders", "order_lines"},
    "rollup_rebuilt", "rebuild"}`; deleting nothing changes nothing (idempotent).
    """
    where = _where(store, flt)
    if flt.event_ids:
        store.con.register(_IDS, pa.table({"event_id": pa.array(list(flt.event_ids), pa.string())}))
    try:
        matched = int(
            store.con.execute(f"SELECT count(*) FROM events WHERE {where.sql}", where.params).fetchall()[0][0]
        )
        deleted = {"events": 0, "orders": 0, "order_lines": 0}
        if matched and not dry_run:
            with store.transaction():
                deleted = remove_events(store, where.sql, where.params)
    finally:
        if flt.event_ids:
            store.con.unregister(_IDS)
    rebuilt = bool(deleted["events"])
    if rebuilt:
        refresh_rollup(store)
    return {
        "filter": flt.to_dict(),
        "dry_run": dry_run,
        "matched": matched,
        "deleted": deleted,
        "rollup_rebuilt": rebuilt,
        "rebuild": list(STALE_UNTIL_RETRAIN) if rebuilt else [],
    }
