"""Reads with a time limit, beside the store's one writer.

`timed_read(store, seconds, narrow=...)` hands out `store.reader()` (its own cursor, one
snapshot) and a watchdog thread that calls the cursor's `interrupt()` once `seconds` have
passed, and again every 50 ms until the read gives up (an interrupt that lands between two
queries would otherwise be lost). The interrupted read raises `QueryTimeout`, naming the
parameter that narrows it. Only the reader's cursor is interrupted: the writer, on the
store's own connection, is untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from cartwise.core.errors import QueryTimeout
from cartwise.store.store import Store

_REPEAT_SECONDS = 0.05


def timeout_error(seconds: float, narrow: str | None, what: str) -> QueryTimeout:
    """The error of a read stopped after `seconds`; `narrow` is the request parameter that makes it smaller."""
    how = (
        f"narrow it with `{narrow}`" if narrow else "ask for less"
    ) + " or raise the `read_timeout_seconds` setting"
    return QueryTimeout(
        f"The {what} took longer than the {seconds:g} s read limit and was stopped; {how}.",
        parameter=narrow,
    )


@contextmanager
def timed_read(
    store: Store, seconds: float | None, *, narrow: str | None = None, what: str = "query"
) -> Iterator[Store]:
    """`with timed_read(store, 30, narrow="start") as view:` reads through `view` for at most `seconds`.

    `narrow` is the parameter a caller can change to make the read smaller (e.g. `start`); it is
    named in the `QueryTimeout` the read raises when it is stopped. `seconds=None`: no limit
    (the service's own background reads, which no request waits for).
    """
    view = store.reader()
    if seconds is None:
        try:
            yield view
        finally:
            view.close()
        return
    done = threading.Event()
    fired = threading.Event()

    def watch() -> None:
        if done.wait(seconds):
            return
        fired.set()
        while not done.is_set():
            view.con.interrupt()
            done.wait(_REPEAT_SECONDS)

    watchdog = threading.Thread(target=watch, name="cartwise-read-limit", daemon=True)
    watchdog.start()
    try:
        yield view
    except Exception as exc:
        if fired.is_set():  # whatever the interrupted query turned into (a DuckDB or Ibis error)
            raise timeout_error(seconds, narrow, what) from exc
        raise
    finally:
        done.set()
        watchdog.join()
        view.close()
