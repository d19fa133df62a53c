"""The demo's live replay: real server, real collector, the live KPIs move."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from service_support import SERVER_ENV, now_naive, seed_store

from cartwise.core.settings import get_settings
from cartwise.service import live_demo
from cartwise.service.server_process import free_port
from cartwise.store import Store


def test_retime_moves_events_to_now_and_renames_ids() -> None:
    origin = now_naive() - timedelta(days=3)
    rows = [
        {"event_id": "e1", "ts": origin, "user_id": "u", "session_id": "s", "type": "view", "order_id": None},
        {
            "event_id": "e2",
            "ts": origin + timedelta(hours=2),
            "user_id": "u",
            "session_id": "s",
            "type": "purchase",
            "order_id": "o",
        },
    ]
    start = now_naive()
    out = live_demo.retime(rows, start=start, origin=origin, speed=24.0, loop=3)
    assert out[0]["ts"] == start.isoformat() + "Z"
    assert out[1]["ts"] == (start + timedelta(minutes=5)).isoformat() + "Z"  # two hours at 24x
    assert [e["event_id"] for e in out] == ["live3-e1", "live3-e2"]
    assert out[1]["order_id"] == "live3-o" and out[0]["session_id"] == "live3-s"
    assert "order_id" not in out[0]  # nulls are left out, not sent as null


@pytest.mark.slow
def test_serve_demo_replays_traffic_into_the_live_kpis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "demo.duckdb"
    keys, _ = seed_store(db)
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)
    settings = get_settings(db=db, port=free_port())
    stop = threading.Event()
    # A 600x replay sends the seeded ten-minute-old events within a second or two.
    thread = threading.Thread(
        target=live_demo.serve_demo, args=(settings,), kwargs={"speed": 600.0, "stop": stop}
    )
    thread.start()
    try:
        url = f"http://127.0.0.1:{settings.port}"
        deadline = time.monotonic() + 60
        orders = 0
        while time.monotonic() < deadline and orders < 2 and thread.is_alive():
            try:
                live = httpx.get(
                    url + "/api/v1/live", headers={"Authorization": f"Bearer {keys['read']}"}
                ).json()
                orders = live["windows"]["5m"]["orders"]
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        # The seeded order (ten minutes old) plus its replayed copy, now.
        assert orders >= 1
        assert live["windows"]["5m"]["events"] >= 5
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()


@pytest.mark.slow
def test_sigterm_stops_the_demo_and_its_server(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    port = free_port()
    env = {**os.environ, **SERVER_ENV}
    args = [
        "--users",
        "300",
        "--items",
        "40",
        "--days",
        "30",
        "--no-train",
        "--db",
        str(db),
        "--port",
        str(port),
    ]
    demo = subprocess.Popen(
        [sys.executable, "-m", "cartwise", "demo", *args], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert demo.stderr is not None
        for line in demo.stderr:  # wait until it serves
            if line.startswith("Replaying"):
                break
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    # The server child is gone too: nothing answers, and the store is free to open.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health")
    with Store(db, settings=get_settings(db=db), read_only=True) as store:
        assert store.count("events") > 0
