"""The recommenders a running recommender experiment serves (`cartwise.pipelines.recs_ab`).

Each arm is a recommender by registry name. The arm whose name is the serving model's reuses
its state; any other is loaded from `artefacts/recommenders/<name>` when saved there, or fitted
on the store's events off the request path and saved there (so a restart loads it), then its
state is built as the serving model's is. Until every arm of the experiment is ready, nobody is
enrolled: requests are answered by the serving model, untagged and without an exposure, so the
arms' traffic stays in the experiment's proportions.

**Fresh arms.** A retrain of the serving model (`cartwise.service.recs.retrain`) refits every
other arm of the running experiment on the same snapshot of the events (`refit`, `stage`) and
the server swaps them in with the new serving model; until then the old arm states serve, so
enrolment never pauses. Each arm records the version and training time of the model it serves.

**Retries.** A failed load or fit (e.g. too few events at first) is retried with backoff: after
`arm_retry_seconds`, doubling after each consecutive failure up to `arm_retry_max_seconds`
(`RecsOptions`), when a request asks for the arms, and at every retrain. A ready arm whose
refresh fails keeps serving its old model and is retried the same way. Each failure is logged
once; the arm's status and last error (quoted values and e-mail addresses masked, so no
customer id leaks) are on `GET /api/v1/recommender` (`experiment_arm_details`) and on the
experiment's page JSON.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cartwise.recommend import Recommender, load_model
from cartwise.service.recs.erasures import ErasureLog
from cartwise.service.recs.retrain import TrainingData, fit_from_store, fit_on, save_atomically
from cartwise.service.recs.state import State, saved_at, stamp

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate

log = logging.getLogger("cartwise.recs")

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
MAX_ERROR_CHARS = 500


def describe_error(exc: BaseException) -> str:
    """`Type: message` of a failed fit without personal data: quoted values (which may be
    customer ids) and e-mail addresses are masked; longer than `MAX_ERROR_CHARS`, it is cut
    and ends with `…`."""
    text = _EMAIL.sub("<email>", _QUOTED.sub("'…'", str(exc)))
    out = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return out if len(out) <= MAX_ERROR_CHARS else out[: MAX_ERROR_CHARS - 1] + "…"


def in_a_word(detail: dict[str, Any]) -> str:
    """An arm's state as `loading`, `ready <version>` or `failed: <why>`."""
    if detail["state"] == "ready":
        return f"ready {detail['version']}"
    if detail["state"] == "failed":
        return f"failed: {detail['last_error']}"
    return "loading"


def retry_delay(failures: int, first: float, cap: float) -> float:
    """Seconds to wait after `failures` consecutive failures: `first * 2 ** (failures - 1)`,
    at most `cap`."""
    return float(min(first * 2.0 ** min(failures - 1, 64), cap))


class ExperimentHook(Protocol):
    """What the server asks the service's experiments (`cartwise.service.experiments`)."""

    def recommender_experiment(self) -> tuple[str, dict[str, str]] | None:
        """The running recommender experiment's key and `{variant: recommender}`, if any."""

    def assign(self, key: str, user_id: str, source: str = "api") -> str | None:
        """The user's variant (None: outside the audience or layer slice); records the exposure."""


@dataclass
class ArmStatus:
    """One arm's life: what serves it, and its failures since it last succeeded."""

    state: str = "loading"  # loading (never ready yet), ready, failed (never ready; retrying)
    version: str | None = None
    trained_at: str | None = None
    watermark: int | None = None
    attempts: int = 0  # consecutive failures
    last_error: str | None = None
    failed_at: str | None = None
    next_retry_at: str | None = None
    busy: bool = False  # a background load or fit is under way
    retry_after: float = 0.0  # time.monotonic() from which a retry may start
    generation: int = 0  # installs so far: a background fit older than an install is dropped

    def public(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "version": self.version,
            "trained_at": self.trained_at,
            "watermark": self.watermark,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "failed_at": self.failed_at,
            "next_retry_at": self.next_retry_at,
        }


class Arms:
    """States of the experiment's recommenders, prepared on a background thread each.

    `build(model, watermark, trained_at)` makes a serving state; `wanted()` names the running
    experiment's recommenders; `retry_seconds` and `retry_max_seconds` set the backoff.
    """

    def __init__(
        self,
        gate: StoreGate,
        folder: Path,
        build: Callable[[Recommender, int, str | None], State],
        spawn: Callable[[Callable[[], Any], str], None],
        on_ready: Callable[[str, State], None],
        erasures: ErasureLog | None = None,
        *,
        wanted: Callable[[], set[str]] = set,
        retry_seconds: float = 60.0,
        retry_max_seconds: float = 3600.0,
    ) -> None:
        self.gate = gate
        self.erasures = erasures or ErasureLog()
        self.folder = folder
        self._build, self._spawn, self._on_ready = build, spawn, on_ready
        self._wanted = wanted
        self.retry_seconds, self.retry_max_seconds = retry_seconds, retry_max_seconds
        self._lock = threading.Lock()
        self._states: dict[str, State] = {}
        self._arms: dict[str, ArmStatus] = {}

    def get(self, name: str) -> State | None:
        return self._states.get(name)

    def ready(self, names: Iterable[str], main: State) -> dict[str, State] | None:
        """`{recommender: state}` for every name, or None while one is still loading or failed
        (a load is started here, and a failed one retried once its backoff has passed)."""
        out: dict[str, State] = {}
        missing = []
        for name in names:
            if main.model is not None and main.model.name == name:
                out[name] = main
                continue
            found = self._states.get(name)
            if found is not None:
                out[name] = found
                arm = self._arms.get(name)
                if arm is not None and arm.last_error is not None:
                    self._prepare(name)  # a failed refresh: retried when due, the old one serves
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
        """Each arm's state in a word (`in_a_word`)."""
        return {name: in_a_word(detail) for name, detail in self.details.items()}

    @property
    def details(self) -> dict[str, dict[str, Any]]:
        """Each arm's state, the version and training time of the model serving it, and its
        consecutive failures with the last error and the time of the next retry."""
        return {name: arm.public() for name, arm in list(self._arms.items())}

    # -- background loads, with retries ---------------------------------------------------------
    def _prepare(self, name: str) -> None:
        with self._lock:
            arm = self._arms.get(name)
            if arm is None:
                arm = self._arms[name] = ArmStatus()
            elif arm.busy or (arm.state == "ready" and arm.last_error is None):
                return
            elif arm.last_error is not None and time.monotonic() < arm.retry_after:
                return  # failed: not retried per request, only once the backoff has passed
            arm.busy = True
            generation = arm.generation
        self._spawn(lambda: self._load_or_fit(name, generation), f"cartwise-recs-arm-{name}")

    def _load_or_fit(self, name: str, generation: int | None = None) -> None:
        path = self.folder / name
        mark = self.erasures.mark()  # customers erased while this arm loads or fits are forgotten
        arm = self._arm(name)
        if generation is None:
            generation = arm.generation
        # A saved model is loaded the first time; a retry, or a refresh, fits on the events.
        fitted = arm.state == "ready" or arm.attempts > 0 or not (path / "model.json").is_file()
        trained_at: str | None
        try:
            if fitted:
                model, watermark = fit_from_store(self.gate, name)
                trained_at = stamp()
            else:
                with self.gate.read(limited=False) as store:
                    watermark = int(
                        store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0]
                    )
                model = load_model(path)
                trained_at = saved_at(path)
            with self.erasures.lock:
                erased = self.erasures.locked_since(mark)
                if erased:
                    model.forget_users(sorted(erased))
                if arm.generation != generation:
                    return  # a retrain installed a fresher model meanwhile: keep that one
                if fitted:
                    save_atomically(model, path)
                state = self._build(model, watermark, trained_at)
                self._install(name, state, trained_at)
        except Exception as exc:
            if arm.generation == generation:  # else a retrain installed a fresh model meanwhile
                self._failed(name, exc)
            return
        finally:
            arm.busy = False
            self.erasures.done(mark)
        log.info("experiment arm %s is ready (%s)", name, state.version)
        self._on_ready(name, state)

    # -- at a retrain: the same data as the serving model, swapped in with it ----------------------
    def refit(self, data: TrainingData, serving: str) -> dict[str, tuple[Recommender, str]]:
        """Every arm of the running experiment but `serving`, fitted on `data` (see `Companions`)."""
        out: dict[str, tuple[Recommender, str]] = {}
        for name in sorted(self._wanted() - {serving}):
            self._arm(name)
            try:
                out[name] = (fit_on(data, name), stamp())
            except Exception as exc:
                self._failed(name, exc)
        return out

    def stage(
        self, models: dict[str, tuple[Recommender, str]], watermark: int, erased: set[str]
    ) -> dict[str, State]:
        """The refitted arms without `erased`, saved under `folder`, with their serving states
        (not serving yet: `install_all` swaps them in). Called under the erasure log's lock."""
        out: dict[str, State] = {}
        for name, (model, trained_at) in models.items():
            try:
                if erased:
                    model.forget_users(sorted(erased))
                save_atomically(model, self.folder / name)
                out[name] = self._build(model, watermark, trained_at)
            except Exception as exc:
                self._failed(name, exc)
        return out

    def install_all(self, states: dict[str, State]) -> None:
        """Put refitted arms in service (the server calls it as it swaps the serving model)."""
        for name, state in states.items():
            self._install(name, state, state.trained_at)

    def _arm(self, name: str) -> ArmStatus:
        with self._lock:
            return self._arms.setdefault(name, ArmStatus())

    def _install(self, name: str, state: State, trained_at: str | None) -> None:
        arm = self._arm(name)
        with self._lock:
            self._states[name] = state
            arm.state, arm.version, arm.trained_at = "ready", state.version, trained_at
            arm.watermark = state.watermark
            arm.attempts, arm.last_error, arm.failed_at, arm.next_retry_at = 0, None, None, None
            arm.generation += 1

    def _failed(self, name: str, exc: Exception) -> None:
        arm = self._arm(name)
        with self._lock:
            arm.attempts += 1
            delay = retry_delay(arm.attempts, self.retry_seconds, self.retry_max_seconds)
            arm.retry_after = time.monotonic() + delay
            arm.last_error = describe_error(exc)
            arm.failed_at = stamp()
            arm.next_retry_at = stamp(time.time() + delay)
            if arm.state != "ready":
                arm.state = "failed"
        if arm.state == "ready":
            log.warning(
                "experiment arm %s could not be refreshed (failure %d; it keeps serving %s): %s; "
                "retrying in %.0f s",
                name,
                arm.attempts,
                arm.version,
                arm.last_error,
                delay,
            )
        else:
            log.warning(
                "experiment arm %s could not be prepared (failure %d; nobody is enrolled until it "
                "is ready): %s; retrying in %.0f s",
                name,
                arm.attempts,
                arm.last_error,
                delay,
            )
