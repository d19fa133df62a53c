"""The demo's live replay asks for recommendations like a storefront, so the Recommendations
page's online figures move: a real server, a real replay over HTTP."""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from cartwise.service.live_demo import replay
from cartwise.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from service_support import now_naive, serve_shop


def _shop(store: Store) -> None:
    store.append(
        "items",
        pa.table({"item_id": [f"sku-{i}" for i in range(6)], "title": [f"Item {i}" for i in range(6)]}),
    )


def _day() -> pa.Table:
    """Three sessions viewing every item, a second apart (the replay re-times them to now)."""
    ts = now_naive() - timedelta(days=1)
    rows = [
        (f"e{s}-{i}", ts + timedelta(seconds=s * 6 + i), f"u{s}", f"s{s}", "view", f"sku-{i}")
        for s in range(3)
        for i in range(6)
    ]
    names = ("event_id", "ts", "user_id", "session_id", "type", "item_id")
    columns = {name: [r[k] for r in rows] for k, name in enumerate(names)}
    for name in ("quantity", "price", "order_id", "revenue", "properties"):
        columns[name] = [None] * len(rows)
    return pa.table(columns)


def test_replay_requests_recommendations_and_the_online_figures_move(tmp_path: Path) -> None:
    table = _day()
    with serve_shop(tmp_path, _shop) as run:
        with run.client("read") as api:
            before = api.get("/api/v1/pages/recommendations").json()["data"]["online"]
        stop = threading.Event()
        sent = replay(
            run.url,
            run.keys["collect"],
            table,
            speed=50.0,
            stop=stop,
            on_batch=lambda n: stop.set() if n >= table.num_rows else None,
            recs_key=run.keys["read"],
        )
        assert sent == table.num_rows
        with run.client("read") as api:
            online = api.get("/api/v1/pages/recommendations").json()["data"]["online"]
    assert before["requests"] == 0
    assert online["requests"] == 3  # one list per session start
    assert online["impressions"] > 0
    # Views of listed items carry the list's request_id: the click-through rate is no longer 0.
    assert online["ctr"] > 0
