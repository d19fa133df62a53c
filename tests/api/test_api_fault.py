"""Crash safety: SIGKILL the server while clients post; every acknowledged event is stored exactly once."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from service_support import SERVER_ENV, now_naive, seed_store

from cartwise.core.settings import get_settings
from cartwise.service.server_process import ServerProcess
from cartwise.store import open_store


def _poster(url: str, key: str, worker: int, acked: list[str], stop: threading.Event) -> None:
    n = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
        while not stop.is_set():
            ids = [f"w{worker}-{n + i}" for i in range(100)]
            n += 100
            ts = now_naive().isoformat()
            events = [
                {"event_id": i, "ts": ts, "user_id": f"u{worker}", "type": "view", "item_id": "sku-1"}
                for i in ids
            ]
            try:
                response = c.post("/api/v1/events", json={"events": events})
            except httpx.HTTPError:
                return  # the server is gone: nothing of this batch was acknowledged
            if response.status_code == 202:
                assert response.json()["accepted"] == 100
                acked.extend(ids)


@pytest.mark.slow
def test_acknowledged_events_survive_sigkill_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    keys, _ = seed_store(db)
    server = ServerProcess(db, log_path=tmp_path / "server.log", env=SERVER_ENV).start()
    acked: list[str] = []
    stop = threading.Event()
    workers = [
        threading.Thread(target=_poster, args=(server.url, keys["collect"], w, acked, stop), daemon=True)
        for w in range(3)
    ]
    try:
        for w in workers:
            w.start()
        time.sleep(1.5)
        assert server.stop(sig=signal.SIGKILL) == -signal.SIGKILL
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=15)
        server.stop()
    assert len(acked) >= 500, "the clients should have had batches acknowledged before the kill"

    # Restart: the log is replayed into the store, then a clean stop flushes everything.
    restarted = ServerProcess(db, port=server.port, log_path=tmp_path / "server.log", env=SERVER_ENV).start()
    with httpx.Client(base_url=restarted.url, headers={"Authorization": f"Bearer {keys['read']}"}) as c:
        assert c.get("/api/v1/health").json()["status"] == "ok"
    # uvicorn re-raises SIGTERM after its graceful shutdown, so -SIGTERM is a clean exit too.
    assert restarted.stop() in (0, -signal.SIGTERM)
    assert (
        "service stopped"
        in (tmp_path / "server.log").read_text(encoding="utf-8").rsplit("Started server process", 1)[1]
    )

    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    with open_store(db, settings=settings, read_only=True) as store:
        store.con.execute("SELECT 1").fetchall()  # complete the half-read result opening leaves
        store.con.register("acked", pa.table({"event_id": acked}))
        rows = store.con.execute(
            """SELECT count(*) AS acked, count(e.event_id) AS found,
                      count(*) FILTER (WHERE e.n <> 1) AS not_once
               FROM acked a LEFT JOIN (SELECT event_id, count(*) AS n FROM events GROUP BY 1) e USING (event_id)"""
        ).fetchall()
        dupes = store.con.execute("SELECT count(*) - count(DISTINCT event_id) FROM events").fetchall()
    total, found, not_once = rows[0]
    assert total == len(set(acked))
    assert found == total, f"{total - found} acknowledged events are missing after the crash"
    assert not_once == 0
    assert dupes[0][0] == 0
    assert not list((tmp_path / "crash_eventlog").glob("segment-*.jsonl")), (
        "a clean stop leaves no log behind"
    )
