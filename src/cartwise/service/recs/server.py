"""`RecsServer`: the serving layer of one running service (see the `cartwise.service.recs` docstring)."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cartwise.core.errors import CartwiseError, InputError, NotFoundError
from cartwise.recommend import Recommender, load_model
from cartwise.service.recs import impressions, rules
from cartwise.service.recs.arms import Arms, ExperimentHook, in_a_word
from cartwise.service.recs.erasures import ErasureLog
from cartwise.service.recs.offline import count_interactions, estimate_seconds, evaluate_offline
from cartwise.service.recs.online import LiveActivity
from cartwise.service.recs.options import RecsOptions
from cartwise.service.recs.retrain import Retrainer
from cartwise.service.recs.state import State, build_state, fill_cache, now, saved_at, stamp

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate

log = logging.getLogger("cartwise.recs")


@dataclass
class Served:
    """One answered request."""

    request_id: str
    user_id: str
    items: list[dict[str, Any]]
    model_version: str
    cold_start: bool
    session_items: int
    experiment: str | None = None
    variant: str | None = None


class RecsServer:
    """The serving layer of one service; thread-safe; see the `cartwise.service.recs` docstring."""

    def __init__(
        self,
        gate: StoreGate,
        artefacts: Path,
        options: RecsOptions | None = None,
        experiments: ExperimentHook | None = None,
    ) -> None:
        self.gate = gate
        self.experiments = experiments
        self.options = options or RecsOptions()
        self.model_dir = artefacts / "recommender"
        self.offline_path = artefacts / "recs_offline.json"
        self._state: State | None = None
        self._lock = threading.Lock()
        self.live = LiveActivity(self._lock)
        self._impressions = impressions.ImpressionBuffer(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self.erasures = ErasureLog()
        self.arms = Arms(
            self.gate,
            artefacts / "recommenders",
            self._build_state,
            self._spawn,
            self._fill_arm,
            self.erasures,
            wanted=self._wanted_arms,
            retry_seconds=self.options.arm_retry_seconds,
            retry_max_seconds=self.options.arm_retry_max_seconds,
        )
        self._retrainer = Retrainer(
            self.gate,
            self.model_dir,
            self._swap,
            self._spawn,
            self._evaluate_offline,
            self.erasures,
            companions=self.arms,
        )
        self.offline: dict[str, Any] | None = None
        self.stats = {"requests": 0, "events_applied": 0, "swaps": 0}

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> RecsServer:
        watermark = self.live.start(self.gate)
        model = None
        if (self.model_dir / "model.json").is_file():
            try:
                model = load_model(self.model_dir)
            except CartwiseError as exc:
                log.warning("the saved recommender could not be loaded (%s); serving trending items", exc)
        self._state = self._build_state(model, watermark, saved_at(self.model_dir) if model else None)
        log.info(
            "serving recommender %s (%d items; %d known users)",
            self.state.version,
            len(self.state.item_ids),
            len(self.state.user_pos),
        )
        self._spawn(self._cache_filler(self.state), "cartwise-recs-cache")
        self.live.seed_sessions(self.gate)
        if self.offline_path.is_file():
            self.offline = json.loads(self.offline_path.read_text(encoding="utf-8"))
        self._thread = threading.Thread(target=self._loop, name="cartwise-recs", daemon=True)
        self._thread.start()
        if self.offline is None and model is not None:
            self.offline = {"status": "queued", "models": []}
            self._spawn(self._evaluate_offline, "cartwise-recs-eval")
        elif self.offline is None:
            self.offline = {"status": "waiting", "models": []}  # for the first training
        return self

    def _spawn(self, target: Callable[[], Any], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._workers = [t for t in self._workers if t.is_alive()] + [thread]
        thread.start()

    def stop(self, timeout: float = 120.0) -> None:
        """Stop the background thread, wait for a running retrain or evaluation, write impressions."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for thread in self._workers:
            thread.join(timeout=timeout)
        self.flush()
        gc.unfreeze()  # hand what was frozen back to the collector, so the process exits cleanly

    @property
    def state(self) -> State:
        state = self._state
        if state is None:
            raise InputError("The recommendation service is not started.")
        return state

    @property
    def retrain_status(self) -> dict[str, Any]:
        """What the last retrain did: idle, queued, running, done (with its version) or failed."""
        return self._retrainer.status

    def _build_state(self, model: Recommender | None, watermark: int, trained_at: str | None = None) -> State:
        state = replace(build_state(self.gate, self.options, model, watermark), trained_at=trained_at)
        # The model and its indices are hundreds of thousands of long-lived objects: keep the
        # garbage collector from walking them again and again while requests wait.
        gc.collect()
        gc.freeze()
        return state

    def _cache_filler(self, state: State) -> Callable[[], None]:
        def fill() -> None:
            if fill_cache(state, lambda: not self._stop.is_set() and self._state is state):
                # Scoring leaves long-lived objects behind (model caches): freeze them too, as at
                # load, but without a full collection first, which would stall requests for a second.
                gc.freeze()

        return fill

    def _fill_arm(self, name: str, state: State) -> None:
        def fill() -> None:
            if fill_cache(state, lambda: not self._stop.is_set() and self.arms.get(name) is state):
                gc.freeze()

        self._spawn(fill, f"cartwise-recs-cache-{name}")

    def _wanted_arms(self) -> set[str]:
        """The recommenders of the running recommender experiment (none: an empty set)."""
        running = self.experiments.recommender_experiment() if self.experiments is not None else None
        return set(running[1].values()) if running is not None else set()

    def _choose(self, user_id: str, state: State) -> tuple[State, str | None, str | None]:
        """The state serving `user_id`, with the experiment and variant that chose it (see `arms`)."""
        if self.experiments is None:
            return state, None, None
        running = self.experiments.recommender_experiment()
        if running is None:
            return state, None, None
        key, arms = running
        states = self.arms.ready(set(arms.values()), state)
        if states is None:
            return state, None, None
        try:
            variant = self.experiments.assign(key, user_id, "recs")
        except NotFoundError:  # stopped between the two calls
            return state, None, None
        if variant is None:
            return state, None, None
        return states[arms[variant]], key, variant

    # -- background work -------------------------------------------------------------------------
    def _loop(self) -> None:
        last_flush = last_catalogue = time.monotonic()
        while not self._stop.wait(self.options.poll_seconds):
            try:
                self.poll()
                if time.monotonic() - last_catalogue >= self.options.catalogue_seconds:
                    self.refresh_catalogue()
                    last_catalogue = time.monotonic()
                if time.monotonic() - last_flush >= self.options.flush_seconds:
                    self.flush()
                    last_flush = time.monotonic()
                if self._retrainer.due(self.options.retrain_hours):
                    self.retrain(background=True)
            except Exception:  # the loop must survive a bad batch; the next pass retries
                log.exception("recommendation background work failed")

    def poll(self) -> int:
        """Apply events stored since the last poll to sessions and users; returns how many."""
        applied = self.live.poll(self.gate)
        self.stats["events_applied"] += applied
        return applied

    def refresh_catalogue(self) -> int:
        """Re-read stock and the active flag; returns how many items are now blocked."""
        state = self.state
        with self.gate.read(limited=False) as store:
            rows = store.con.execute("SELECT item_id, stock, active FROM items").fetchall()
        blocked = np.ones(len(state.item_ids), dtype=bool)  # gone from the catalogue: blocked
        for item, stock, active in rows:
            pos = state.item_pos.get(str(item))
            if pos is not None:
                blocked[pos] = (active is False) or (stock is not None and stock <= 0)
        state.blocked[:] = blocked  # in place: requests keep reading one array
        return int(blocked.sum())

    def flush(self) -> int:
        """Write buffered impressions to `rec_impressions`; returns rows written."""
        return self._impressions.flush(self.gate)

    # -- model swaps -----------------------------------------------------------------------------
    def reload(self) -> str:
        """Load the saved model and swap it in; returns its version."""
        mark = self.erasures.mark()
        try:
            with self.gate.read() as store:
                watermark = int(
                    store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0]
                )
            model = load_model(self.model_dir)
            with self.erasures.lock:  # an erasure may have rewritten the folder after the load
                erased = self.erasures.locked_since(mark)
                if erased:
                    model.forget_users(sorted(erased))
                return self._swap(model, watermark, trained_at=saved_at(self.model_dir))
        finally:
            self.erasures.done(mark)

    def _swap(
        self,
        model: Recommender,
        watermark: int,
        arms: dict[str, State] | None = None,
        trained_at: str | None = None,
    ) -> str:
        """Serve `model`, and the experiment arms refitted with it (`arms`), from one moment on."""
        state = self._build_state(model, watermark, trained_at or stamp())
        with self._lock:
            self._state = state  # one reference: a request sees the old or the new model, never a mix
            self.arms.install_all(arms or {})
            self.live.locked_forget_until(watermark)
            self.stats["swaps"] += 1
        log.info("recommender %s is now serving", state.version)
        self._spawn(self._cache_filler(state), "cartwise-recs-cache")
        for name, arm in (arms or {}).items():
            log.info("experiment arm %s is refreshed (%s)", name, arm.version)
            self._fill_arm(name, arm)
        return state.version

    def retrain(self, *, background: bool = False, model: str = "hybrid") -> dict[str, Any]:
        """Fit `model` on the store's events off the request path, save it, swap it in."""
        return self._retrainer.run(background=background, model=model)

    def _evaluate_offline(self) -> None:
        """Score each model of `offline_models` and the baselines on a held-out split; saved for the page."""
        if not self.options.offline_models:
            self.offline = {"status": "disabled", "models": []}
            return
        previous = self.offline
        try:
            interactions = count_interactions(self.gate)
            seconds, basis = estimate_seconds(interactions, previous)
            # An earlier report stays on the page (its models) until the new one is in.
            self.offline = {
                **(previous if previous and previous.get("models") else {"models": []}),
                "status": "running",
                "started_at": stamp(),
                "interactions": interactions,
                "eta_seconds": round(seconds, 1),
                "eta_basis": basis,
            }
            report = evaluate_offline(self.gate, self.options.offline_models)
            self.offline = report
            self.offline_path.write_text(json.dumps(report, indent=1), encoding="utf-8")
        except Exception as exc:
            log.exception("offline evaluation failed")
            self.offline = {"error": str(exc), "models": []}

    # -- erasure ---------------------------------------------------------------------------------
    @contextmanager
    def erasing(self, user_ids: list[str]) -> Iterator[None]:
        """Hold model builds off while an erasure rewrites the saved models and calls
        `forget_users`: a retrain or reload under way forgets `user_ids` before it saves or
        swaps (see `cartwise.service.recs.erasures`)."""
        with self.erasures.lock:
            self.erasures.locked_record(set(user_ids))
            yield

    def forget_users(self, user_ids: list[str]) -> dict[str, int]:
        """Forget erased customers at once: the serving model and every ready experiment arm
        anonymise them (`Recommender.forget_users`), their rows leave the served states (user
        index, purchases, cached lists), their fresh events and unwritten impressions are
        dropped. Their next request is answered as an unknown user's. Returns what was forgotten
        (`users`: rows of the serving model, `arm_users`: rows of the other arms' models)."""
        wanted = set(user_ids)
        with self._lock:
            users = arm_users = 0
            main = self._state
            for state in [main, *[s for s in self.arms.states() if s is not main]]:
                if state is None or state.model is None:
                    continue
                found = state.model.forget_users(list(wanted))
                if state is main:
                    users = found
                else:
                    arm_users += found
                for user in wanted:
                    row = state.user_pos.pop(user, None)
                    if row is not None and state.cache is not None:
                        state.cache.ready[row] = False
            fresh = self.live.locked_forget_users(wanted)
        return {
            "users": users,
            "arm_users": arm_users,
            "fresh_events": fresh,
            "impressions": self._impressions.drop_users(wanted),
        }

    # -- answers ---------------------------------------------------------------------------------
    def _check_n(self, n: int) -> int:
        if not 1 <= n <= self.options.max_n:
            raise InputError(f"n must be between 1 and {self.options.max_n}; got {n}.")
        return n

    def recommend(
        self,
        user_id: str,
        n: int = 10,
        *,
        session_id: str | None = None,
        context_item: str | None = None,
        seed: int | None = None,
        surface: str = "api",
        log_impression: bool = True,
    ) -> Served:
        """Up to `n` items for `user_id` under the business rules, each with a score and a reason."""
        n = self._check_n(n)
        state, experiment, variant = self._choose(user_id, self.state)
        fresh, live_bought, session = self.live.snapshot(user_id, session_id)
        if context_item is not None:
            if context_item not in state.item_pos:
                raise NotFoundError(f"context_item {context_item!r} is not in the catalogue.")
            session.append(context_item)
        ranked = rules.rank(
            state, self.options, user_id, n, fresh=fresh, live_bought=live_bought, session=session, seed=seed
        )
        request_id = uuid.uuid4().hex
        items = [
            {
                "item_id": str(state.item_ids[p]),
                "title": state.titles[p],
                "category": state.categories[p],
                "score": round(score, 6),
                "reason": reason,
                "reason_item_id": because,
            }
            for p, score, (reason, because) in zip(
                ranked.positions, ranked.scores, ranked.reasons, strict=True
            )
        ]
        self.stats["requests"] += 1
        if log_impression and items:
            shown = now()
            self._impressions.add(
                [
                    (
                        request_id,
                        shown,
                        user_id,
                        session_id,
                        it["item_id"],
                        rank,
                        it["score"],
                        it["reason"],
                        state.version,
                        surface,
                        experiment,
                        variant,
                    )
                    for rank, it in enumerate(items, start=1)
                ]
            )
        return Served(
            request_id, user_id, items, state.version, ranked.cold, ranked.session_items, experiment, variant
        )

    def similar(self, item_id: str, n: int = 10) -> list[dict[str, Any]]:
        """Items most similar to `item_id` (the model's `similar_items`), under the stock rules."""
        n = self._check_n(n)
        state = self.state
        if item_id not in state.item_pos:
            raise NotFoundError(f"item_id {item_id!r} is not in the catalogue.")
        if state.model is None:
            return self.trending(n, exclude=item_id)
        k = min(len(state.item_ids) - 1, n * self.options.overfetch)
        key = (item_id, max(k, 1))
        found = state.similar.get(key)
        if found is None:
            # A model's similarities never change: keep them, and apply the stock rules on each read.
            ids, scores = state.model.similar_items([item_id], n=key[1])
            found = (ids[0].tolist(), scores[0].tolist())
            if len(state.similar) >= 100_000:
                state.similar.clear()
            state.similar[key] = found
        out = []
        for item, score in zip(*found, strict=True):
            pos = state.item_pos.get(item) if item is not None else None
            if pos is None or state.blocked[pos]:
                continue
            out.append(
                self._item(state, pos, float(score), f"Similar to {state.titles[state.item_pos[item_id]]}")
            )
            if len(out) == n:
                break
        return out

    def bought_together(self, item_id: str, n: int = 10) -> list[dict[str, Any]]:
        """Items in the same orders as `item_id` (pair basket rules by lift), in stock and active."""
        n = self._check_n(n)
        state = self.state
        if item_id not in state.item_pos:
            raise NotFoundError(f"item_id {item_id!r} is not in the catalogue.")
        out = []
        title = state.titles[state.item_pos[item_id]]
        for other, confidence, lift in state.together.get(item_id, []):
            pos = state.item_pos.get(other)
            if pos is None or state.blocked[pos]:
                continue
            entry = self._item(state, pos, lift, f"Bought with {title} in {confidence:.0%} of its orders")
            entry["confidence"] = round(confidence, 4)
            entry["lift"] = round(lift, 4)
            out.append(entry)
            if len(out) == n:
                break
        return out

    def trending(
        self, n: int = 10, *, category: str | None = None, exclude: str | None = None
    ) -> list[dict[str, Any]]:
        """Items with the most recency-weighted interest (half-life `trending_half_life_days`)."""
        n = self._check_n(n)
        state = self.state
        scores = np.where(state.blocked, -np.inf, state.trending)
        if category:
            inside = np.fromiter(
                (c.startswith(category) for c in state.categories), dtype=bool, count=len(scores)
            )
            scores = np.where(inside, scores, -np.inf)
        if exclude is not None and exclude in state.item_pos:
            scores[state.item_pos[exclude]] = -np.inf
        order = np.lexsort((np.arange(len(scores)), -scores))
        return [
            self._item(state, p, float(scores[p]), "Trending now")
            for p in order[:n].tolist()
            if np.isfinite(scores[p])
        ]

    @staticmethod
    def _item(state: State, pos: int, score: float, reason: str) -> dict[str, Any]:
        return {
            "item_id": str(state.item_ids[pos]),
            "title": state.titles[pos],
            "category": state.categories[pos],
            "score": round(score, 6),
            "reason": reason,
        }

    # -- reading back ----------------------------------------------------------------------------
    def history(self, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The user's latest item events (newest first), for the dashboard's try-it panel."""
        return impressions.user_history(self.gate, user_id, limit)

    def online_metrics(self, days: int = 30) -> dict[str, Any]:
        """Impressions and the actions attributed to them (`cartwise.service.recs.impressions`), over `days`."""
        self.flush()
        return impressions.online_metrics(self.gate, self.options.attribution_hours, days)

    def model_info(self) -> dict[str, Any]:
        state = self.state
        model = state.model
        arms = self.arm_details()
        return {
            "version": state.version,
            "model": model.name if model is not None else None,
            "loaded_at": state.loaded_at,
            "users": len(model.user_ids_) if model is not None else 0,
            "items": len(state.item_ids),
            "blocked_items": int(state.blocked.sum()),
            "batch_scored_users": state.cache.done if state.cache is not None else 0,
            "retrain": dict(self.retrain_status),
            "experiment_arms": {name: in_a_word(detail) for name, detail in arms.items()},
            "experiment_arm_details": arms,
            "stats": dict(self.stats),
            "options": self.options.model_dump(),
        }

    def arm_details(self) -> dict[str, dict[str, Any]]:
        """Each recommender of the running experiment (and any arm prepared before): its state,
        the version and training time of the model serving it, failures and the next retry
        (`cartwise.service.recs.arms`). The serving model's own arm is `serving: true`."""
        out = {name: {**arm, "serving": False} for name, arm in self.arms.details.items()}
        state = self._state
        if state is not None and state.model is not None and state.model.name in self._wanted_arms():
            out[state.model.name] = {
                "state": "ready",
                "version": state.version,
                "trained_at": state.trained_at,
                "watermark": state.watermark,
                "attempts": 0,
                "last_error": None,
                "failed_at": None,
                "next_retry_at": None,
                "serving": True,
            }
        return out

    def example_users(self, limit: int = 8) -> list[str]:
        """Customers with the most purchases, to try recommendations on."""
        return impressions.top_buyers(self.gate, limit)
