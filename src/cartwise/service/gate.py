"""The service's one store: writes take turns behind a lock, reads run beside them.

`with gate as store:` is the single writer path (the collector's writer, deletions, keys,
sessions, impressions): one thread at a time on the store's own connection. `with
gate.read(narrow=...) as store:` is a reader on its own DuckDB cursor and snapshot, with the
`read_timeout_seconds` limit; it never takes the lock, so a slow funnel cannot hold up the
writer, and the writer never waits on a reader.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from cartwise.store import Store, timed_read

DEFAULT_READ_TIMEOUT = 30.0
"""Seconds, the `read_timeout_seconds` setting's default."""


class StoreGate:
    """The service's one Store: a lock for writers, snapshot cursors with a time limit for readers."""

    def __init__(self, store: Store, *, read_timeout: float = DEFAULT_READ_TIMEOUT) -> None:
        self.store = store
        self.read_timeout = read_timeout
        self._lock = threading.RLock()

    def __enter__(self) -> Store:
        self._lock.acquire()
        return self.store

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    @contextmanager
    def read(
        self, *, narrow: str | None = None, what: str = "query", limited: bool = True
    ) -> Iterator[Store]:
        """A read-only view on its own cursor and snapshot, stopped after `read_timeout` seconds
        with `QueryTimeout` naming `narrow`, the parameter that makes the read smaller.
        `limited=False`: no time limit, for the service's background work (recommendation
        polls and retrains), which no request waits for."""
        seconds = self.read_timeout if limited else None
        with timed_read(self.store, seconds, narrow=narrow, what=what) as view:
            yield view
