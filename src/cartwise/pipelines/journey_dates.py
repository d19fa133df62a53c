"""Dates of journeys: a customer's replenishment run-out dates, and when a wait ends.

A wait given as a duration (`wait: 1h`, a `wait_for` timeout) ends `seconds / time_scale`
later (`wait_end`): the `journey_time_scale` setting, 1 except in demos, which set their
replay's speed so that a replayed hour's wait passes with the replayed hour. The end is
stored as a real UTC time (`due_at`), so a restart resumes the wait where it was, whatever the
scale then. A wait until a time of day (`next_local_time`) is never scaled: `{until: "09:00"}`
is the customer's real local 09:00, because the replay re-times events to the real clock and
a "09:00" on a sped-up clock would fall at a different real hour every day. (Running the
engine's clock faster instead would store times in the future and lose its origin at a restart.)
"""

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


def wait_end(now: datetime, seconds: float, time_scale: float = 1.0) -> datetime:
    """When a wait of `seconds` that starts at `now` ends, on a clock `time_scale` times faster
    than real time: `now + seconds / time_scale` (naive UTC, like `now`)."""
    return now + timedelta(seconds=seconds / time_scale)


def next_local_time(now: datetime, zone: ZoneInfo, clock: str) -> datetime:
    """The first instant after `now` (naive UTC) when the local time in `zone` is `clock`
    (HH:MM), as naive UTC. A time skipped by a clock change falls on the hour after."""
    hour, minute = (int(p) for p in clock.split(":"))
    local = now.replace(tzinfo=UTC).astimezone(zone)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour, minute=minute)
    return candidate.astimezone(UTC).replace(tzinfo=None)


__all__ = ["REPLENISH_DAYS", "next_local_time", "replenishment_entries", "wait_end"]
