"""Real-time KPIs over sliding windows, updated as events arrive, without rescanning history.

Events fall into per-minute buckets (by their own timestamp, UTC). Each bucket keeps
counters (views, add-to-carts, revenue, events) and exact sets (users, sessions, sessions
that bought, orders), so distinct counts over a window are exact unions of at most 1,440
buckets. Buckets older than a day are dropped. The store is read once at start-up (`seed`).

Definitions, per window (last 5 minutes, hour, day, ending now):
- active_users: distinct `user_id`; sessions: distinct `session_id` (the user id when absent)
- views, add_to_carts: events of type `view` / `add_to_cart`
- orders: distinct `order_id` of `purchase` events (the event id when absent)
- revenue: sum of `revenue` of `purchase` events minus refunds' (refund revenue is negative)
- conversion_rate: sessions with a purchase / sessions (0 when there are no sessions)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cartwise.core.times import utc_iso
from cartwise.store import Store

WINDOWS: dict[str, int] = {"5m": 5, "1h": 60, "1d": 1440}
"""Window name -> length in minutes."""
_MINUTE_US = 60_000_000


@dataclass
class _Bucket:
    events: int = 0
    views: int = 0
    add_to_carts: int = 0
    revenue: float = 0.0
    users: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    buying_sessions: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)


def _rows(values: list[Any], rows: list[int] | None) -> list[Any]:
    """`values` at positions `rows` (all of them for None)."""
    return values if rows is None else [values[i] for i in rows]


def _minute(ts: datetime) -> int:
    """Minutes since the epoch of a naive-UTC or aware timestamp."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return int((ts - datetime(1970, 1, 1)).total_seconds() // 60)


class LiveKPIs:
    """Thread-safe sliding-window KPIs. `add` events, read `snapshot()`; `version` grows on change."""

    def __init__(self, *, horizon_minutes: int = WINDOWS["1d"]) -> None:
        self._horizon = horizon_minutes
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()
        self.version = 0

    def add(self, events: Iterable[Mapping[str, Any]], *, now: datetime | None = None) -> int:
        """Count events given as dicts of canonical columns (ts as a datetime); see `add_table`."""
        rows = [ev for ev in events if isinstance(ev.get("ts"), datetime)]
        users = [str(ev.get("user_id")) for ev in rows]
        return self._add(
            [_minute(ev["ts"]) for ev in rows],
            users,
            [str(ev.get("session_id") or user) for ev, user in zip(rows, users, strict=True)],
            [ev.get("type") for ev in rows],
            [str(ev.get("order_id") or ev.get("event_id")) for ev in rows],
            [ev.get("revenue") for ev in rows],
            now,
        )

    def add_table(self, table: pa.Table, *, now: datetime | None = None) -> int:
        """Count canonical events (columns ts, user_id, session_id, type, order_id, event_id, revenue).

        Events older than the horizon or more than a minute in the future are ignored;
        returns how many were counted.
        """
        if table.num_rows == 0:
            return 0
        # Few Arrow calls: each costs 10-40 us, more than the list work on a 100-event batch.
        ts = table["ts"]
        if ts.type != pa.timestamp("us"):
            ts = pc.cast(ts, pa.timestamp("us"))
        minutes: list[int | None] = (ts.to_numpy().view("int64") // _MINUTE_US).tolist()
        if ts.null_count:
            minutes = [
                None if missing else m for m, missing in zip(minutes, ts.is_null().to_pylist(), strict=True)
            ]
        users, sessions = table["user_id"].to_pylist(), table["session_id"].to_pylist()
        if not (pa.types.is_string(table["user_id"].type) and table["user_id"].null_count == 0):
            users = [str(u) for u in users]
        sessions = [s or u for s, u in zip(sessions, users, strict=True)]
        if not pa.types.is_string(table["session_id"].type):
            sessions = [str(s) for s in sessions]
        kinds = table["type"].to_pylist()
        orders: list[Any] = []
        revenues: list[Any] = []
        if "purchase" in kinds or "refund" in kinds:  # only then are orders and revenue read
            orders = pc.coalesce(table["order_id"], table["event_id"]).to_pylist()
            revenues = table["revenue"].to_pylist()
        return self._add(minutes, users, sessions, kinds, orders, revenues, now)

    def _add(
        self,
        minutes: list[int | None],
        users: list[str],
        sessions: list[str],
        kinds: list[Any],
        orders: list[Any],
        revenues: list[Any],
        now: datetime | None,
    ) -> int:
        """Count events given column-wise; `orders` and `revenues` may be empty when no event
        is a purchase or refund. Works per minute on whole lists (set updates, list counts):
        a per-event loop cost the collector 0.46 ms per 100-event request."""
        current = _minute(now or datetime.now(UTC))
        oldest = current - self._horizon + 1
        distinct = set(minutes)
        groups: dict[int | None, list[int] | None] = {}
        if len(distinct) == 1:
            groups[distinct.pop()] = None  # the usual batch: every event in one minute
        else:
            rows_of: dict[int | None, list[int]] = {}
            for i, minute in enumerate(minutes):
                rows_of.setdefault(minute, []).append(i)
            groups.update(rows_of)
        counted = 0
        with self._lock:
            for minute, rows in groups.items():
                if minute is None or minute < oldest or minute > current + 1:
                    continue
                bucket = self._buckets.get(minute)
                if bucket is None:
                    bucket = self._buckets[minute] = _Bucket()
                kind, session = _rows(kinds, rows), _rows(sessions, rows)
                bucket.events += len(kind)
                bucket.users.update(_rows(users, rows))
                bucket.sessions.update(session)
                bucket.views += kind.count("view")
                bucket.add_to_carts += kind.count("add_to_cart")
                if "purchase" in kind or "refund" in kind:
                    order, revenue = _rows(orders, rows), _rows(revenues, rows)
                    for j, name in enumerate(kind):
                        if name == "purchase":
                            bucket.orders.add(str(order[j]))
                            bucket.buying_sessions.add(session[j])
                        if name in ("purchase", "refund"):
                            bucket.revenue += float(revenue[j] or 0.0)
                counted += len(kind)
            if counted:
                self.version += 1
            self._expire(current)
        return counted

    def _expire(self, current: int) -> None:
        oldest = current - self._horizon + 1
        for minute in [m for m in self._buckets if m < oldest]:
            del self._buckets[minute]

    def seed(self, store: Store, *, now: datetime | None = None) -> int:
        """Fill the buckets from the store's events of the last horizon; returns events counted."""
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        since = moment - timedelta(minutes=self._horizon)
        table = store.con.sql(
            "SELECT event_id, ts, user_id, session_id, type, order_id, revenue FROM events WHERE ts >= $1 AND ts <= $2",
            params=[since, moment + timedelta(minutes=1)],
        ).to_arrow_table()
        return self.add_table(table, now=moment)

    def reseed(self, store: Store, *, now: datetime | None = None) -> int:
        """Forget every count and `seed` again: after events were deleted or a customer erased,
        the windows hold no trace of them."""
        with self._lock:
            self._buckets.clear()
            self.version += 1
        return self.seed(store, now=now)

    def snapshot(self, *, now: datetime | None = None) -> dict[str, Any]:
        """KPIs per window plus events per minute over the last hour (oldest first); the
        last minute, still in progress, has `partial` true."""
        moment = now or datetime.now(UTC)
        current = _minute(moment)
        with self._lock:
            self._expire(current)
            windows = {name: self._window(current, length) for name, length in WINDOWS.items()}
            per_minute = [
                {
                    "minute": utc_iso(datetime(1970, 1, 1) + timedelta(minutes=m)),
                    "events": self._buckets[m].events if m in self._buckets else 0,
                    # The current minute is still filling: a chart must not read it as a drop.
                    "partial": m == current,
                }
                for m in range(current - 59, current + 1)
            ]
            version = self.version
        return {
            "as_of": moment.isoformat(),
            "version": version,
            "windows": windows,
            "events_per_minute": per_minute,
        }

    def _window(self, current: int, length: int) -> dict[str, Any]:
        users: set[str] = set()
        sessions: set[str] = set()
        buying: set[str] = set()
        orders: set[str] = set()
        views = carts = events = 0
        revenue = 0.0
        for minute in range(current - length + 1, current + 2):
            bucket = self._buckets.get(minute)
            if bucket is None:
                continue
            users |= bucket.users
            sessions |= bucket.sessions
            buying |= bucket.buying_sessions
            orders |= bucket.orders
            views += bucket.views
            carts += bucket.add_to_carts
            events += bucket.events
            revenue += bucket.revenue
        return {
            "minutes": length,
            "events": events,
            "active_users": len(users),
            "sessions": len(sessions),
            "views": views,
            "add_to_carts": carts,
            "orders": len(orders),
            "revenue": round(revenue, 2),
            "conversion_rate": round(len(buying) / len(sessions), 4) if sessions else 0.0,
        }
