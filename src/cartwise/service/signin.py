"""Limits on sign-in attempts, and a cap on the password hashing they can cause.

Each password check costs one scrypt (16 MiB, ~50 ms of a core) before anyone is
authenticated, so two things bound that work:

- `SignInLimiter.admit` counts attempts per user name and per client address over a sliding
  window and refuses the attempt (with the seconds to wait) once either is at its limit. It is
  checked, and the attempt counted, before any hashing; a successful sign-in takes its own
  attempt back and clears the user name's failures, so only failures accumulate.
- `SignInLimiter.hashing` lets at most `concurrency` password checks run at once; the others
  wait up to `wait_seconds` and then get `SignInBusy`.

A user name is limited whether or not it exists, so the limit does not reveal which names do.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cartwise.core.errors import SignInBusy


@dataclass(frozen=True)
class Refusal:
    """Why an attempt was refused and how long to wait, in whole seconds (at least 1)."""

    limit: str  # "user" or "address"
    retry_after: int

    @property
    def message(self) -> str:
        who = "this user name" if self.limit == "user" else "your address"
        return f"Too many sign-in attempts for {who}; try again in {self.retry_after} s."


class _Window:
    """Timestamps of recent attempts per key, within `seconds`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self.hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        if not hits:
            del self.hits[key]
        return hits

    def wait(self, key: str, now: float) -> float:
        """Seconds until `key` may try again (0 when it may now)."""
        hits = self._recent(key, now)
        if len(hits) < self.limit:
            return 0.0
        return hits[len(hits) - self.limit] + self.seconds - now

    def add(self, key: str, now: float) -> None:
        self.hits.setdefault(key, deque()).append(now)

    def take_back(self, key: str) -> None:
        hits = self.hits.get(key)
        if hits:
            hits.pop()
            if not hits:
                del self.hits[key]

    def clear(self, key: str) -> None:
        self.hits.pop(key, None)

    def sweep(self, now: float) -> None:
        for key in list(self.hits):
            self._recent(key, now)


class SignInLimiter:
    """Attempts per user name and per client address over a sliding window; a hashing cap."""

    def __init__(
        self,
        *,
        per_user: int,
        per_address: int,
        window_seconds: float,
        concurrency: int,
        wait_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = _Window(per_user, window_seconds)
        self._addresses = _Window(per_address, window_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted = 0
        self._slots = threading.BoundedSemaphore(concurrency)
        self.wait_seconds = wait_seconds

    def admit(self, username: str | None, address: str) -> Refusal | None:
        """Count an attempt by `username` (None for a key sign-in) from `address`, or refuse it."""
        now = self._clock()
        with self._lock:
            self._admitted += 1
            if self._admitted % 1000 == 0:  # forget keys idle for a whole window
                self._users.sweep(now)
                self._addresses.sweep(now)
            user_wait = self._users.wait(username, now) if username is not None else 0.0
            address_wait = self._addresses.wait(address, now)
            if user_wait > 0 or address_wait > 0:
                limit, wait = ("user", user_wait) if user_wait >= address_wait else ("address", address_wait)
                return Refusal(limit, max(1, math.ceil(wait)))
            if username is not None:
                self._users.add(username, now)
            self._addresses.add(address, now)
            return None

    def succeeded(self, username: str | None, address: str) -> None:
        """An admitted attempt signed in: it does not count, and the user name's failures are cleared."""
        with self._lock:
            if username is not None:
                self._users.clear(username)
            self._addresses.take_back(address)

    def withdraw(self, username: str | None, address: str) -> None:
        """An admitted attempt was never checked (the hashing cap stayed full): it does not count."""
        with self._lock:
            if username is not None:
                self._users.take_back(username)
            self._addresses.take_back(address)

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """A slot for one password check; `SignInBusy` when none frees up within `wait_seconds`."""
        if not self._slots.acquire(timeout=self.wait_seconds):
            raise SignInBusy("Too many sign-ins are being checked at once; try again in a few seconds.")
        try:
            yield
        finally:
            self._slots.release()
