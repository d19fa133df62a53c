"""Retraining while serving: fit a new model off the request path, save it, swap it in.

A retrain runs on `POST /api/v1/recommender/retrain`, on `RecsServer.retrain()`, or every
`retrain_hours` (the server's background loop asks `due`). Only reading the store runs under
the store's gate, so fitting never blocks writes; one retrain runs at a time.

While a recommender experiment runs, its other arms (`cartwise.service.recs.arms`) are refitted
on the same snapshot of the events as the serving model and swapped in at the same moment, so
the experiment never compares a freshly trained model with one trained on older data. Until
then the old models keep serving; an arm whose refit fails keeps its old model and is retried.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from cartwise.pipelines.train import store_interactions
from cartwise.recommend import Recommender, create
from cartwise.service.recs.erasures import ErasureLog
from cartwise.service.recs.state import State, stamp

if TYPE_CHECKING:
    from cartwise.recommend import Interactions
    from cartwise.service.collector import StoreGate

log = logging.getLogger("cartwise.recs")


@dataclass(frozen=True)
class TrainingData:
    """One snapshot of the store's events as a recommender is fitted on it."""

    interactions: Interactions
    items: pd.DataFrame | None
    watermark: int  # the last event row id the snapshot holds


class Companions(Protocol):
    """The models refitted beside the serving one at a retrain: a recommender experiment's
    other arms (`cartwise.service.recs.arms.Arms`)."""

    def refit(self, data: TrainingData, serving: str) -> dict[str, tuple[Recommender, str]]:
        """`{name: (model, trained_at)}` of every arm but `serving`, fitted on `data`; an arm
        whose fit fails is left out (and its failure recorded)."""

    def stage(
        self, models: dict[str, tuple[Recommender, str]], watermark: int, erased: set[str]
    ) -> dict[str, State]:
        """The refitted arms without `erased`, saved, with the states that will serve them."""


class Retrainer:
    """Fits `model` on the store's events, saves it to `model_dir` atomically and calls `swap`.

    `swap(model, watermark, arms)` puts the model, and the refitted experiment arms `arms`
    (`{name: State}`), in service at one moment and returns the model's version; `spawn(target,
    name)` runs `target` on a background thread; `after()` runs (spawned) after each success.
    `status` says what the last retrain did: idle, queued, running, done or failed. Customers
    erased while it fits (`erasures`) are forgotten by the models before they are saved or
    swapped. `companions` refits the running experiment's other arms on the same data.
    """

    def __init__(
        self,
        gate: StoreGate,
        model_dir: Path,
        swap: Callable[[Recommender, int, dict[str, State]], str],
        spawn: Callable[[Callable[[], Any], str], None],
        after: Callable[[], Any],
        erasures: ErasureLog | None = None,
        companions: Companions | None = None,
    ) -> None:
        self.gate = gate
        self.erasures = erasures or ErasureLog()
        self.model_dir = model_dir
        self._swap, self._spawn, self._after = swap, spawn, after
        self.companions = companions
        self.status: dict[str, Any] = {"state": "idle"}
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def due(self, every_hours: float | None) -> bool:
        """Whether `every_hours` have passed since the last retrain started (None: never)."""
        return every_hours is not None and time.monotonic() - self._last >= every_hours * 3600

    def run(self, *, background: bool = False, model: str = "hybrid") -> dict[str, Any]:
        """Fit `model` (and the experiment's other arms) on one snapshot of the store's events
        off the request path, save them, swap them in together."""
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
                data = read_training_data(self.gate)
                fitted = fit_on(data, model)
                arms = self.companions.refit(data, model) if self.companions is not None else {}
                with self.erasures.lock:
                    erased = self.erasures.locked_since(mark)
                    if erased:
                        fitted.forget_users(sorted(erased))
                    save_atomically(fitted, self.model_dir)
                    staged = (
                        self.companions.stage(arms, data.watermark, erased)
                        if self.companions is not None
                        else {}
                    )
                    version = self._swap(fitted, data.watermark, staged)
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
            if staged:
                self.status["arms"] = {name: state.version for name, state in staged.items()}
        self._spawn(self._after, "cartwise-recs-eval")
        return dict(self.status)


def read_training_data(gate: StoreGate) -> TrainingData:
    """The store's interactions and catalogue, read as one snapshot (so fitting never blocks
    writes), with the last event row id it saw."""
    with gate.read(limited=False) as store:
        watermark = int(store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0])
        interactions = store_interactions(store)
        items = store.arrow(
            "SELECT item_id, title, description, category, brand, price FROM items"
        ).to_pandas()
    return TrainingData(interactions, items if len(items) else None, watermark)


def fit_on(data: TrainingData, model: str) -> Recommender:
    """Recommender `model` fitted on `data`."""
    return create(model).fit(data.interactions, items=data.items)


def fit_from_store(gate: StoreGate, model: str) -> tuple[Recommender, int]:
    """Recommender `model` fitted on the store's events, and the last event row id it saw."""
    data = read_training_data(gate)
    return fit_on(data, model), data.watermark


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
