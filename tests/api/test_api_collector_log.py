"""The collector's durable log in-process: replay, torn lines, group commit, clean stop."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import orjson
import pytest

import cartwise.service.collector as collector_module
from cartwise.analytics import rollup_lag
from cartwise.core.errors import ConfigError
from cartwise.core.settings import get_settings
from cartwise.ingest import ingest_file
from cartwise.service.event_log import read_segment
from cartwise.service.service import Service, event_log_dir, open_ready_store


def _event(**overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "ts": "2026-11-20T10:00:00Z",
        "user_id": "u1",
        "type": "view",
        "item_id": "sku-1",
    }
    event.update(overrides)
    return event


def _service(tmp_path: Path) -> Service:
    return Service(get_settings(db=tmp_path / "log.duckdb", memory_limit="512MB", threads=1))


def _event_ids(service: Service) -> list[str]:
    assert service.gate is not None
    with service.gate as store:
        return [r[0] for r in store.con.execute("SELECT event_id FROM events ORDER BY event_id").fetchall()]


def test_start_up_replays_the_log_and_skips_a_torn_last_line(tmp_path: Path) -> None:
    service = _service(tmp_path)
    log_dir = event_log_dir(service.settings)
    log_dir.mkdir(parents=True)
    request = [_event(event_id="a"), _event(event_id="b")]  # a line holds one request's events
    retry = _event(event_id="a")  # a repeat, as after a retry, in the one-event-per-line form of old logs
    torn = orjson.dumps([_event(event_id="c")])[:-5]  # the crash hit mid-write: never acknowledged
    (log_dir / "segment-0000000007.jsonl").write_bytes(
        orjson.dumps(request) + b"\n" + orjson.dumps(retry) + b"\n" + torn
    )
    service.start()
    try:
        assert _event_ids(service) == ["a", "b"]
        assert not list(log_dir.glob("segment-*.jsonl"))
        # New segments continue after the replayed ones.
        assert service.collector is not None and service.collector.log.current == 8
    finally:
        service.stop()


def test_concurrent_requests_share_fsyncs_and_a_clean_stop_drops_the_log(tmp_path: Path) -> None:
    service = _service(tmp_path)
    service.start()
    try:
        collector = service.collector
        assert collector is not None
        futures = [collector.submit([_event()]) for _ in range(30)]
        acks = [f.result(timeout=60) for f in futures]
        assert all(a.accepted == 1 for a in acks)
        assert collector.stats["fsyncs"] < 10  # 30 requests, far fewer fsyncs
        log_dir = collector.log.directory
    finally:
        service.stop()
    assert not list(log_dir.glob("segment-*.jsonl"))
    restarted = _service(tmp_path)
    restarted.start()
    try:
        assert len(_event_ids(restarted)) == 30
    finally:
        restarted.stop()


def test_acknowledged_means_in_the_log_before_the_store(tmp_path: Path) -> None:
    service = _service(tmp_path)
    service.start()
    try:
        assert service.collector is not None
        ack = service.collector.submit([_event(event_id="durable-1")]).result(timeout=60)
        assert ack.accepted == 1
        logged = [e for _, path in service.collector.log.segments() for e in read_segment(path)]
        assert [e["event_id"] for e in logged] == ["durable-1"]
    finally:
        service.stop()


def test_the_writer_folds_collected_events_into_the_analytics_rollup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector_module, "ROLLUP_EVERY", 20)
    loaded = tmp_path / "loaded.csv"
    loaded.write_text(
        "event_id,ts,user_id,type\n" + "".join(f"f{i},2026-11-19,u{i},view\n" for i in range(25))
    )
    service = _service(tmp_path)
    with open_ready_store(service.settings) as store:  # a load that did not fold its events
        ingest_file(store, "events", loaded)
        assert rollup_lag(store) == 25
    service.start()
    try:
        collector, gate = service.collector, service.gate
        assert collector is not None and gate is not None

        def lag() -> int:
            with gate as store:
                return rollup_lag(store)

        deadline = time.monotonic() + 30
        while lag() and time.monotonic() < deadline:  # folded at start-up, before any batch
            time.sleep(0.05)
        assert lag() == 0
        for _ in range(3):  # 30 events: the writer folds once it has stored 20
            assert collector.submit([_event() for _ in range(10)]).result(timeout=60).accepted == 10
        while (collector.stats["stored"] < 30 or lag() >= 20) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.stats["stored"] == 30 and lag() < 20
    finally:
        service.stop()


def test_an_unknown_time_zone_setting_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    # Otherwise every collected batch would fail its validation.
    service = Service(get_settings(db=tmp_path / "tz.duckdb", timezone="Mars/Olympus", threads=1))
    with pytest.raises(ConfigError, match="`timezone` setting 'Mars/Olympus' is not a time zone name"):
        service.start()
    # The store was closed: another process (or this one) can open it.
    with open_ready_store(service.settings) as store:
        assert store.knows_time_zone("Europe/Paris") and store.knows_time_zone("utc")
