"""`journey_time_scale`: durations of journey waits on a faster clock (the demo's replay), with
stored times still real; and the journey logs, which name no customer (issue 21)."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from cartwise.core.errors import ConfigError
from cartwise.core.settings import get_settings
from cartwise.pipelines.journey_engine import JourneyEngine, next_local_time
from cartwise.pipelines.journeys import apply_journey
from cartwise.service.service import Service
from cartwise.store import open_store

from .smtp_support import SmtpServer, make_shop, settings_for_smtp
from .test_journeys_engine import Clock, add_items, events

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from service_support import serve_shop

HOUR_THEN_DAY = """\
name: sped-up
trigger: {event: add_to_cart}
steps:
  - wait: 1h
  - send: {channel: email, template: abandoned_cart}
  - wait_for:
      event: purchase
      timeout: 1d
      on_timeout:
        - send: {channel: email, template: welcome}
"""


def _due_and_entered(store: Any) -> tuple[datetime, datetime]:
    row = store.con.execute("SELECT due_at, entered_at FROM journey_runs WHERE state = 'waiting'").fetchall()
    assert len(row) == 1, row
    return row[0][0], row[0][1]


@pytest.mark.parametrize("scale", [1.0, 60.0])
def test_a_waits_duration_is_divided_by_the_scale_and_stored_as_real_time(
    tmp_path: Path, smtp: SmtpServer, scale: float
) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port, journey_time_scale=scale)
    clock = Clock()
    entered = clock.now
    hour = 3600 / scale  # engine seconds a 1h wait lasts: 3600 by default, 60 at scale 60
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 1)
        add_items(store)
        apply_journey(store, settings, HOUR_THEN_DAY)
        cart = events(("e1", "u00000", "add_to_cart", "sku-1", 49.5), at=clock.now)
        store.append("events", cart)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            assert engine.handle_events(cart) == 1
            # The durable timer is the engine clock's (real) time, not a time on a sped-up clock.
            assert _due_and_entered(store) == (entered + timedelta(seconds=hour), entered)
            clock.tick(hour - 1)
            engine.run_due()
            assert smtp.sink.messages == []
            clock.tick(2)
            engine.run_due()
            assert [m["Subject"] for m in smtp.sink.messages] == ["You left something in your cart"]
            # The wait_for's day-long timeout is scaled too: 24 min at 60, a day at 1.
            due, _ = _due_and_entered(store)
            assert due == clock.now + timedelta(seconds=86400 / scale)
            clock.tick(86400 / scale - 1)
            engine.run_due()
            assert len(smtp.sink.messages) == 1
            clock.tick(2)
            engine.run_due()
        finally:
            engine.close()
    assert [m["Subject"] for m in smtp.sink.messages] == ["You left something in your cart", "Welcome"]


def test_a_wait_until_a_time_of_day_is_not_scaled(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port, journey_time_scale=60)
    clock = Clock()
    text = HOUR_THEN_DAY.replace("wait: 1h", 'wait: {until: "09:00"}')
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 1)  # a customer in DE: Europe/Berlin
        add_items(store)
        apply_journey(store, settings, text)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            engine.handle_events(events(("e1", "u00000", "add_to_cart", "sku-1", 49.5), at=clock.now))
            due, _ = _due_and_entered(store)
        finally:
            engine.close()
    assert due == next_local_time(clock.now, ZoneInfo("Europe/Berlin"), "09:00")  # the real local 09:00


def test_the_scale_is_a_setting_from_one_with_a_clear_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().journey_time_scale == 1.0
    monkeypatch.setenv("CARTWISE_JOURNEY_TIME_SCALE", "24")
    assert get_settings().journey_time_scale == 24.0
    monkeypatch.setenv("CARTWISE_JOURNEY_TIME_SCALE", "0.5")
    with pytest.raises(ConfigError, match="`journey_time_scale`: Input should be greater than or equal to 1"):
        get_settings()


def test_a_failed_run_is_logged_without_the_customer(
    tmp_path: Path, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    # The shop has no CLV yet: the branch's rule fails for this run when it is walked.
    text = """\
name: big-spenders
trigger: {event: add_to_cart}
steps:
  - branch:
      if: "clv_12m > 50"
      then: [{send: {channel: email, template: welcome}}]
"""
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 1)
        add_items(store)
        apply_journey(store, settings, text)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            with caplog.at_level(logging.WARNING, logger="cartwise.journeys"):
                engine.handle_events(events(("e1", "u00000", "add_to_cart", "sku-1", 49.5), at=clock.now))
        finally:
            engine.close()
        state = store.con.execute("SELECT state FROM journey_runs").fetchall()
    assert state == [("exited",)]
    stopped = [r for r in caplog.records if "a run stopped" in r.getMessage()]
    assert len(stopped) == 1
    message = stopped[0].getMessage()
    assert message.startswith("journey big-spenders v1: a run stopped at step 0 (")
    assert "u00000" not in message and "example.test" not in message
    assert not any("u00000" in r.getMessage() for r in caplog.records)


def test_the_service_runs_a_60s_wait_in_about_a_second_at_scale_60(tmp_path: Path, smtp: SmtpServer) -> None:
    text = """\
name: quick
trigger: {event: add_to_cart}
steps:
  - wait: 60s
  - send: {channel: email, template: abandoned_cart}
"""

    def prepare(store: Any) -> None:
        make_shop(store, 2)
        store.append("items", pa.table({"item_id": ["sku-1"], "title": ["Chef knife"], "price": [49.5]}))

    env = {
        "CARTWISE_SMTP_PORT": str(smtp.port),
        "CARTWISE_SMTP_FROM": "shop@cartwise.test",
        "CARTWISE_JOURNEY_TIME_SCALE": "60",
    }
    with serve_shop(tmp_path, prepare, env=env) as run:
        with run.client("admin") as admin:
            assert admin.put("/api/v1/journeys/quick", content=text).status_code == 200
        event = {
            "event_id": str(uuid.uuid4()),
            "ts": datetime.now(UTC).isoformat(),
            "user_id": "u00000",
            "type": "add_to_cart",
            "item_id": "sku-1",
            "price": 49.5,
        }
        began = time.monotonic()
        with run.client("collect") as collect:
            assert collect.post("/api/v1/events", json={"events": [event]}).status_code == 202
        deadline = began + 15
        while time.monotonic() < deadline and not smtp.sink.messages:
            time.sleep(0.05)
        latency = time.monotonic() - began
        log_text = run.log_path.read_text()
    assert [m["To"] for m in smtp.sink.messages] == ["u00000@example.test"]
    assert 0.9 <= latency < 3, latency  # the minute's wait, 60 times shorter
    assert "journey_time_scale" in log_text  # the service says its waits are sped up


def test_the_replay_begins_at_the_time_of_day_now() -> None:
    from cartwise.service.live_demo import from_time_of_day

    day = datetime(2026, 12, 6)
    rows = [
        {"event_id": f"e{h}", "ts": day + timedelta(hours=h, minutes=30)}
        for h in range(24)  # 00:30 ... 23:30 of one simulated day
    ]
    turned = from_time_of_day(rows, datetime(2026, 12, 7, 14, 5))
    # From 14:30 on as recorded, then the night and morning a day later, times of day kept.
    assert [r["event_id"] for r in turned] == [f"e{h}" for h in (*range(14, 24), *range(14))]
    assert turned[0]["ts"] == day + timedelta(hours=14, minutes=30)
    assert turned[10]["ts"] == day + timedelta(days=1, minutes=30)
    assert [r["ts"] for r in turned] == sorted(r["ts"] for r in turned)
    assert len({r["ts"].time() for r in turned}) == 24  # the day is whole: nothing dropped or doubled
    # A window shorter than a day (a small store) is replayed as it is.
    short = rows[:5]
    assert from_time_of_day(short, datetime(2026, 12, 7, 2, 0)) is short


def test_a_failed_service_round_is_logged_without_the_message(caplog: pytest.LogCaptureFixture) -> None:
    import duckdb

    from cartwise.service.journeys import log_failed_round

    con = duckdb.connect()
    con.execute("CREATE TABLE runs (user_id VARCHAR PRIMARY KEY)")
    address = "ada@example.test"
    con.execute("INSERT INTO runs VALUES (?)", [address])
    with pytest.raises(duckdb.ConstraintException) as caught:
        con.execute("INSERT INTO runs VALUES (?)", [address])  # the data, not the code, holds it
    assert address in str(caught.value)  # DuckDB quotes the key it refused
    with caplog.at_level(logging.ERROR, logger="cartwise.service.journeys"):
        assert log_failed_round(caught.value) == "ConstraintException"
    (record,) = caplog.records
    text = record.getMessage()
    assert text.startswith("journey round failed: ConstraintException\n")
    assert "test_a_failed_service_round_is_logged_without_the_message" in text  # where it failed
    assert "ada@example.test" not in text and record.exc_info is None


def test_the_journey_thread_handles_a_burst_of_batches_in_few_rounds(tmp_path: Path) -> None:
    """The collector hands over one batch per group of requests (~75 a second at 20,000
    events/s); each round reads the store under the writer's gate, so the thread gathers the
    batches of `round_seconds` into one round instead of a round per batch."""
    settings = get_settings(db=tmp_path / "s.duckdb", memory_limit="256MB", threads=1)
    service = Service(settings)
    service.start()
    try:
        runner = service.journeys
        assert runner is not None and runner.round_seconds == 0.2
        began = time.monotonic()
        for i in range(40):  # a batch every 5 ms: a round each without the gathering
            runner.offer(pa.table({"event_id": [f"e{i}"], "user_id": [f"u{i}"], "type": ["view"]}))
            time.sleep(0.005)
        deadline = time.monotonic() + 10
        while runner.stats["events"] < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        spread = time.monotonic() - began  # longer on a busy machine, and so are the rounds allowed
        assert runner.stats["events"] == 40
        assert runner.stats["rounds"] <= spread / runner.round_seconds + 2, (runner.stats, spread)
    finally:
        service.stop()
