"""Offline evaluation for the Recommendations page: each model and the baselines on a held-out split."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cartwise.service.recs.state import stamp

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate


SECONDS_PER_INTERACTION = 3e-4
"""First-run estimate of the evaluation's cost per item event, before any run was timed: the demo
shop's ~2 million item events took about 10 minutes on 2 cores (issue 24). Later runs scale
the last run's own time instead (`estimate_seconds`)."""

_ITEM_EVENTS = (
    "FROM events WHERE item_id IS NOT NULL AND type IN ('view', 'add_to_cart', 'begin_checkout', 'purchase')"
)


def count_interactions(gate: StoreGate) -> int:
    """The item events an evaluation reads."""
    with gate.read(limited=False) as store:
        return int(store.con.execute(f"SELECT count(*) {_ITEM_EVENTS}").fetchall()[0][0])


def estimate_seconds(interactions: int, previous: dict[str, Any] | None) -> tuple[float, str]:
    """How long an evaluation of `interactions` item events should take, and on what basis: the
    previous report's seconds per interaction when it has them, else `SECONDS_PER_INTERACTION`."""
    if previous and previous.get("seconds") and previous.get("interactions"):
        rate = float(previous["seconds"]) / float(previous["interactions"])
        return interactions * rate, "the last evaluation's pace"
    return interactions * SECONDS_PER_INTERACTION, "a first-run estimate"


def evaluate_offline(gate: StoreGate, models: list[str]) -> dict[str, Any]:
    """Score `models` and the baselines on the store's item events, leaving out each user's last 5.

    The report of `cartwise.pipelines.recs.evaluate_from_file` (k = 10), with `evaluated_at`
    and its rows made JSON-safe (non-finite metrics become null), the `interactions` read and
    the `seconds` it took (the next run's estimate).
    """
    from cartwise.pipelines.recs import evaluate_from_file

    began = time.monotonic()
    with gate.read(limited=False) as store:
        table = store.arrow(f"SELECT user_id, item_id, epoch(ts) AS ts {_ITEM_EVENTS} ORDER BY ts")
    with tempfile.TemporaryDirectory() as tmp:
        import pyarrow.parquet as pq

        path = Path(tmp) / "interactions.parquet"
        pq.write_table(table, path)
        report = evaluate_from_file(
            path,
            user_col="user_id",
            item_col="item_id",
            time_col="ts",
            split="leave-last-5",
            k=10,
            models=models,
        )
    report["evaluated_at"] = stamp()
    report["models"] = [_clean(r) for r in report["models"]]
    report["interactions"] = table.num_rows
    report["seconds"] = round(time.monotonic() - began, 1)
    return report


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, float | np.floating):
            value = float(value)
            out[key] = None if not np.isfinite(value) else round(value, 6)
        elif isinstance(value, np.integer):
            out[key] = int(value)
        else:
            out[key] = value
    return out
