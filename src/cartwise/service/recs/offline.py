"""Offline evaluation for the Recommendations page: each model and the baselines on a held-out split."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cartwise.service.recs.state import stamp

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate


def evaluate_offline(gate: StoreGate, models: list[str]) -> dict[str, Any]:
    """Score `models` and the baselines on the store's item events, leaving out each user's last 5.

    The report of `cartwise.pipelines.recs.evaluate_from_file` (k = 10), with `evaluated_at`
    and its rows made JSON-safe (non-finite metrics become null).
    """
    from cartwise.pipelines.recs import evaluate_from_file

    with gate.read(limited=False) as store:
        table = store.arrow(
            "SELECT user_id, item_id, epoch(ts) AS ts FROM events WHERE item_id IS NOT NULL "
            "AND type IN ('view', 'add_to_cart', 'begin_checkout', 'purchase') ORDER BY ts"
        )
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
