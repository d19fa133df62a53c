"""Retraining while serving: fit a new model off the request path, save it, swap it in.

A retrain runs on `POST /api/v1/recommender/retrain`, on `RecsServer.retrain()`, or every
`retrain_hours` (the server's background loop asks `due`). Only reading the store runs under
the store's gate, so fitting never blocks writes; one retrain runs at a time.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartwise.pipelines.train import store_interactions
from cartwise.recommend import Recommender, create
from cartwise.service.recs.erasures import ErasureLog
from cartwise.service.recs.state import stamp

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate

log = logging.getLogger("cartwise.recs")


class Retrainer:
    """Fits `model` on the store's events, saves it to `model_dir` atomically and calls `swap`.

    `swap(model, watermark)` puts the model in service and returns its version; `spawn(target,
    name)` runs `target` on a background thread; `after()` runs (spawned) after each success.
    `status` says what the last retrain did: idle, queued, running, done or failed. Customers
    erased while it fits (`erasures`) are forgotten by the model before it is saved or swapped.
    """

    def __init__(
        self,
        gate: StoreGate,
        model_dir: Path,
        swap: Callable[[Recommender, int], str],
        spawn: Callable[[Callable[[], Any], str], None],
        after: Callable[[], Any],
        erasures: ErasureLog | None = None,
    ) -> None:
        self.gate = gate
        self.erasures = erasures or ErasureLog()
        self.model_dir = model_dir
        self._swap, self._spawn, self._after = swap, spawn, after
        self.status: dict[str, Any] = {"state": "idle"}
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def due(self, every_hours: float | None) -> bool:
        """Whether `every_hours` have passed since the last retrain started (None: never)."""
        return every_hours is not None and time.monotonic() - self._last >= every_hours * 3600

    def run(self, *, background: bool = False, model: str = "hybrid") -> dict[str, Any]:
        """Fit `model` on the store's events off the request path, save it, swap it in."""
        if background:
            if self._lock.locked():
                return dict(self.status)
            self.status = {"state": "queued", "since": stamp()}
            self._spawn(lambda: self.run(model=model), "cartwise-retrain")
            return dict(self.status)
        with self._lock:
            self._last = time.monotonic()
            started = time.perf_counter()
            self.status = {"state": "running", "since": stamp()}
            mark = self.erasures.mark()  # before the read: erasures after it are in what it reads
            try:
                fitted, watermark = fit_from_store(self.gate, model)
                with self.erasures.lock:
                    erased = self.erasures.locked_since(mark)
                    if erased:
                        fitted.forget_users(sorted(erased))
                    save_atomically(fitted, self.model_dir)
                    version = self._swap(fitted, watermark)
            except Exception as exc:
                log.exception("retraining failed")
                self.status = {"state": "failed", "error": str(exc)}
                return dict(self.status)
            finally:
                self.erasures.done(mark)
            self.status = {
                "state": "done",
                "version": version,
                "seconds": round(time.perf_counter() - started, 2),
                "finished": stamp(),
            }
        self._spawn(self._after, "cartwise-recs-eval")
        return dict(self.status)


def fit_from_store(gate: StoreGate, model: str) -> tuple[Recommender, int]:
    """Recommender `model` fitted on the store's events (read as a snapshot, so fitting never
    blocks writes), and the last event row id it saw."""
    with gate.read(limited=False) as store:
        watermark = int(store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0])
        interactions = store_interactions(store)
        items = store.arrow(
            "SELECT item_id, title, description, category, brand, price FROM items"
        ).to_pandas()
    return create(model).fit(interactions, items=items if len(items) else None), watermark


def save_atomically(model: Recommender, target: Path) -> None:
    """Save into a sibling folder, then rename it over `target`: a crash never leaves half a model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=".recommender-", dir=target.parent))
    model.save(fresh)
    old = target.with_name(f".{target.name}-old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
