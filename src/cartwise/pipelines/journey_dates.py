"""Dates of journeys: a customer's replenishment run-out dates, and `wait: {until: "HH:MM"}`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cartwise.store import Store

REPLENISH_DAYS = 7
"""A run-out date enters the replenishment journey for 7 days after it (not for older ones)."""


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def replenishment_entries(store: Store, now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """(user, run key, context) for each customer and item bought at least twice whose expected
    run-out (last purchase + the customer's own mean interval between purchases of it: (last -
    first) / (purchases - 1)) fell within the last REPLENISH_DAYS before `now`; one item per
    customer (the first by item id). A purchase since moves the date, so it is not due."""
    rows = store.con.execute(
        """WITH buys AS (
            SELECT user_id, item_id, ts, any_value(price) AS price
            FROM events WHERE type = 'purchase' AND item_id IS NOT NULL AND user_id IS NOT NULL
            GROUP BY user_id, item_id, ts),
        per AS (
            SELECT user_id, item_id, count(*) AS n, min(ts) AS first, max(ts) AS last,
                   arg_max(price, ts) AS price
            FROM buys GROUP BY user_id, item_id HAVING count(*) >= 2)
        SELECT user_id, item_id, last, price, last + (last - first) / (n - 1) AS runs_out
        FROM per
        WHERE last + (last - first) / (n - 1) BETWEEN ? AND ?
        ORDER BY user_id, item_id""",
        [now - timedelta(days=REPLENISH_DAYS), now],
    ).fetchall()
    seen: set[str] = set()
    out = []
    for user_id, item_id, last, price, runs_out in rows:
        if user_id in seen:
            continue  # one run per customer at a time
        seen.add(user_id)
        out.append(
            (
                user_id,
                f"replenishment:{item_id}:{_iso(last)}",
                {"trigger_ts": _iso(runs_out), "items": [{"item_id": item_id, "price": price}]},
            )
        )
    return out


def next_local_time(now: datetime, zone: ZoneInfo, clock: str) -> datetime:
    """The first instant after `now` (naive UTC) when the local time in `zone` is `clock`
    (HH:MM), as naive UTC. A time skipped by a clock change falls on the hour after."""
    hour, minute = (int(p) for p in clock.split(":"))
    local = now.replace(tzinfo=UTC).astimezone(zone)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour, minute=minute)
    return candidate.astimezone(UTC).replace(tzinfo=None)


__all__ = ["REPLENISH_DAYS", "next_local_time", "replenishment_entries"]
