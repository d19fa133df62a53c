"""Impressions and attribution: what was shown, and what shoppers did with it.

Every served list is buffered and written to `rec_impressions` (one row per item shown, with
the request id, and the experiment and variant when a recommender experiment chose the model)
every `flush_seconds`. Attribution happens at read time: a view, add-to-cart
or purchase of a shown item counts for the impression when the event's
`properties.request_id` names the request, or, without a request id, when the same user acts
on the item within `attribution_hours` after it was shown.

Also the read-backs beside them on the Recommendations page: a user's latest item events and
the customers to try recommendations on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cartwise.pipelines.recs_ab import attributed_sql
from cartwise.service.recs.state import now

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate

# request_id, ts, user_id, session_id, item_id, position, score, reason, model_version, surface,
# experiment, variant (both None outside a recommender experiment)
Impression = tuple[Any, ...]
_NAMES = ("request_id", "ts", "user_id", "session_id", "item_id", "position", "score", "reason")


class ImpressionBuffer:
    """Impressions waiting to be written; `add` is cheap, `flush` writes them in one append."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self._rows: list[Impression] = []

    def add(self, rows: Sequence[Impression]) -> None:
        with self.lock:
            self._rows.extend(rows)

    def drop_users(self, user_ids: set[str]) -> int:
        """Forget buffered impressions of these users (erased customers); returns rows dropped."""
        with self.lock:
            kept = [row for row in self._rows if row[2] not in user_ids]
            dropped, self._rows = len(self._rows) - len(kept), kept
        return dropped

    def flush(self, gate: StoreGate) -> int:
        """Write buffered impressions to `rec_impressions`; returns rows written."""
        with self.lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        columns = list(zip(*rows, strict=True))
        table = pa.table(
            {
                **{name: columns[i] for i, name in enumerate(_NAMES) if name != "ts"},
                "ts": pa.array(columns[1], pa.timestamp("us")),
                "model_version": columns[8],
                "surface": columns[9],
                "experiment": pa.array(columns[10], pa.string()),
                "variant": pa.array(columns[11], pa.string()),
            }
        )
        with gate as store:
            store.append("rec_impressions", table)
        return len(rows)


def online_metrics(gate: StoreGate, attribution_hours: float, days: int = 30) -> dict[str, Any]:
    """Impressions and the actions attributed to them (see the module docstring), over `days`."""
    since = now() - timedelta(days=days)
    window = timedelta(hours=attribution_hours)
    with gate.read() as store:
        row = store.con.execute(
            f"""WITH {attributed_sql("SELECT * FROM rec_impressions WHERE ts >= $since")}
               SELECT (SELECT count(*) FROM imp), (SELECT count(DISTINCT request_id) FROM imp),
                      count(*) FILTER (WHERE clicked), count(*) FILTER (WHERE carted),
                      count(*) FILTER (WHERE bought), coalesce(sum(revenue), 0)
               FROM hit""",
            {"since": since, "window": window},
        ).fetchall()[0]
        by_day = store.con.execute(
            "SELECT ts::DATE, count(*), count(DISTINCT request_id) FROM rec_impressions WHERE ts >= ? "
            "GROUP BY 1 ORDER BY 1",
            [since],
        ).fetchall()
    impressions, requests, clicks, carts, purchases, revenue = (
        int(row[0]),
        int(row[1]),
        int(row[2]),
        int(row[3]),
        int(row[4]),
        float(row[5]),
    )
    share = (lambda x: x / impressions) if impressions else (lambda x: 0.0)
    return {
        "days": days,
        "attribution_hours": attribution_hours,
        "requests": requests,
        "impressions": impressions,
        "clicks": clicks,
        "add_to_carts": carts,
        "purchases": purchases,
        "revenue": round(revenue, 2),
        "ctr": share(clicks),
        "add_to_cart_rate": share(carts),
        "conversion": share(purchases),
        "revenue_per_mille": round(share(revenue) * 1000, 4),
        "by_day": [{"day": d.isoformat(), "impressions": i, "requests": r} for d, i, r in by_day],
    }


def user_history(gate: StoreGate, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The user's latest item events (newest first), for the dashboard's try-it panel."""
    with gate.read() as store:
        rows = store.con.execute(
            """SELECT e.ts, e.type, e.item_id, i.title, i.category FROM events e
               LEFT JOIN items i USING (item_id)
               WHERE e.user_id = ? AND e.item_id IS NOT NULL AND e.type IN ('view', 'add_to_cart', 'purchase')
               ORDER BY e.ts DESC, e.event_id LIMIT ?""",
            [user_id, limit],
        ).fetchall()
    return [
        {
            "ts": r[0].isoformat() + "Z",
            "type": r[1],
            "item_id": r[2],
            "title": r[3] or r[2],
            "category": r[4],
        }
        for r in rows
    ]


def top_buyers(gate: StoreGate, limit: int = 8) -> list[str]:
    """Customers with the most purchases, to try recommendations on."""
    with gate.read() as store:
        rows = store.con.execute(
            "SELECT user_id FROM events WHERE type = 'purchase' GROUP BY 1 ORDER BY count(*) DESC, user_id LIMIT ?",
            [limit],
        ).fetchall()
    return [str(r[0]) for r in rows]
