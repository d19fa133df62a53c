"""The events' timeline: `(ts, user_id, type)` of every stored event, sorted for funnels.

A funnel joins each step's events with the next step's per user, and groups the pairs per
user. The same joins and groups run faster when each user's rows lie together (measured,
not derived), and a scan for one event type then skips the row groups of the others. On a
simulated shop of 10M events a 3-step funnel over this copy took 0.70-0.77 s against
0.94-1.07 s over the events in arrival order (`bench/analytics.py`, BENCHMARKS.md).

The copy is sorted by (month, type, user, time): the month first, so that a funnel over a
date range still skips the months outside it. `refresh_rollup` appends the events stored
since its last refresh, sorted, as one block, and `event_timeline_months` counts per month
the rows sorted together and those appended after them. When a month's appended rows reach
half of its sorted ones, the month is rewritten as one sorted block: a store fed in small
batches keeps a few long sorted runs per month. Each rewrite makes the month's sorted part
at least 1.5 times larger, so a month's rewrites add up to at most three times its rows.

Readers take the timeline plus the events stored after the rollup's watermark, which the
timeline shares with the rollup (`stored_timeline`): answers are exact however stale it is.
"""

from __future__ import annotations

from typing import Any

TIMELINE = "event_timeline"
MONTHS = "event_timeline_months"
COLUMNS = ("ts", "user_id", "type")
RESORT_SHARE = 0.5
"""Rewrite a month when the rows appended after its last sort reach this share of the sorted ones."""
_SORT = "type, user_id, ts"
_MONTH = "date_trunc('month', ts)"


def clear_timeline(con: Any) -> None:
    """Empty the timeline (its events are folded again from the first one)."""
    con.execute(f"DELETE FROM {TIMELINE}")
    con.execute(f"DELETE FROM {MONTHS}")


def fold_timeline(con: Any, tail: str) -> int:
    """Append the events of the table or view `tail`, sorted, and rewrite the months whose
    appended rows reached `RESORT_SHARE` of their sorted ones. Runs inside the caller's
    transaction. Returns the number of months rewritten."""
    cols = ", ".join(COLUMNS)
    con.execute(f"INSERT INTO {TIMELINE} SELECT {cols} FROM {tail} ORDER BY {_MONTH}, {_SORT}")
    con.execute(
        f"CREATE TEMP TABLE _cw_block AS SELECT {_MONTH} AS month, count(*) AS n FROM {tail} "
        "WHERE ts IS NOT NULL GROUP BY ALL"
    )
    con.execute(
        f"UPDATE {MONTHS} m SET appended_rows = m.appended_rows + b.n FROM _cw_block b WHERE m.month = b.month"
    )
    # A month's first block is sorted as a whole.
    con.execute(
        f"INSERT INTO {MONTHS} SELECT month, n, 0 FROM _cw_block "
        f"WHERE month NOT IN (SELECT month FROM {MONTHS})"
    )
    con.execute("DROP TABLE _cw_block")
    due = con.execute(
        f"SELECT month FROM {MONTHS} WHERE appended_rows > 0 AND appended_rows >= ? * sorted_rows ORDER BY 1",
        [RESORT_SHARE],
    ).fetchall()
    for (month,) in due:
        where = "ts >= ? AND ts < ? + INTERVAL 1 MONTH"
        con.execute(
            f"CREATE TEMP TABLE _cw_month AS SELECT {cols} FROM {TIMELINE} WHERE {where}", [month, month]
        )
        con.execute(f"DELETE FROM {TIMELINE} WHERE {where}", [month, month])
        con.execute(f"INSERT INTO {TIMELINE} SELECT {cols} FROM _cw_month ORDER BY {_SORT}")
        con.execute("DROP TABLE _cw_month")
        con.execute(
            f"UPDATE {MONTHS} SET sorted_rows = sorted_rows + appended_rows, appended_rows = 0 WHERE month = ?",
            [month],
        )
    return len(due)
