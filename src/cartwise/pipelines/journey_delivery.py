"""The journey engine's delivery thread: a round's messages go out while the next round is walked.

The engine writes a round's messages to the send log (`Sender.stage`, state `pending`) on its
own thread, then hands the batch to this line and goes on walking runs (entering customers,
starting waits). One thread takes the batches in order and delivers their messages one at a
time through `Sender.deliver_staged`, each outcome journaled before the next, so the
exactly-once bound is the same as with a single thread: at most one message is in flight, and
every message is in the send log before its delivery is tried. The engine collects finished
batches (`finished`) and moves their runs past the send step. The queue is bounded, so an
engine far ahead of its deliveries waits instead of piling up batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cartwise.pipelines.sender import Sender

MAX_BATCHES = 8
"""Batches waiting for the delivery thread before the engine waits too."""


@dataclass
class Batch:
    """A round's staged sends: what the engine needs back (`sends`, `messages`, the states of
    messages that needed no delivery) and what the thread delivers (`todo` keys, `contexts`)."""

    sends: list[Any]
    messages: list[Any]
    states: dict[str, str]
    todo: list[str]
    contexts: Mapping[str, Mapping[str, Any]]
    error: BaseException | None = field(default=None)


class DeliveryLine:
    """One thread delivering `Batch`es in order; `on_done()` is called after each (to wake the
    engine's thread)."""

    def __init__(
        self, sender: Sender, on_done: Callable[[], None] | None = None, max_batches: int = MAX_BATCHES
    ) -> None:
        self.sender = sender
        self.on_done = on_done
        self._todo: queue.Queue[Batch | None] = queue.Queue(max_batches)
        self._done: queue.Queue[Batch] = queue.Queue()
        self._open = 0  # batches put and not yet taken back by `finished`
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="cartwise-journey-delivery", daemon=True)
        self._thread.start()

    def put(self, batch: Batch) -> None:
        """Queue a staged batch (blocks while `max_batches` are waiting)."""
        with self._idle:
            self._open += 1
        self._todo.put(batch)

    def finished(self, wait: bool = False) -> list[Batch]:
        """The batches delivered since the last call (their `states` complete, or their `error`
        set); with `wait`, first wait until every batch put has been delivered."""
        if wait:
            with self._idle:
                self._idle.wait_for(lambda: self._done.qsize() >= self._open)
        out: list[Batch] = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                break
        with self._idle:
            self._open -= len(out)
        return out

    @property
    def busy(self) -> bool:
        with self._idle:
            return self._open > 0

    def close(self) -> None:
        """Deliver what is queued, then stop the thread."""
        self._todo.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (batch := self._todo.get()) is not None:
            try:
                batch.states.update(self.sender.deliver_staged(batch.todo, batch.contexts))
            except BaseException as exc:  # handed back: the engine raises it in its own thread
                batch.error = exc
            with self._idle:
                self._done.put(batch)
                self._idle.notify_all()
            if self.on_done is not None:
                self.on_done()


__all__ = ["MAX_BATCHES", "Batch", "DeliveryLine"]
