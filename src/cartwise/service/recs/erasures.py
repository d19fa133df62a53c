"""Erasures against model builds: a model fitted or loaded before an erasure must not serve it.

A retrain reads the events, fits for minutes, then saves and swaps its model; a customer erased
meanwhile is in what it read. Every build (a retrain, a reload, an experiment arm's fit or load)
takes a `mark` before it reads, and before it saves or swaps takes `lock` and forgets the
customers erased since its mark (`locked_since`). An erasure takes the same `lock` to record
its customers (`locked_record`) and rewrite the saved models, so a model is either saved and
swapped before the erasure (which then anonymises it on disk and in service) or forgets the
customer itself. Customers are remembered only while a build is under way, in memory.
"""

from __future__ import annotations

import threading
from collections import Counter


class ErasureLog:
    """Customers erased while builds run, numbered in order; see the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held by a build's forget-save-swap and by an erasure's rewrite
        self._count = threading.Lock()  # guards the counters below, held briefly
        self._erased: list[frozenset[str]] = []
        self._base = 0  # erasures dropped from `_erased` (no build needed them)
        self._builds: Counter[int] = Counter()

    def mark(self) -> int:
        """Start a build: its number of erasures so far (pass it to `locked_since` and `done`)."""
        with self._count:
            mark = self._base + len(self._erased)
            self._builds[mark] += 1
            return mark

    def done(self, mark: int) -> None:
        """End a build (success or not); erasures no running build needs are forgotten."""
        with self._count:
            self._builds[mark] -= 1
            if self._builds[mark] <= 0:
                del self._builds[mark]
            oldest = min(self._builds, default=self._base + len(self._erased))
            drop = oldest - self._base
            if drop > 0:
                del self._erased[:drop]
                self._base += drop

    def locked_record(self, user_ids: set[str]) -> None:
        """Record an erasure (caller holds `lock`); kept only while a build is under way."""
        with self._count:
            if self._builds:
                self._erased.append(frozenset(user_ids))

    def locked_since(self, mark: int) -> set[str]:
        """Customers erased after `mark` was taken (caller holds `lock`)."""
        with self._count:
            return set().union(*self._erased[max(0, mark - self._base) :])


__all__ = ["ErasureLog"]
