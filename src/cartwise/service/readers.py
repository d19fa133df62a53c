"""The service's reader threads: where dashboard and API reads of the store run.

A read (a funnel over millions of events, say) is CPU work: DuckDB's on the reader's own
cursor, and Python's around it (Ibis builds and compiles the query, pandas and JSON shape the
answer). Run in the server's general thread pool at the collector's priority, a funnel
looping over a 10M-event store doubled the collector's median latency on two cores
(BENCHMARKS.md, "Reads beside the writer"). So reads run on a few threads of their own, each
started in Linux's SCHED_IDLE class (the `reader_idle` setting) or at a lower priority
(`nice`, raised by `reader_nice`): the kernel then hands a core to the collector's
validation, log and writer threads first whenever both want one, and the reads take what is
left (all of an idle core). SCHED_IDLE because a nice-10 thread still delayed each wake-up
of the collector's threads on two cores: with the funnel looping at 10M events the
collector's median went from 11-16 to 22-40 ms at nice 10 and stayed at 11-15 ms in
SCHED_IDLE (BENCHMARKS.md). The threads also bound how many reads
run at once; more wait.

Raising a thread's nice value needs no privilege; lowering it again does, which is why the
priority belongs to threads that only ever read, not to a thread borrowed for one read.
DuckDB's own worker threads (the `threads` setting above 1) serve the writer and the readers
alike and keep the process's priority; with `threads = 1` every read runs in its reader thread.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger("cartwise.service")

READER_THREADS = 4
"""Reads that run at once; more wait for a free reader thread."""
_HIGHEST_NICE = 19

T = TypeVar("T")


def lower_priority(increment: int, idle: bool = False) -> int | None:
    """Raise the calling thread's nice value by `increment` (at most to 19) and, with `idle`,
    move it to Linux's SCHED_IDLE class; returns the new nice value, or None where threads
    have no priority of their own to lower (not Linux)."""
    if idle and hasattr(os, "sched_setscheduler"):
        try:  # a thread id names that thread alone, as below
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
        except OSError as exc:
            log.warning("could not move the reader threads to the idle scheduling class: %s", exc)
    if increment <= 0 or not hasattr(os, "setpriority"):
        return None
    tid = threading.get_native_id()
    try:
        # On Linux a thread id names that thread alone: the process's other threads keep theirs.
        nice = min(os.getpriority(os.PRIO_PROCESS, tid) + increment, _HIGHEST_NICE)
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:  # a sandbox refusing it: reads still run, at the same priority
        log.warning("could not lower the reader threads' priority: %s", exc)
        return None
    return nice


class ReaderPool:
    """`pool.run(fn, *args)` runs `fn` on a reader thread and returns its result."""

    def __init__(self, *, nice: int, idle: bool = False, threads: int = READER_THREADS) -> None:
        self.reads = 0
        """Calls run so far (a count the tests read)."""
        self._executor = ThreadPoolExecutor(
            max_workers=threads,
            thread_name_prefix="cartwise-reader",
            initializer=lower_priority,
            initargs=(nice, idle),
        )

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on a reader thread; blocks the caller until it returns (or raises)."""
        self.reads += 1
        return self._executor.submit(fn, *args, **kwargs).result()

    def stop(self) -> None:
        """Finish the reads under way and end the threads."""
        self._executor.shutdown(wait=True, cancel_futures=True)
