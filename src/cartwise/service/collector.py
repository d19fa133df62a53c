"""The real-time collector: durable acknowledgement, then batched writes into DuckDB.

A request goes through three threads: validation (`prepare_events` over every request
waiting at that moment), the log (write, one fsync for all, answer), the writer (DuckDB).

Promises:
- `submit` resolves only after the accepted events are in an fsync'd append-only log
  (JSON lines, a request's events per line, one segment file at a time). Concurrent
  submissions share one fsync (group commit): the log thread writes every waiting request,
  fsyncs once, then answers them all.
- One writer thread moves logged events into the store in batches with `store_events`,
  which skips event ids already stored; a segment is deleted only once every event in it is
  committed in DuckDB.
- On start-up every remaining segment is replayed into the store before new events are
  taken, so after a crash each acknowledged event ends up stored exactly once.
- `duplicates` counts repeats within a request group, ids acknowledged recently (a bounded
  set) and ids already stored, whatever their time: a `StoredIdIndex` of every stored id's
  64-bit hash, built at start, says which are. Looking them up in the store instead took
  1.5 s per request group at 10M events (a scan: `event_id` has no index), so a hit is not
  verified there: it is counted as a duplicate and left out of the live KPIs, but still
  logged and handed to the writer, whose exact check drops it. A hash collision (about 1 in
  10^12 per new id at 10M stored) can make the count wrong, never lose an event.
- A deletion or an erasure (`Service.delete_events`, `Service.forget_customer`) settles the
  log, which starts a record of the ids acknowledged from then on, deletes, then calls
  `reindex`: the recent set becomes that record at once, and the index is rebuilt in the
  background from a snapshot of the store as the deletion left it, plus that record. A
  deleted event sent again is new data (stored at once, and counted as accepted once the
  rebuild is in).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from cartwise.analytics import refresh_rollup, rollup_lag
from cartwise.core.errors import CartwiseError, InputError, StoreError
from cartwise.ingest import StoredIds, TimeWindow, prepare_events, store_events
from cartwise.ingest.validate import COLLECTOR_WINDOW
from cartwise.schema import EVENTS
from cartwise.service.event_log import EventLog, read_segment
from cartwise.service.gate import StoreGate
from cartwise.service.live import LiveKPIs
from cartwise.service.recent_ids import RecentIds
from cartwise.service.seen_ids import StoredIdIndex

log = logging.getLogger("cartwise.collector")

EVENT_FIELDS: frozenset[str] = frozenset(EVENTS.column_names)
_SYNONYMS: dict[str, str] = {
    synonym.lower(): canonical for canonical, names in EVENTS.synonyms.items() for synonym in names
}
"""Other names of event fields (`event_name` for `type`, ...), the ones file ingestion accepts."""


def _canonical_names(record: dict[str, Any]) -> dict[str, Any]:
    """`record` with synonyms of event fields (matched ignoring case, as file ingestion does)
    renamed to the canonical name; a synonym of a field the record already has stays, and is
    then refused as unknown."""
    renamed: dict[str, Any] = {}
    for key, value in record.items():
        canonical = key if key in EVENT_FIELDS else _SYNONYMS.get(key.lower(), key)
        if canonical in renamed or (canonical != key and canonical in record):
            renamed[key] = value
        else:
            renamed[canonical] = value
    return renamed


_FLAT = frozenset({str, float, int, bool, type(None)})
VALIDATORS = 1
"""Validation threads. One is enough here: each call already takes every waiting request."""
ROLLUP_EVERY = 500_000
"""The writer folds new events into the analytics rollup and timeline after this many (~0.6 s per million)."""


def _out_of_range(value: Any, path: str = "") -> str | None:
    """Path of the first integer beyond 64 bits in a JSON value (the log and the store cannot hold it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        in_range = -(2**63) <= value < 2**64
        return None if in_range else (path or "value")
    if isinstance(value, dict):
        for key, item in value.items():
            found = _out_of_range(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _out_of_range(item, f"{path}[{i}]")
            if found:
                return found
    return None


class CollectorBusy(CartwiseError):
    """The writer is behind by more than the configured backlog; the client should retry later."""


@dataclass
class Ack:
    """What the collector answers for one request."""

    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]]


@dataclass(eq=False)
class _Request:
    records: list[dict[str, Any]]
    positions: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    table: pa.Table | None = None
    sources: list[int] = field(default_factory=list)  # index in `records` of each row of `table`
    ids: list[str] = field(default_factory=list)
    lines: bytes = b""
    stored: int = 0  # rows of `table` whose id the stored-id index holds (counted as duplicates)
    live: pa.Table | None = None  # `table` without those rows, for the live KPIs
    ack: Ack | None = None
    future: Future[Ack] = field(default_factory=Future)
    segment: int = -1


@dataclass
class _Batch:
    tables: list[pa.Table] = field(default_factory=list)
    events: int = 0
    first_segment: int = -1
    last_segment: int = -1


class Collector:
    """Validates, logs durably, counts live KPIs and writes events into the store in batches."""

    def __init__(
        self,
        gate: StoreGate,
        log_dir: Path,
        *,
        live: LiveKPIs | None = None,
        on_durable: Callable[[pa.Table], None] | None = None,
        timezone: str = "UTC",
        window: TimeWindow = COLLECTOR_WINDOW,
        flush_seconds: float = 0.25,
        batch_events: int = 50_000,
        max_backlog: int = 1_000_000,
        recent_ids: int = 262_144,
        segment_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.gate = gate
        self.live = live
        # Called with each batch of durable, acknowledged events (and replayed ones): the journey
        # runner's queue put, so the acknowledgement does not wait for journeys.
        self.on_durable = on_durable
        self.timezone = timezone
        self.window = window
        self.flush_seconds = flush_seconds
        self.batch_events = batch_events
        self.max_backlog = max_backlog
        self._recent = RecentIds(recent_ids)
        self._recent_lock = threading.Lock()
        self._stored_index = StoredIdIndex()  # the log thread's, once started
        # Held by the log thread while it handles a group, and by `reindex` to swap the index.
        self._index_lock = threading.Lock()
        # Ids acknowledged since the last `settle` while a deletion runs and its index rebuild
        # completes; None otherwise.
        self._acked_since_settle: list[str] | None = None
        self._reindex_generation = 0
        self._reindexing = False
        self._reindexer: threading.Thread | None = None
        self._prepare = prepare_events
        self._stored_ids = StoredIds()  # the writer's: its commits skip the anti-join over stored ids
        self._not_rolled_up = 0  # events committed since the writer last refreshed the analytics rollup
        self.log = EventLog(log_dir, segment_bytes=segment_bytes)
        self._incoming: queue.Queue[_Request | None] = queue.Queue()
        self._validated: queue.Queue[list[_Request] | None] = queue.Queue()
        self._validators: list[threading.Thread] = []
        self._to_store: queue.Queue[_Request | None] = queue.Queue()
        self._backlog = 0
        self._backlog_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.stats = {
            "acknowledged": 0,
            "stored": 0,
            "store_duplicates": 0,
            "fsyncs": 0,
            "replayed": 0,
            "reindexes": 0,
        }
        self.last_error: str | None = None
        self._keep_from: int | None = None

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Replay leftover log segments into the store, index the stored ids, start the threads."""
        self.replay()
        began = time.perf_counter()
        with self.gate as store:
            indexed = self._stored_index.build(store)
        log.info("indexed %d stored event ids in %.1f s", indexed, time.perf_counter() - began)
        self._validators = [
            threading.Thread(target=self._validate_loop, name=f"cartwise-validate-{i}", daemon=True)
            for i in range(VALIDATORS)
        ]
        self._threads = [
            *self._validators,
            threading.Thread(target=self._log_loop, name="cartwise-log", daemon=True),
            threading.Thread(target=self._writer_loop, name="cartwise-writer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Finish every submitted request, write everything to the store, drop the log."""
        if not self._threads:
            return
        self.wait_reindexed()
        for _ in self._validators:
            self._incoming.put(None)
        for thread in self._validators:
            thread.join()
        self._validated.put(None)
        self._threads[-2].join()
        self._to_store.put(None)
        self._threads[-1].join()
        self._threads = []
        self.log.close()
        if self._keep_from is None:
            # Everything logged is now in the store.
            self.log.drop_below(self.log.current + 1)

    def replay(self) -> int:
        """Store the events of every log segment (idempotent by event_id); returns events read."""
        total = 0
        segments = self.log.segments()
        for _number, path in segments:
            records = list(read_segment(path))
            for start in range(0, len(records), self.batch_events):
                chunk = records[start : start + self.batch_events]
                # Acknowledged events are kept whatever the window is now.
                prepared = self._prepare(chunk, timezone=self.timezone, window=TimeWindow.for_replay())
                if prepared.rejected:
                    log.warning(
                        "%d logged event(s) in %s no longer pass validation and were not stored: %s",
                        len(prepared.rejected),
                        path.name,
                        prepared.rejected[0]["reason"],
                    )
                if prepared.table.num_rows:
                    with self.gate as store:
                        result = store_events(store, prepared.table, self._stored_ids)
                    self.stats["stored"] += int(result.get("loaded", 0))
                    # Journeys enter idempotently (by event id), so replayed events are handed over again.
                    self._hand_over(prepared.table)
            total += len(records)
        if segments:
            self.log.drop_below(segments[-1][0] + 1)
            log.info("replayed %d logged events from %d segment(s)", total, len(segments))
        self.stats["replayed"] = total
        return total

    def _hand_over(self, table: pa.Table) -> None:
        if self.on_durable is None:
            return
        try:
            self.on_durable(table)
        except Exception as exc:  # a journey hook never fails an acknowledgement
            log.warning("handing events to journeys failed: %s", exc)

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every acknowledged event is in the store, then delete the log's segments
        (they hold only stored events), so that a deletion from the store cannot be undone by
        replaying the log after a crash. Events acknowledged after this call are new data."""
        if self._keep_from is not None:
            raise StoreError(
                "A write to the store failed earlier and its events wait in the collector's log; "
                "restart the service (the log is replayed), then retry."
            )
        deadline = time.monotonic() + timeout
        while True:
            with self.log.lock:
                if self._backlog == 0:
                    self.log.seal()
                    self.log.drop_below(self.log.current)
                    with self._index_lock:
                        # Everything acknowledged so far is stored: what comes next is recorded
                        # for `reindex`.
                        self._acked_since_settle = []
                        # A rebuild in flight would miss what this deletion records: drop it.
                        self._reindex_generation += 1
                        self._reindexing = False
                    return
            if time.monotonic() > deadline:
                raise StoreError(
                    f"The collector still has {self._backlog} events to store after {timeout:.0f} s; retry later."
                )
            time.sleep(0.02)

    def reindex(self, *, deleted: bool = True) -> None:
        """After a deletion (call after `settle` and after the deletion committed): forget the
        deleted ids, so that a deleted event sent again is accepted as new.

        At once, the recent set keeps only the ids acknowledged since `settle` (everything
        acknowledged before was stored then, so the index holds it). In the background, a new
        index is built from a read snapshot of the store (the writer never waits; ~4 s per
        million stored ids, see BENCHMARKS.md) and swapped in with the ids acknowledged since
        `settle` added; `stats["reindexes"]` counts the swaps. Until then the old index still
        counts a deleted id sent again as a duplicate, but the event is logged and stored all
        the same (the writer's check is exact). `deleted=False` (nothing was deleted) only
        ends the record `settle` started."""
        with self._index_lock:
            self._reindex_generation += 1
            generation = self._reindex_generation
            if not deleted:
                if not self._reindexing:
                    self._acked_since_settle = None
                return
            since = list(self._acked_since_settle or [])
            self._reindexing = True
            with self._recent_lock:
                self._recent.replace(since)
        thread = threading.Thread(
            target=self._rebuild_index, args=(generation,), name="cartwise-reindex", daemon=True
        )
        thread.start()
        self._reindexer = thread

    def _rebuild_index(self, generation: int) -> None:
        index = StoredIdIndex()
        began = time.perf_counter()
        try:
            with self.gate.read(limited=False, what="stored-id index") as snapshot:
                index.build(snapshot)
        except Exception:
            log.exception("rebuilding the stored-id index failed; the old index stays")
            with self._index_lock:
                if generation == self._reindex_generation:
                    self._reindexing = False
                    self._acked_since_settle = None
            return
        with self._index_lock:
            if generation != self._reindex_generation:
                return  # a later deletion started its own rebuild, which this one would undercount
            index.add(self._acked_since_settle or [])
            self._stored_index = index
            self._acked_since_settle = None
            self._reindexing = False
            self.stats["reindexes"] += 1
        log.info("re-indexed %d stored event ids in %.1f s", len(index), time.perf_counter() - began)

    def wait_reindexed(self, timeout: float = 60.0) -> None:
        """Block until the running index rebuild (if any) is done (for tests and shutdown)."""
        thread = self._reindexer
        if thread is not None:
            thread.join(timeout)

    # -- the request path --------------------------------------------------------------------
    def submit(self, records: list[dict[str, Any]]) -> Future[Ack]:
        """Queue `records` (canonical event dicts); the future resolves once they are durable.

        Validation runs in the validation thread, over every request waiting at that moment at
        once, because each validation call has a fixed cost that single-event posts cannot afford.
        """
        if not self._threads:
            raise StoreError("The collector is not running; start the service first.")
        request = _Request(records)
        with self._backlog_lock:
            if self._backlog + len(records) > self.max_backlog:
                raise CollectorBusy(
                    f"The collector has {self._backlog} events waiting to be stored; retry in a few seconds."
                )
            self._backlog += len(records)
        self._incoming.put(request)
        return request.future

    async def submit_async(self, records: list[dict[str, Any]]) -> Ack:
        return await asyncio.wrap_future(self.submit(records))

    @property
    def backlog(self) -> int:
        return self._backlog

    def _check_fields(self, request: _Request) -> None:
        records = request.records
        if set(map(type, records)) == {dict} and all(map(EVENT_FIELDS.issuperset, records)):
            # The usual request: known fields, flat values, integers in range. Checked with set
            # operations over every value at once instead of a loop per value.
            values = list(chain.from_iterable(map(dict.values, records)))
            kinds = set(map(type, values))
            if kinds <= _FLAT:
                ints = [v for v in values if type(v) is int] if int in kinds else [0]
                if min(ints) >= -(2**63) and max(ints) < 2**64:
                    request.positions.extend(range(len(records)))
                    return
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                request.rejected.append(
                    {"index": index, "reason": f"an event must be a JSON object, got {type(record).__name__}"}
                )
                continue
            too_big = None
            for key, value in record.items():
                kind = type(value)
                if kind is str or kind is float or value is None:
                    continue  # most values: skip the call
                too_big = _out_of_range(value, key)
                if too_big:
                    break
            if too_big:
                request.rejected.append(
                    {
                        "index": index,
                        "reason": f"`{too_big}` holds an integer outside the 64-bit range; send it as text",
                    }
                )
                continue
            if not EVENT_FIELDS.issuperset(record):
                record = _canonical_names(record)
                request.records[index] = record
            if not EVENT_FIELDS.issuperset(record):
                unknown = sorted(set(record) - EVENT_FIELDS)
                request.rejected.append(
                    {
                        "index": index,
                        "reason": f"unknown field(s) {', '.join(unknown)}; put extra data under `properties`",
                    }
                )
                continue
            request.positions.append(index)

    def _validate(self, requests: list[_Request]) -> None:
        """Fill each request's table and rejections.

        Requests whose events all carry an `event_id` are validated together: their ids do not
        depend on what else is in the batch. Others are validated alone, because derived ids
        count identical rows within the batch.
        """
        for request in requests:
            self._check_fields(request)
        merged = [
            r for r in requests if r.positions and all(r.records[i].get("event_id") for i in r.positions)
        ]
        alone = [r for r in requests if r.positions and r not in merged]
        if merged:
            self._validate_together(merged)
        for request in alone:
            self._validate_together([request])

    def _validate_together(self, requests: list[_Request]) -> None:
        records: list[dict[str, Any]] = []
        for request in requests:
            whole = len(request.positions) == len(request.records)  # positions are then 0..n-1
            records.extend(request.records if whole else [request.records[p] for p in request.positions])
        prepared = self._prepare(records, timezone=self.timezone, window=self.window)
        bad = set()
        owner: list[tuple[_Request, int]] = []  # (request, position) of each merged event, when needed
        if prepared.rejected:
            owner = [(request, position) for request in requests for position in request.positions]
            for item in prepared.rejected:
                request, position = owner[item["index"]]
                request.rejected.append({"index": position, "reason": item["reason"]})
                bad.add(item["index"])
        valid = [i for i in range(len(records)) if i not in bad] if bad else range(len(records))
        if len(valid) != prepared.table.num_rows:
            raise StoreError(
                f"Validation returned {prepared.table.num_rows} rows for {len(valid)} valid events; refusing the batch."
            )
        # Rows are matched to requests by position; check that against the ids that were sent.
        ids = prepared.table.column("event_id").to_pylist()
        if bad or [record.get("event_id") for record in records] != ids:
            for row_number, merged_index in enumerate(valid):
                given = records[merged_index].get("event_id")
                if given not in (None, "") and str(given).strip() != ids[row_number]:
                    raise StoreError("Validation returned the events in another order; refusing the batch.")
        # Requests were merged in order and validation keeps it, so each request's rows are one
        # contiguous run of the result: a zero-copy slice.
        if not bad:  # the usual group: every event valid, so a request's rows are its positions
            offset = 0
            for request in requests:
                if request.positions:
                    request.sources.extend(request.positions)
                    request.table = prepared.table.slice(offset, len(request.positions))
                    offset += len(request.positions)
            return
        first_row: dict[int, int] = {}
        for row_number, merged_index in enumerate(valid):
            request, position = owner[merged_index]
            first_row.setdefault(id(request), row_number)
            request.sources.append(position)
        for request in requests:
            if request.sources:
                request.table = prepared.table.slice(first_row[id(request)], len(request.sources))

    def _stored(self, ids_by_request: list[list[str]]) -> set[str]:
        """The ids of the group the stored-id index holds (rare: a late repeat)."""
        return set(self._stored_index.maybe_stored(list(chain.from_iterable(ids_by_request))))

    def _finish(self, requests: list[_Request]) -> None:
        """Drop repeats (within the group, recently acknowledged, stored), build log lines and acks."""
        seen_in_group: set[str] = set()
        ids_by_request = [
            request.table.column("event_id").to_pylist()
            if request.table is not None and request.table.num_rows
            else []
            for request in requests
        ]
        stored = self._stored(ids_by_request)
        with self._recent_lock:
            for request, ids in zip(requests, ids_by_request, strict=True):
                duplicates = 0
                if ids:
                    assert request.table is not None
                    fresh = set(ids)
                    # Every recent id is in the stored-id index too (both get each acknowledged
                    # id), so ids the index does not flag are not recent: no lookup needed.
                    if (
                        len(fresh) == len(ids)
                        and fresh.isdisjoint(seen_in_group)
                        and fresh.isdisjoint(stored)
                    ):
                        keep = list(range(len(ids)))  # the usual request: set operations, no loop
                        seen_in_group |= fresh
                    else:
                        keep = []
                        live = []
                        for row, event_id in enumerate(ids):
                            if event_id in seen_in_group or (event_id in stored and event_id in self._recent):
                                duplicates += 1
                                continue
                            seen_in_group.add(event_id)
                            keep.append(row)
                            if event_id in stored:  # logged and written all the same: see the module
                                request.stored += 1
                            else:
                                live.append(len(keep) - 1)
                        request.table = request.table.take(pa.array(keep, pa.int64()))
                        if request.stored:
                            request.live = request.table.take(pa.array(live, pa.int64()))
                    request.ids = [ids[k] for k in keep]
                    # The log keeps each event as sent plus its final event_id, one line per
                    # request: replaying it through the same validation gives the same rows.
                    sent = [request.records[request.sources[k]] for k in keep]
                    if [record.get("event_id") for record in sent] != request.ids:
                        sent = [{**r, "event_id": i} for r, i in zip(sent, request.ids, strict=True)]
                    request.lines = orjson.dumps(sent) + b"\n" if sent else b""
                request.rejected.sort(key=lambda r: r["index"])
                request.ack = Ack(
                    accepted=len(request.ids) - request.stored,
                    duplicates=duplicates + request.stored,
                    rejected=request.rejected,
                )

    # -- threads -----------------------------------------------------------------------------
    @staticmethod
    def _drain(source: queue.Queue[Any], limit: int) -> tuple[list[Any], bool]:
        """Block for one item, then take whatever else is waiting; also says whether the stop mark came."""
        items: list[Any] = []
        first = source.get()
        if first is None:
            return items, True
        items.append(first)
        while len(items) < limit:
            try:
                nxt = source.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                # Each stop mark ends exactly one consumer, so never take a second one.
                return items, True
            items.append(nxt)
        return items, False

    def _validate_loop(self) -> None:
        # Validation has a high fixed cost per call, so each call takes every request waiting now.
        stopping = False
        while not stopping:
            requests, stopping = self._drain(self._incoming, 2000)
            if not requests:
                continue
            try:
                self._validate(requests)
            except Exception:
                # One odd request must not sink the others: retry each on its own.
                requests = self._validate_each(requests)
            if requests:
                self._validated.put(requests)

    def _validate_each(self, requests: list[_Request]) -> list[_Request]:
        passed = []
        for request in requests:
            request.positions, request.rejected, request.sources, request.table = [], [], [], None
            try:
                self._validate([request])
            except Exception as exc:
                log.warning("a request could not be validated: %s: %s", type(exc).__name__, exc)
                self._fail(
                    [request],
                    InputError(
                        f"The events could not be validated ({exc}); check their values against the schema."
                    ),
                )
                continue
            passed.append(request)
        return passed

    def _log_loop(self) -> None:
        stopping = False
        while not stopping:
            groups, stopping = self._drain(self._validated, 10_000)
            requests = [r for group in groups for r in group]
            if requests:
                # Everyone validated by now shares this fsync.
                with self._index_lock:
                    self._handle(requests)

    def _fail(self, requests: list[_Request], error: Exception) -> None:
        for request in requests:
            with self._backlog_lock:
                self._backlog -= len(request.records)
            request.future.set_exception(error)

    def _handle(self, requests: list[_Request]) -> None:
        self._finish(requests)
        lines = b"".join(request.lines for request in requests)
        durable = [r for r in requests if r.ids]
        segment = -1
        if lines:
            try:
                segment = self.log.append(lines)
            except OSError as exc:
                self.last_error = f"event log write failed: {exc}"
                log.error("event log write failed: %s", exc)
                self._fail(requests, StoreError("The event log could not be written; retry the request."))
                return
            self.stats["fsyncs"] += 1
        with self._recent_lock:
            for request in durable:
                self._recent.add(request.ids)
        for request in durable:
            self._stored_index.add(request.ids)
            if self._acked_since_settle is not None:
                self._acked_since_settle.extend(request.ids)
        with self._backlog_lock:
            # Only events headed for the store stay in the backlog.
            self._backlog -= sum(len(r.records) - len(r.ids) for r in requests)
        for request in durable:
            request.segment = segment
            self._to_store.put(request)
        if self.live is not None and durable:
            tables = [r.table if r.live is None else r.live for r in durable if r.table is not None]
            self.live.add_table(pa.concat_tables(tables, promote_options="permissive"))
        if self.on_durable is not None and durable:
            for request in durable:
                if request.table is not None:
                    self._hand_over(request.table if request.live is None else request.live)
        for request in requests:
            assert request.ack is not None
            self.stats["acknowledged"] += request.ack.accepted
            request.future.set_result(request.ack)
        self.log.rotate_if_full()

    def _writer_loop(self) -> None:
        self._catch_up_rollup()
        batch = _Batch()
        deadline: float | None = None
        running = True
        while running:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                group = self._to_store.get(timeout=timeout)
            except queue.Empty:
                group = _NO_GROUP
            if group is None:
                running = False
            elif group is not _NO_GROUP:
                assert group.table is not None
                batch.tables.append(group.table)
                batch.events += group.table.num_rows
                if batch.first_segment < 0:
                    batch.first_segment = group.segment
                batch.last_segment = group.segment
                if deadline is None:
                    deadline = time.monotonic() + self.flush_seconds
                if batch.events < self.batch_events and time.monotonic() < deadline:
                    continue
            if batch.events:
                self._commit(batch)
            batch = _Batch()
            deadline = None

    def _commit(self, batch: _Batch) -> None:
        table = pa.concat_tables(batch.tables, promote_options="permissive")
        # Retry: a failed write keeps the events in the log, so nothing acknowledged is lost.
        for attempt in range(5):
            try:
                with self.gate as store:
                    result = store_events(store, table, self._stored_ids)
                break
            except Exception as exc:
                self.last_error = f"store write failed: {exc}"
                log.error("store write failed (attempt %d): %s", attempt + 1, exc)
                time.sleep(0.5 * (attempt + 1))
        else:
            # Keep this batch's segments until a restart replays them.
            if self._keep_from is None or batch.first_segment < self._keep_from:
                self._keep_from = batch.first_segment
            with self._backlog_lock:
                self._backlog -= batch.events
            return
        self.last_error = None
        self.stats["stored"] += int(result.get("loaded", 0))
        self.stats["store_duplicates"] += int(result.get("duplicates", 0))
        with self._backlog_lock:
            self._backlog -= batch.events
        # Read the current segment before checking the queue: a segment below it was closed
        # after all its groups were queued, so if the queue is empty they are all committed.
        current = self.log.current
        safe_below = current if self._to_store.empty() else batch.last_segment
        if self._keep_from is not None:
            safe_below = min(safe_below, self._keep_from)
        self.log.drop_below(safe_below)
        self._not_rolled_up += int(result.get("loaded", 0))
        if self._not_rolled_up >= ROLLUP_EVERY:
            self._refresh_rollup()

    def _catch_up_rollup(self) -> None:
        # A store loaded by an older Cartwise, or by a writer that stopped short, may have many
        # events outside the rollup: fold them in before the first batch.
        try:
            with self.gate as store:
                self._not_rolled_up = rollup_lag(store)
        except Exception as exc:
            log.warning("analytics rollup state unreadable: %s", exc)
        if self._not_rolled_up >= ROLLUP_EVERY:
            self._refresh_rollup()

    def _refresh_rollup(self) -> None:
        # Analytics read the rollup plus the events after it, so a failure costs speed, not answers.
        self._not_rolled_up = 0
        try:
            with self.gate as store:
                refresh_rollup(store)
        except Exception as exc:
            log.warning("analytics rollup refresh failed: %s", exc)


_NO_GROUP: Any = object()
