"""The demo's live replay feeds the journeys, and their e-mail reaches the demo's own local
SMTP sink (a real server, a real replay through the collector)."""

from __future__ import annotations

import re
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from cartwise.core.settings import get_settings
from cartwise.pipelines.journey_library import apply_builtin_journeys
from cartwise.pipelines.journeys import apply_journey
from cartwise.service import keys as keys_job
from cartwise.service import live_demo
from cartwise.service.server_process import free_port
from cartwise.store import open_store

from .smtp_support import make_shop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from service_support import SERVER_ENV

QUICK = """\
name: quick-cart
trigger: {event: add_to_cart}
steps:
  - wait: 1s
  - send: {channel: email, template: abandoned_cart}
"""


@pytest.mark.slow
def test_the_replay_feeds_journeys_and_mail_goes_to_the_demo_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.duckdb"
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    ts = datetime.now().replace(microsecond=0) - timedelta(minutes=10)
    with open_store(db, settings=settings) as store:
        make_shop(store, 3)
        store.append("items", pa.table({"item_id": ["sku-1"], "title": ["Chef knife"], "price": [49.0]}))
        store.append(
            "events",
            pa.table(
                {
                    "event_id": ["e1", "e2", "e3"],
                    "ts": pa.array([ts, ts, ts + timedelta(seconds=1)], pa.timestamp("us")),
                    "user_id": ["u00000", "u00001", "u00002"],
                    "session_id": ["s0", "s1", "s2"],
                    "type": ["add_to_cart", "view", "view"],
                    "item_id": ["sku-1", "sku-1", "sku-1"],
                    "price": [49.0, 49.0, 49.0],
                }
            ),
        )
        applied = apply_builtin_journeys(store, settings, ["browse-abandonment"])
        apply_journey(store, settings, QUICK)
        _, read_key = keys_job.create_key(store, scope="read", name="test-read")
    assert applied == [{"journey": "browse-abandonment", "version": 1, "changed": True}]
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)
    demo_settings = get_settings(db=db, port=free_port())
    stop = threading.Event()
    thread = threading.Thread(
        target=live_demo.serve_demo, args=(demo_settings,), kwargs={"speed": 600.0, "stop": stop}
    )
    thread.start()
    journeys: dict[str, dict[str, int]] = {}
    try:
        url = f"http://127.0.0.1:{demo_settings.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and thread.is_alive():
            try:
                body = httpx.get(
                    url + "/api/v1/journeys", headers={"Authorization": f"Bearer {read_key}"}
                ).json()
                journeys = {j["journey"]: j["runs"] for j in body["journeys"]}
            except httpx.HTTPError:
                pass
            if (
                journeys.get("quick-cart", {}).get("done", 0) >= 1
                and journeys["browse-abandonment"]["done"] == 2
            ):
                break
            time.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    # The replayed add_to_cart ran the quick journey to its end; both viewers got their reminder
    # after the 4 hours' wait on the replay's clock: 24 s at 600x (it would be 4 real hours).
    assert journeys["quick-cart"]["done"] >= 1
    assert journeys["browse-abandonment"]["done"] == 2
    # Each pass of the looping replay is a new add_to_cart (fresh event ids): one message each.
    sent = re.search(r"The demo's journeys sent (\d+) e-mails to the local sink", capsys.readouterr().err)
    assert sent is not None and int(sent.group(1)) >= 3
