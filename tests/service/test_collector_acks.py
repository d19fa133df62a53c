"""The collector's ack is true: late repeats count as duplicates, hostile values are rejected per event.

Runs the real collector (validation, log and writer threads) over a real DuckDB store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cartwise.core.settings import get_settings
from cartwise.ingest import TimeWindow
from cartwise.service.collector import Ack, Collector, StoreGate
from cartwise.service.live import LiveKPIs
from cartwise.store import Store, open_store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _batch(prefix: str, n: int, age: timedelta) -> list[dict[str, Any]]:
    ts = (_now() - age).isoformat() + "Z"
    return [{"event_id": f"{prefix}-{i}", "ts": ts, "user_id": f"u{i % 7}", "type": "view"} for i in range(n)]


@contextmanager
def _running(db: Path, **options: Any) -> Iterator[tuple[Collector, Store]]:
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    with open_store(db, settings=settings) as store:
        options = {"flush_seconds": 0.05, **options}
        collector = Collector(StoreGate(store), db.with_name("eventlog"), **options)
        collector.start()
        try:
            yield collector, store
        finally:
            collector.stop()


def _send(collector: Collector, records: list[dict[str, Any]]) -> Ack:
    return collector.submit(records).result(timeout=60)


def _wait_stored(collector: Collector, n: int) -> None:
    deadline = time.monotonic() + 60
    while collector.stats["stored"] < n:
        assert time.monotonic() < deadline, collector.stats
        time.sleep(0.02)


def _stored(store: Store) -> int:
    return int(store.con.execute("SELECT count(*) FROM events").fetchall()[0][0])


def test_after_a_restart_old_acknowledged_batches_are_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    # Phones send late: batches from 3 days, 2 hours and 40 days ago.
    batches = [
        _batch(f"b{k}", 100, age)
        for k, age in enumerate([timedelta(days=3), timedelta(hours=2), timedelta(days=40)])
    ]
    with _running(db) as (collector, _):
        first = [_send(collector, batch) for batch in batches]
    assert [(a.accepted, a.duplicates) for a in first] == [(100, 0)] * 3
    with _running(db) as (collector, store):
        again = [_send(collector, batch) for batch in batches]
        mixed = _send(collector, batches[0][:50] + _batch("new", 50, timedelta(days=5)))
        collector.stop()
        assert _stored(store) == 350
    assert [(a.accepted, a.duplicates) for a in again] == [(0, 100)] * 3
    assert (mixed.accepted, mixed.duplicates) == (50, 50)


def test_repeats_beyond_the_recent_set_are_duplicates(tmp_path: Path) -> None:
    # A recent set of 10 ids forgets the first batches: the stored-id index still knows them.
    with _running(tmp_path / "shop.duckdb", recent_ids=10) as (collector, store):
        batches = [_batch(f"b{k}", 100, timedelta(days=2)) for k in range(3)]
        assert [_send(collector, b).accepted for b in batches] == [100] * 3
        _wait_stored(collector, 300)
        again = [_send(collector, b) for b in batches]
        assert [(a.accepted, a.duplicates) for a in again] == [(0, 100)] * 3
        collector.stop()
        assert _stored(store) == 300


def test_repeats_beyond_the_recent_set_before_the_first_copy_is_stored_are_stored_once(
    tmp_path: Path,
) -> None:
    # The writer waits 2 s before a batch: the repeats arrive while the first copies are still
    # in the log only, and the 10-id recent set has forgotten all but the last of them.
    with _running(tmp_path / "shop.duckdb", recent_ids=10, flush_seconds=2.0) as (collector, store):
        batch = _batch("b", 100, timedelta(hours=1))
        assert (_send(collector, batch).accepted, collector.stats["stored"]) == (100, 0)
        again = _send(collector, batch)
        assert collector.stats["stored"] == 0, "the repeat must arrive before the first copy is stored"
        assert (again.accepted, again.duplicates) == (0, 100)
        collector.stop()
        assert _stored(store) == 100


def test_after_a_deletion_the_deleted_ids_are_new_and_the_rest_still_repeats(tmp_path: Path) -> None:
    with _running(tmp_path / "shop.duckdb", recent_ids=10) as (collector, store):
        old = _batch("old", 100, timedelta(days=2))
        assert _send(collector, old).accepted == 100
        collector.settle()
        # Acknowledged after the settle and before the index is rebuilt: recorded for the rebuild.
        meanwhile = _batch("meanwhile", 20, timedelta(hours=1))
        assert _send(collector, meanwhile).accepted == 20
        with collector.gate as writer:
            writer.con.execute("DELETE FROM events WHERE event_id IN ('old-0', 'old-1', 'old-2')")
        collector.reindex()
        collector.wait_reindexed()
        assert collector.stats["reindexes"] == 1
        again = _send(collector, old)
        assert (again.accepted, again.duplicates) == (3, 97)
        assert (_send(collector, meanwhile).accepted, _send(collector, old[:3]).duplicates) == (0, 3)
        collector.stop()
        assert _stored(store) == 120


HOSTILE = [
    ({"ts": "9999-12-31T23:59:59Z"}, "ts", "collect_max_ahead_hours"),
    ({"ts": "10000-01-01T00:00:00Z"}, "ts", "year 10000"),
    ({"ts": "1970-01-01T00:00:00Z"}, "ts", "ts_earliest"),
    ({"quantity": 1.5}, "quantity", "whole number"),
    ({"user_id": {"id": 7}}, "user_id", "JSON object or array"),
    ({"user_id": ["a", "b"]}, "user_id", "JSON object or array"),
    ({"properties": {"score": float("inf")}}, "properties", "NaN and Infinity"),
    ({"properties": {"score": float("nan")}}, "properties", "NaN and Infinity"),
    ({"event_id": "a\x00b"}, "event_id", "NUL"),
    ({"user_id": "u\x00"}, "user_id", "NUL"),
    ({"event_id": {"id": 1}}, "event_id", "JSON object or array"),
]


def test_hostile_values_are_rejected_per_event_with_the_reason(tmp_path: Path) -> None:
    good = _batch("ok", 2, timedelta(minutes=5))
    events = [good[0]] + [
        {**good[0], "event_id": f"bad-{i}", **change} for i, (change, _, _) in enumerate(HOSTILE)
    ]
    events.append(good[1])
    with _running(tmp_path / "shop.duckdb") as (collector, store):
        ack = _send(collector, events)
        collector.stop()
        assert _stored(store) == 2
        assert store.con.execute("SELECT max(ts) < now() FROM events").fetchall()[0][0]
    assert ack.accepted == 2 and ack.duplicates == 0
    reasons = {r["index"]: r["reason"] for r in ack.rejected}
    assert sorted(reasons) == list(range(1, len(HOSTILE) + 1))
    for i, (_, column, words) in enumerate(HOSTILE, start=1):
        assert reasons[i].startswith(f"{column}:") and words in reasons[i], reasons[i]


def test_the_look_ahead_follows_the_setting(tmp_path: Path) -> None:
    window = TimeWindow.for_collector(get_settings(collect_max_ahead_hours=0.5))
    soon = [
        {**e, "ts": (_now() + timedelta(minutes=20)).isoformat() + "Z"}
        for e in _batch("soon", 1, timedelta())
    ]
    later = [
        {**e, "ts": (_now() + timedelta(hours=2)).isoformat() + "Z"} for e in _batch("later", 1, timedelta())
    ]
    with _running(tmp_path / "shop.duckdb", window=window) as (collector, _):
        assert _send(collector, soon).accepted == 1
        refused = _send(collector, later)
    assert refused.accepted == 0 and "0.5 hours ahead" in refused.rejected[0]["reason"]


def test_repeats_of_stored_events_stay_out_of_the_live_kpis(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    recent = _batch("recent", 40, timedelta(minutes=2))
    with _running(db) as (collector, _):
        assert _send(collector, recent).accepted == 40
    live = LiveKPIs()
    with _running(db, live=live) as (collector, _):
        ack = _send(collector, recent[:30] + _batch("fresh", 5, timedelta(minutes=1)))
    assert (ack.accepted, ack.duplicates) == (5, 30)
    assert live.snapshot()["windows"]["1h"]["events"] == 5


def test_each_request_of_a_validated_group_gets_its_own_rows(tmp_path: Path) -> None:
    """Requests validated together (one with a bad event, one with integer ids, the rest plain)
    each get exactly their own events, in order, whichever path the group takes."""
    from cartwise.service.collector import _Request

    ts = _now().isoformat() + "Z"
    plain = [{"event_id": f"p-{i}", "ts": ts, "user_id": "u1", "type": "view"} for i in range(3)]
    bad = [
        *_batch("b", 2, timedelta(0)),
        {"event_id": "b-x", "ts": "9999-12-31T23:59:59Z", "user_id": "u1", "type": "view"},
    ]
    numbered = [{"event_id": 7000 + i, "ts": ts, "user_id": "u2", "type": "view"} for i in range(2)]
    with _running(tmp_path / "s.duckdb") as (collector, _store):
        for group in ([plain, _batch("q", 4, timedelta(0))], [plain, bad, numbered]):
            requests = [_Request([dict(r) for r in records]) for records in group]
            collector._validate(requests)
            for request, records in zip(requests, group, strict=True):
                assert request.table is not None
                kept = [str(r["event_id"]) for r in records if not str(r["ts"]).startswith("9999")]
                assert request.table.column("event_id").to_pylist() == kept
                assert [str(request.records[s]["event_id"]) for s in request.sources] == kept
    assert [r["index"] for r in requests[1].rejected] == [2]
