"""Experiment assignment in the running service, with exposures written through its one writer.

`experiments_for(service)` holds the running definitions (with each audience's members) in
memory, so an assignment is a hash and a lookup (`bench/experiments_assign.py`). The first
exposure of a (experiment, user) pair in this process is buffered and written to `exposures`
through the service's store gate every `flush_seconds`; a restart may write a pair again, and
the analysis takes each user's earliest row. Every process computes the same variant
(`cartwise.experiments.assign`), so the API, the recommendation route and journeys' `split`
steps agree.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cartwise.core.errors import InputError, NotFoundError
from cartwise.experiments import Experiment, assign
from cartwise.pipelines import experiments as store_experiments
from cartwise.pipelines.recs_ab import impressions_by_variant, recommender_arms
from cartwise.service.collector import StoreGate
from cartwise.service.recs.options import RecsOptions
from cartwise.service.service import Service

SOURCES = ("api", "recs", "journey")
MAX_SEEN = 2_000_000
"""Pairs remembered as exposed; beyond it the memory is cleared (about 200 MB at most), and a
pair seen again is written again, which the analysis ignores (it takes each user's first row)."""


@dataclass(frozen=True)
class _Loaded:
    experiment: Experiment
    cumulative: tuple[float, ...]
    audience: frozenset[str] | None


class Assigner:
    """Running experiments in memory; `assign` records exposures, `flush` writes them."""

    def __init__(self, gate: StoreGate, flush_seconds: float = 1.0) -> None:
        self.gate = gate
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._loaded: dict[str, _Loaded] = {}
        self._recommender: tuple[str, dict[str, str]] | None = None
        self._seen: set[tuple[str, str]] = set()
        self._pending: list[tuple[str, str, str, datetime, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Assigner:
        self.reload()
        self._thread = threading.Thread(target=self._run, name="cartwise-exposures", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def reload(self) -> None:
        """Read the running definitions (and audiences) from the store again."""
        with self.gate as store:
            running = store_experiments.running_experiments(store)
            audiences = {
                e.key: frozenset(store_experiments.audience_members(store, e.audience))
                for e in running
                if e.audience
            }
        loaded = {e.key: _Loaded(e, tuple(e.cumulative()), audiences.get(e.key)) for e in running}
        arms = [(e.key, found) for e in running if (found := recommender_arms(e)) is not None]
        with self._lock:
            self._loaded = loaded
            self._recommender = arms[0] if arms else None

    def assign(self, key: str, user_id: str, source: str = "api") -> str | None:
        """The variant of `user_id` in running experiment `key` (None: outside the audience or
        the layer slice); the first time in this process, an exposure is queued."""
        if not user_id or len(user_id) > 200:
            raise InputError(f"`user_id` is {user_id!r}; give the shopper's id (1 to 200 characters).")
        entry = self._loaded.get(key)
        if entry is None:
            raise NotFoundError(
                f"No running experiment {key!r}; `cartwise experiments list` shows them (a stopped one assigns nobody)."
            )
        if entry.audience is not None and user_id not in entry.audience:
            return None
        variant = assign(entry.experiment, user_id, entry.cumulative)
        if variant is not None:
            pair = (key, user_id)
            if pair not in self._seen:
                with self._lock:
                    if pair not in self._seen:
                        if len(self._seen) >= MAX_SEEN:
                            self._seen.clear()
                        self._seen.add(pair)
                        self._pending.append((key, user_id, variant, _now(), source))
        return variant

    def recommender_experiment(self) -> tuple[str, dict[str, str]] | None:
        """The running recommender experiment (every variant's value names a recommender):
        its key and `{variant: recommender}`; None when none runs (`cartwise.pipelines.recs_ab`)."""
        return self._recommender

    def value_of(self, key: str, variant: str) -> str | None:
        """The `value` a variant carries (e.g. a recommender name), or None."""
        entry = self._loaded.get(key)
        if entry is None:
            return None
        return next((v.value for v in entry.experiment.variants if v.name == variant), None)

    def flush(self) -> int:
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return 0
        with self.gate as store:
            return store_experiments.write_exposures(store, rows)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_ASSIGNERS: weakref.WeakKeyDictionary[Service, Assigner] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def experiments_for(service: Service) -> Assigner:
    """The service's assigner, started on first use."""
    found = _ASSIGNERS.get(service)
    if found is not None:
        return found
    with _LOCK:
        found = _ASSIGNERS.get(service)
        if found is None:
            found = Assigner(service.require_gate(), service.settings.flush_seconds).start()
            _ASSIGNERS[service] = found
    return found


def stop_experiments(service: Service) -> None:
    """Write pending exposures and stop the flusher; before the store closes."""
    with _LOCK:
        found = _ASSIGNERS.pop(service, None)
    if found is not None:
        found.stop()


def assign_variant(service: Service, key: str, user_id: str, source: str = "recs") -> str | None:
    """Server-side assignment for recommendations and journeys' `split` steps (records the exposure)."""
    return experiments_for(service).assign(key, user_id, source)


# -- definitions through the service's writer -------------------------------------------------
def create(service: Service, definition: dict[str, Any]) -> dict[str, Any]:
    with service.require_gate() as store:
        info = store_experiments.create_experiment(store, definition)
    experiments_for(service).reload()
    return info


def stop(service: Service, key: str) -> dict[str, Any]:
    with service.require_gate() as store:
        info = store_experiments.stop_experiment(store, key)
    experiments_for(service).reload()
    return info


def listing(service: Service) -> list[dict[str, Any]]:
    experiments_for(service).flush()
    with service.require_gate() as store:
        return store_experiments.list_experiments(store)


def info(service: Service, key: str) -> dict[str, Any]:
    experiments_for(service).flush()
    with service.require_gate() as store:
        return store_experiments.experiment_info(store, key)


def results(service: Service, key: str, **options: Any) -> dict[str, Any]:
    """The analysis of `key` from the store (see `cartwise.pipelines.experiments`)."""
    experiments_for(service).flush()
    _flush_impressions(service)
    options.setdefault("attribution_hours", RecsOptions.from_settings(service.settings).attribution_hours)
    with service.require_gate() as store:
        analysis = store_experiments.analyze_experiment(store, key, **options)
    return {"experiment": key, **analysis.to_dict()}


def _flush_impressions(service: Service) -> None:
    """Write the recommendation server's buffered impressions, when one runs, before reading them."""
    from cartwise.service.recs.registry import running_recs

    server = running_recs(service)
    if server is not None:
        server.flush()


def recommender_arms_of(service: Service, key: str) -> list[dict[str, Any]] | None:
    """For a recommender experiment (None otherwise), each variant with its recommender, what
    its impressions were served by (`impressions`, `users`, `served_versions`: the model
    versions, from `rec_impressions`) and, while the experiment runs, the arm's live status on
    the recommendation server (`state`, `version`, `trained_at`, `attempts`, `last_error`,
    `next_retry_at`, `serving`; see `cartwise.service.recs.arms`)."""
    from cartwise.service.recs.registry import running_recs

    experiments_for(service).flush()
    _flush_impressions(service)
    with service.require_gate() as store:
        exp = store_experiments.get_experiment(store, key)
        arms = recommender_arms(exp)
        if arms is None:
            return None
        served = impressions_by_variant(store, key)
    server = running_recs(service)
    live = server.arm_details() if server is not None and exp.status == "running" else {}
    out = []
    for variant, recommender in arms.items():
        shown = served.get(variant, {})
        now = live.get(recommender, {})
        out.append(
            {
                "variant": variant,
                "recommender": recommender,
                "state": now.get("state", "stopped" if exp.status != "running" else "not started"),
                "version": now.get("version"),
                "trained_at": now.get("trained_at"),
                "serving": bool(now.get("serving", False)),
                "attempts": now.get("attempts", 0),
                "last_error": now.get("last_error"),
                "next_retry_at": now.get("next_retry_at"),
                "impressions": shown.get("impressions", 0),
                "users": shown.get("users", 0),
                "served_versions": shown.get("model_versions", []),
            }
        )
    return out


def timeline(service: Service, key: str, metric: str = "conversion") -> list[dict[str, Any]]:
    """The cumulative lift of `metric` over time with its sequential band (see the pipeline)."""
    experiments_for(service).flush()
    with service.require_gate() as store:
        return store_experiments.cumulative_lift(store, key, metric=metric)


def uplift_models(service: Service) -> list[dict[str, Any]]:
    """The saved Qini and uplift curves of every fitted uplift model (`cartwise.pipelines.uplift_curves`)."""
    from cartwise.pipelines.uplift_curves import load_curves

    with service.require_gate() as store:
        return load_curves(store)
