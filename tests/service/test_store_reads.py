"""Reads beside the writer: each read has its own cursor and snapshot and a time limit, and the
collector's writer never waits for one (issue 21, point 9).

Real DuckDB stores and the real collector; the slow read is a deliberately heavy query."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cartwise.api.errors import cartwise_error
from cartwise.core.errors import QueryTimeout
from cartwise.core.settings import get_settings
from cartwise.service.recs.online import LiveActivity
from cartwise.service.service import Service
from cartwise.store import Store, open_store, timed_read

# 1.6 billion pairs: tens of seconds of one DuckDB thread, far longer than any bound below.
HEAVY = "SELECT count(*) FROM range(40000000) a(x), range(40) b(y) WHERE (a.x * 7 + b.y * 13) % 1000003 = 17"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as s:
        s.con.execute("CREATE TABLE n (k INTEGER)")
        yield s


def _add(store: Store, start: int, count: int) -> None:
    store.append("n", pa.table({"k": pa.array(range(start, start + count), pa.int32())}))


def test_the_time_limit_interrupts_a_read_and_names_the_parameter(store: Store) -> None:
    began = time.monotonic()
    with pytest.raises(QueryTimeout) as caught, timed_read(store, 0.3, narrow="start", what="funnel") as view:
        view.con.execute(HEAVY).fetchall()
    assert time.monotonic() - began < 3  # stopped, not run to its end (~10 s)
    error = caught.value
    assert error.parameter == "start"
    assert "took longer than the 0.3 s read limit" in str(error)
    assert "`read_timeout_seconds`" in str(error) and "`start`" in str(error)
    # The API answers 504 with the parameter to narrow.
    status, body, _ = cartwise_error(error)
    assert (status, body["error"], body["parameter"]) == (504, "query_timeout", "start")
    # The writer's connection was not interrupted, and the next read works.
    _add(store, 0, 5)
    with timed_read(store, 5) as view:
        assert view.con.execute("SELECT count(*) FROM n").fetchall()[0][0] == 5


def test_an_interrupt_between_two_queries_stops_the_next_one(store: Store) -> None:
    with pytest.raises(QueryTimeout), timed_read(store, 0.1) as view:
        time.sleep(0.3)  # the limit passes while Python, not DuckDB, is running
        view.con.execute(HEAVY).fetchall()


def test_a_quick_read_is_not_stopped(store: Store) -> None:
    _add(store, 0, 3)
    with timed_read(store, 0.2) as view:
        assert view.con.execute("SELECT sum(k) FROM n").fetchall()[0][0] == 3
    time.sleep(0.4)  # the watchdog is gone with the read: nothing fires later


def test_a_read_sees_one_snapshot_while_the_writer_commits(store: Store) -> None:
    _add(store, 0, 10)
    with timed_read(store, 30) as view:
        before = view.con.execute("SELECT count(*) FROM n").fetchall()[0][0]
        _add(store, 10, 10)  # committed on the writer's connection in the middle of the read
        after = view.con.execute("SELECT count(*), sum(k) FROM n").fetchall()[0]
        assert view.arrow("SELECT k FROM n").num_rows == 10
    assert (before, after) == (10, (10, sum(range(10))))
    with timed_read(store, 30) as view:  # a new read sees the commit
        assert view.con.execute("SELECT count(*) FROM n").fetchall()[0][0] == 20


def test_concurrent_reads_see_whole_commits_only(store: Store) -> None:
    """The writer commits batches of 100 rows while two readers each count twice per read:
    every count is a whole number of batches and both counts of one read agree."""
    stop = threading.Event()
    seen: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                with timed_read(store, 30) as view:
                    first = view.con.execute("SELECT count(*) FROM n").fetchall()[0][0]
                    time.sleep(0.002)
                    second, total = view.con.execute(
                        "SELECT count(*), coalesce(sum(k), 0) FROM n"
                    ).fetchall()[0]
                seen.append((int(first), int(second), int(total)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for batch in range(40):
        _add(store, batch * 100, 100)
        time.sleep(0.005)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(seen) > 10
    for first, second, total in seen:
        assert first == second and first % 100 == 0
        assert total == sum(range(first))  # the rows of whole batches, in order
    assert max(s[0] for s in seen) > 0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(
        db=db, memory_limit="512MB", threads=1, read_timeout_seconds=6, flush_seconds=0.05
    )
    svc = Service(settings)
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


def _events(prefix: str, n: int) -> list[dict[str, Any]]:
    ts = datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z"
    return [{"event_id": f"{prefix}-{i}", "ts": ts, "user_id": f"u{i % 7}", "type": "view"} for i in range(n)]


def test_a_slow_read_does_not_hold_up_acks_or_the_writer(service: Service) -> None:
    collector = service.collector
    assert collector is not None
    started, finished = threading.Event(), threading.Event()
    outcome: list[BaseException | int] = []

    def slow_read() -> None:
        try:
            with service.read(what="heavy test query") as view:
                started.set()
                outcome.append(int(view.con.execute(HEAVY).fetchall()[0][0]))
        except BaseException as exc:
            outcome.append(exc)
        finally:
            started.set()
            finished.set()

    reader = threading.Thread(target=slow_read)
    reader.start()
    try:
        assert started.wait(10)
        time.sleep(0.3)  # the heavy query is running
        for k in range(5):
            began = time.monotonic()
            ack = collector.submit(_events(f"r{k}", 100)).result(timeout=30)
            assert ack.accepted == 100
            assert time.monotonic() - began < 2.0
        began = time.monotonic()
        while collector.stats["stored"] < 500:  # the writer stored them all, through the gate
            assert time.monotonic() - began < 3.0, collector.stats
            time.sleep(0.02)
        with service.read() as view:  # a new snapshot sees them
            assert view.count("events") == 500
        assert not finished.is_set(), "the heavy read ended too soon to prove anything"
    finally:
        reader.join(timeout=60)
    # It ran to its end or was stopped by the service's 6 s limit, never by the writer.
    assert outcome and isinstance(outcome[0], (int, QueryTimeout)), outcome


class _TimedLock:
    """A lock that records how long each holder kept it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held: list[float] = []
        self._since = 0.0

    def __enter__(self) -> None:
        self._lock.acquire()
        self._since = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.held.append(time.perf_counter() - self._since)
        self._lock.release()


def test_the_recommendation_poll_holds_the_serving_lock_briefly(service: Service) -> None:
    """200k stored rows: the poll groups them outside the lock the async routes take."""
    gate = service.require_gate()
    n = 200_000
    lock = _TimedLock()
    live = LiveActivity(lock)  # type: ignore[arg-type]
    assert live.start(gate) == -1  # an empty store
    with gate as store:
        store.con.execute(
            f"""INSERT INTO events (event_id, ts, user_id, session_id, type, item_id)
                SELECT 'p' || i, TIMESTAMP '2026-01-01' + i * INTERVAL 1 SECOND, 'u' || (i % 1000),
                       's' || (i % 3000), CASE WHEN i % 50 = 0 THEN 'purchase' ELSE 'view' END,
                       'i' || (i % 400)
                FROM range({n}) r(i)"""
        )
    began = time.perf_counter()
    assert live.poll(gate) == n
    total = time.perf_counter() - began
    assert len(lock.held) == 1
    assert lock.held[0] < 0.25 * total, (lock.held[0], total)
    fresh, bought, session = live.snapshot("u0", "s0")
    assert [e[1] for e in fresh] == [f"i{i % 400}" for i in range(0, n, 1000)]  # 200: all kept, in order
    assert bought == {f"i{i % 400}" for i in range(0, n, 1000)}  # every 50th event is a purchase
    assert session == [f"i{i % 400}" for i in range(0, n, 3000)][-20:]


def test_a_customer_erased_while_a_poll_reads_stays_forgotten(service: Service) -> None:
    """The poll reads on its own snapshot: an erasure landing between its read and its apply
    must not bring the erased customer's fresh events back into the served lists."""
    gate = service.require_gate()
    lock = threading.Lock()
    live = LiveActivity(lock)
    live.start(gate)
    with gate as store:
        store.con.execute(
            """INSERT INTO events (event_id, ts, user_id, session_id, type, item_id) VALUES
               ('e1', TIMESTAMP '2026-01-01 10:00', 'erased', 's1', 'view', 'i1'),
               ('e2', TIMESTAMP '2026-01-01 10:01', 'kept', 's2', 'purchase', 'i2')"""
        )

    class ErasedDuringTheRead:
        """The real gate; the erasure (rows deleted, then the server forgets) runs as the read ends."""

        def read(self, **kw: Any) -> Any:
            from contextlib import contextmanager

            @contextmanager
            def reading() -> Iterator[Store]:
                with gate.read(**kw) as view:
                    yield view
                with gate as store:
                    store.con.execute("DELETE FROM events WHERE user_id = 'erased'")
                with lock:
                    live.locked_forget_users({"erased"})

            return reading()

    assert live.poll(ErasedDuringTheRead()) == 2  # type: ignore[arg-type]
    assert live.snapshot("erased", None)[0] == []
    assert [e[1] for e in live.snapshot("kept", None)[0]] == ["i2"]
    assert live.snapshot("kept", None)[1] == {"i2"}
    # The next poll's snapshot no longer holds the rows: the tombstone is dropped.
    assert live.poll(gate) == 0 and live.erased == {}


def _thread_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _thread_policy() -> int:
    return os.sched_getscheduler(threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_reads_run_on_reader_threads_below_the_collectors_priority(service: Service) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    name, nice, policy = service.run_read(
        lambda: (threading.current_thread().name, _thread_nice(), _thread_policy())
    )
    assert name.startswith("cartwise-reader")
    assert service.settings.reader_idle and policy == os.SCHED_IDLE
    assert nice == min(base + service.settings.reader_nice, 19)
    # Only the reader threads: the collector's (and this one) keep the process's priority.
    collector = {t.name: t.native_id for t in threading.enumerate() if t.name.startswith("cartwise-")}
    for thread in ("cartwise-validate-0", "cartwise-log", "cartwise-writer"):
        assert os.getpriority(os.PRIO_PROCESS, collector[thread]) == base
        assert os.sched_getscheduler(collector[thread]) == os.SCHED_OTHER
    assert _thread_nice() == base and _thread_policy() == os.SCHED_OTHER


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_reader_nice_zero_and_no_idle_class_keep_the_priority(tmp_path: Path) -> None:
    settings = get_settings(
        db=tmp_path / "s.duckdb", memory_limit="256MB", threads=1, reader_nice=0, reader_idle=False
    )
    svc = Service(settings)
    svc.start()
    try:
        assert svc.run_read(lambda: (_thread_nice(), _thread_policy())) == (
            os.getpriority(os.PRIO_PROCESS, 0),
            os.SCHED_OTHER,
        )
    finally:
        svc.stop()


def test_an_error_in_a_read_reaches_the_caller(service: Service) -> None:
    def fails(store: Store) -> None:
        raise QueryTimeout("stopped", parameter="start")

    with pytest.raises(QueryTimeout):
        service.run_read(fails, service.require_gate().store)


# Starlette warns that its test client will move to another HTTP package; nothing to act on here.
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_analytics_routes_and_pages_read_on_the_reader_threads(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cartwise.api.app import create_app
    from cartwise.service import keys as keys_job

    settings = get_settings(db=tmp_path / "shop.duckdb", memory_limit="256MB", threads=1)
    with open_store(settings.db, settings=settings) as store:
        _, key = keys_job.create_key(store, scope="read", name="test-read")
    service = Service(settings)
    app = create_app(settings, service=service)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as api:
        readers = service.readers
        assert readers is not None
        for path in ("/api/v1/analytics/kpis", "/api/v1/analytics/retention", "/api/v1/pages/analytics"):
            before = readers.reads
            assert api.get(path).status_code == 200
            assert readers.reads == before + 1, path
        before = readers.reads
        assert api.get("/api/v1/analytics/funnel").status_code == 400  # no events: the view's own error
        assert readers.reads == before + 1
    assert service.readers is None  # stopped with the service
