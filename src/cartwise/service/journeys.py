"""Journeys inside the running service: fed by collected events, woken by durable timers.

The collector hands every durable, acknowledged batch of events to `JourneyRunner.offer`
(a queue put: the acknowledgement never waits for a journey). One background thread takes
them, enters, exits and wakes runs, and sleeps until the next run's `due_at` (read from the
store) or the next event, whichever is first: a `wait: 2s` fires about two seconds later, and
after a restart the timers are read back from the store. Audience and replenishment triggers
and held messages are checked every `CHECK_SECONDS`. Every database step goes through the
service's gate; deliveries run outside it.

With the `journey_time_scale` setting above 1 (the demo sets its replay speed), waits given as
durations end that many times sooner; their `due_at` stays a real UTC time, so this thread's
sleep and a restart need nothing special (`pipelines.journey_dates.wait_end`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cartwise.pipelines import journeys as journeys_job
from cartwise.pipelines.journey_engine import EVENT_COLUMNS, JourneyEngine
from cartwise.pipelines.sender import now_utc

if TYPE_CHECKING:
    from cartwise.service.service import Service

log = logging.getLogger("cartwise.service.journeys")
CHECK_SECONDS = 60.0
"""How often audience and date triggers are checked and held journey messages resumed."""
_IDLE_SECONDS = 60.0  # longest sleep with no timer due (new timers come from this thread or an apply)
ROUND_SECONDS = 0.2
"""Shortest time between two rounds of collected events: the batches of that time are handled
together. Each round reads the store a few times under the writer's gate; one per collector
group (~75 a second at 20,000 events/s) kept this thread busy 80% of the time and took a third
of a core with no journey running; at 5 a second a journey reacts at most 0.2 s later."""


class JourneyRunner:
    """The journey engine's thread. `offer` may be called before `start` (the collector's
    replay at start-up): the events wait in the queue."""

    def __init__(
        self, service: Service, check_interval: float = CHECK_SECONDS, round_seconds: float = ROUND_SECONDS
    ) -> None:
        self.service = service
        self.check_interval = check_interval
        self.round_seconds = round_seconds
        self.engine: JourneyEngine | None = None
        self.stats = {"events": 0, "entered": 0, "errors": 0, "rounds": 0}
        self.last_error: str | None = None
        self._queue: queue.Queue[pa.Table | None] = queue.Queue()
        self._reload = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cartwise-journeys", daemon=True)

    # -- the collector's side -------------------------------------------------------------------
    def offer(self, table: pa.Table) -> None:
        """Hand over durable events (called on the collector's log thread: one queue put)."""
        keep = [c for c in EVENT_COLUMNS if c in table.column_names]
        if "user_id" in keep and "type" in keep and table.num_rows:
            self._queue.put(table.select(keep))

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> JourneyRunner:
        gate = self.service.require_gate()
        self.engine = JourneyEngine(gate.store, self.service.settings, access=lambda: gate)
        if self.engine.time_scale != 1:
            log.warning(
                "journey waits given as durations last %gx less (journey_time_scale): for demos and tests",
                self.engine.time_scale,
            )
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    def reload(self) -> None:
        """A journey was applied: new entries go to its newest version from the next event on."""
        self._reload.set()
        self._queue.put(None)  # wake the thread

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        assert self.engine is not None
        engine = self.engine
        next_check = 0.0
        last_round = 0.0
        while not self._stop.is_set():
            try:
                if self._reload.is_set():
                    self._reload.clear()
                    engine.reload()
                # Let the batches of ROUND_SECONDS gather; on stop, go on at once.
                self._stop.wait(last_round + self.round_seconds - time.monotonic())
                # On stop, the events already offered are still handled (one last round).
                batch = self._take(self._sleep_for(engine, next_check))
                last_round = time.monotonic()
                if batch is not None:
                    self.stats["rounds"] += 1
                    self.stats["events"] += batch.num_rows
                    self.stats["entered"] += engine.handle_events(batch)
                engine.run_due()
                if time.monotonic() >= next_check:
                    self.stats["entered"] += engine.check_triggers()
                    engine.resume_held()
                    next_check = time.monotonic() + self.check_interval
                self.last_error = None
            except Exception as exc:  # logged; the state is in the store, the next round goes on
                self.stats["errors"] += 1
                self.last_error = log_failed_round(exc)
                self._stop.wait(1.0)

    def _sleep_for(self, engine: JourneyEngine, next_check: float) -> float:
        due = engine.next_due()
        until_check = max(0.0, next_check - time.monotonic())
        until_due = _IDLE_SECONDS if due is None else max(0.0, (due - now_utc()).total_seconds())
        return min(until_due, until_check, _IDLE_SECONDS)

    def _take(self, timeout: float) -> pa.Table | None:
        """Every batch waiting (blocking up to `timeout` seconds for the first), as one table."""
        tables: list[pa.Table] = []
        try:
            first = self._queue.get(timeout=timeout)
            if first is not None:
                tables.append(first)
            while True:
                more = self._queue.get_nowait()
                if more is not None:
                    tables.append(more)
        except queue.Empty:
            pass
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="permissive")


def log_failed_round(exc: BaseException) -> str:
    """Log a failed journey round by its exception's type and stack, never its message (a store
    error may quote a customer's id or address, and logs must hold no personal data: issue 21);
    returns the type's name."""
    name = type(exc).__name__
    log.error("journey round failed: %s\n%s", name, "".join(traceback.format_tb(exc.__traceback__)).rstrip())
    return name


# -- what the API calls ------------------------------------------------------------------------
def apply(service: Service, text: str) -> dict[str, Any]:
    """`cartwise journeys apply` while the server runs: `{"journey", "version", "changed"}`."""
    with service.require_gate() as store:
        result = journeys_job.apply_journey(store, service.settings, text)
    if service.journeys is not None:
        service.journeys.reload()
    return result


def validate(service: Service, text: str) -> dict[str, Any]:
    journey = journeys_job.validate_journey(service.settings, text)
    return {"journey": journey.name, "valid": True}


def listed(service: Service) -> list[dict[str, Any]]:
    with service.require_gate() as store:
        return journeys_job.list_journeys(store)


def shown(service: Service, name: str) -> dict[str, Any]:
    with service.require_gate() as store:
        return journeys_job.show_journey(store, name)


def health(service: Service) -> dict[str, Any]:
    runner = service.journeys
    if runner is None:
        return {"running": False}
    return {"running": True, **runner.stats, "last_error": runner.last_error}


__all__ = [
    "CHECK_SECONDS",
    "JourneyRunner",
    "apply",
    "health",
    "listed",
    "log_failed_round",
    "shown",
    "validate",
]
