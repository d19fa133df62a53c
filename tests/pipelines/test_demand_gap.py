"""`demand build` on a weekly history with a gap (issue 24.16): a model that cannot train is left out."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np

from cartwise.core.errors import DataWarning
from cartwise.ingest import ingest_file
from cartwise.pipelines.demand import build_forecasts
from cartwise.store import Store


def _shop_with_a_gap(path: Path) -> Path:
    """40 weeks of purchases of three items; the shop sold nothing in weeks 12 to 16 (missing data)."""
    rng = np.random.default_rng(0)
    start = dt.datetime(2023, 1, 2, 10)
    lines, n = ["ts,user_id,type,item_id,quantity,price,order_id"], 0
    for week in range(40):
        if 12 <= week < 17:
            continue
        for item in ("i1", "i2", "i3"):
            for _ in range(int(rng.poisson(4)) + 1):
                n += 1
                ts = start + dt.timedelta(weeks=week, days=int(rng.integers(0, 7)))
                lines.append(f"{ts:%Y-%m-%dT%H:%M:%SZ},u{n % 50},purchase,{item},1,10.0,o{n}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_horizon_the_global_model_cannot_train_for_still_builds_with_the_others(
    store: Store, tmp_path: Path
) -> None:
    ingest_file(store, "events", _shop_with_a_gap(tmp_path / "events.csv"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = build_forecasts(store, horizon=12, elasticities=False)
    said = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("left out of the automatic choice" in s and s.startswith("item units: ") for s in said), said
    assert "lightgbm" not in report["levels"]["item_units"]["models"]
    forecasts = store.arrow(
        "SELECT id, count(*) AS n FROM forecasts WHERE level = 'item' GROUP BY id"
    ).to_pylist()
    assert sorted((r["id"], r["n"]) for r in forecasts) == [("i1", 12), ("i2", 12), ("i3", 12)]
