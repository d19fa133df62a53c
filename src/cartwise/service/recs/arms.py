"""The recommenders a running recommender experiment serves (`cartwise.pipelines.recs_ab`).

Each arm is a recommender by registry name. The arm whose name is the serving model's reuses
its state; any other is loaded from `artefacts/recommenders/<name>` when saved there, or fitted
on the store's events off the request path and saved there (so a restart loads it), then its
state is built as the serving model's is. Until every arm of the experiment is ready, nobody is
enrolled: requests are answered by the serving model, untagged and without an exposure, so the
arms' traffic stays in the experiment's proportions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cartwise.recommend import Recommender, load_model
from cartwise.service.recs.erasures import ErasureLog
from cartwise.service.recs.retrain import fit_from_store, save_atomically
from cartwise.service.recs.state import State

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate

log = logging.getLogger("cartwise.recs")


class ExperimentHook(Protocol):
    """What the server asks the service's experiments (`cartwise.service.experiments`)."""

    def recommender_experiment(self) -> tuple[str, dict[str, str]] | None:
        """The running recommender experiment's key and `{variant: recommender}`, if any."""

    def assign(self, key: str, user_id: str, source: str = "api") -> str | None:
        """The user's variant (None: outside the audience or layer slice); records the exposure."""


class Arms:
    """States of the experiment's recommenders, prepared on a background thread each."""

    def __init__(
        self,
        gate: StoreGate,
        folder: Path,
        build: Callable[[Recommender, int], State],
        spawn: Callable[[Callable[[], Any], str], None],
        on_ready: Callable[[str, State], None],
        erasures: ErasureLog | None = None,
    ) -> None:
        self.gate = gate
        self.erasures = erasures or ErasureLog()
        self.folder = folder
        self._build, self._spawn, self._on_ready = build, spawn, on_ready
        self._lock = threading.Lock()
        self._states: dict[str, State] = {}
        self._status: dict[str, str] = {}

    def get(self, name: str) -> State | None:
        return self._states.get(name)

    def ready(self, names: Iterable[str], main: State) -> dict[str, State] | None:
        """`{recommender: state}` for every name, or None while one is still loading (it is
        started here) or failed (see `status`)."""
        out: dict[str, State] = {}
        missing = []
        for name in names:
            if main.model is not None and main.model.name == name:
                out[name] = main
            elif (found := self._states.get(name)) is not None:
                out[name] = found
            else:
                missing.append(name)
        for name in missing:
            self._prepare(name)
        return None if missing else out

    def states(self) -> list[State]:
        """The states of the arms that are ready (for an erasure to forget customers in)."""
        return list(self._states.values())

    @property
    def status(self) -> dict[str, str]:
        """Each arm's state: `loading`, `ready <version>` or `failed: <why>`."""
        return dict(self._status)

    def _prepare(self, name: str) -> None:
        with self._lock:
            if name in self._status:  # loading, or failed: a failure is not retried per request
                return
            self._status[name] = "loading"
        self._spawn(lambda: self._load_or_fit(name), f"cartwise-recs-arm-{name}")

    def _load_or_fit(self, name: str) -> None:
        path = self.folder / name
        mark = self.erasures.mark()  # customers erased while this arm loads or fits are forgotten
        try:
            fitted = not (path / "model.json").is_file()
            if fitted:
                model, watermark = fit_from_store(self.gate, name)
            else:
                with self.gate.read(limited=False) as store:
                    watermark = int(
                        store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0]
                    )
                model = load_model(path)
            with self.erasures.lock:
                erased = self.erasures.locked_since(mark)
                if erased:
                    model.forget_users(sorted(erased))
                if fitted:
                    save_atomically(model, path)
                state = self._build(model, watermark)
                self._states[name] = state
        except Exception as exc:
            log.exception("the experiment's recommender %s could not be prepared", name)
            self._status[name] = f"failed: {exc}"
            return
        finally:
            self.erasures.done(mark)
        self._status[name] = f"ready {state.version}"
        log.info("experiment arm %s is ready (%s)", name, state.version)
        self._on_ready(name, state)
