"""The running service: one process owns the store, the key ring, live KPIs and the collector.

`Service.start()` opens the store for writing (DuckDB then refuses any other writer),
replays the collector's log, seeds live KPIs from the store and starts the writer. Writes go
through `service.gate` (one at a time, on the store's connection); reads go through
`service.read()`, each on its own cursor and snapshot with the `read_timeout_seconds` limit, so
a slow read never holds up the writer. Requests run their reads with `service.run_read(...)`,
on the reader threads (`service.readers`), which yield the CPU to the collector's threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cartwise.core.errors import ConfigError, InputError
from cartwise.core.settings import Settings
from cartwise.ingest import TimeWindow
from cartwise.ingest.identity import linked_ids
from cartwise.pipelines.event_delete import EventFilter, delete_events
from cartwise.pipelines.privacy import export_customer, forget_customer
from cartwise.pipelines.privacy_artefacts import artefacts_note, forget_in_artefacts
from cartwise.service import keys as keys_job
from cartwise.service import sessions as sessions_job
from cartwise.service.collector import Collector, StoreGate
from cartwise.service.keys import KeyInfo, KeyRing
from cartwise.service.live import LiveKPIs
from cartwise.service.readers import ReaderPool
from cartwise.service.sessions import SessionInfo, SessionRing
from cartwise.service.signin import SignInLimiter
from cartwise.store import SCHEMA_VERSION, Store, open_store

if TYPE_CHECKING:
    from cartwise.service.campaigns import CampaignSender
    from cartwise.service.journeys import JourneyRunner

log = logging.getLogger("cartwise.service")

T = TypeVar("T")

REINDEX_WAIT_SECONDS = 5.0
"""How long a deletion or an erasure waits for the collector's stored-id index to be rebuilt
before answering (the rebuild goes on in the background after that)."""


def open_ready_store(settings: Settings, *, read_only: bool = False) -> Store:
    """Open the store and complete any half-read result opening left behind.

    DuckDB refuses `register` and relation queries on a connection whose last result was
    only partly fetched (`fetchone`), so every service-side opening goes through here.
    """
    store = open_store(settings.db, settings=settings, read_only=read_only)
    store.con.execute("SELECT 1").fetchall()
    return store


def event_log_dir(settings: Settings) -> Path:
    """The collector's log directory: the `event_log_dir` setting, or `<db stem>_eventlog/` beside the store."""
    if settings.event_log_dir is not None:
        return settings.event_log_dir
    return settings.db.with_name(settings.db.stem + "_eventlog")


class Service:
    """Everything the API needs, created once per process."""

    def __init__(self, settings: Settings) -> None:
        # Tuning (body limit, sign-in length, flush interval, log directory) is read from the
        # settings, the one typed source of every option.
        self.settings = settings
        self.keyring = KeyRing()
        self.sessions = SessionRing()
        self.signin = SignInLimiter(
            per_user=self.settings.login_attempts_per_user,
            per_address=self.settings.login_attempts_per_address,
            window_seconds=self.settings.login_window_minutes * 60,
            concurrency=self.settings.login_hash_concurrency,
        )
        self.live = LiveKPIs()
        self._store: Store | None = None
        self.gate: StoreGate | None = None
        self.readers: ReaderPool | None = None
        self.collector: Collector | None = None
        self.campaign_sender: CampaignSender | None = None
        self.journeys: JourneyRunner | None = None

    def start(self) -> None:
        store = open_ready_store(self.settings)
        if not store.knows_time_zone(self.settings.timezone):  # else every collected batch would fail
            store.close()
            raise ConfigError(
                f"The `timezone` setting {self.settings.timezone!r} is not a time zone name (e.g. UTC, "
                "Europe/Paris); fix it in cartwise.toml or CARTWISE_TIMEZONE."
            )
        if self.settings.keep_freed_memory:
            # DuckDB otherwise flushes its allocator after any task that peaked over 128 MB,
            # handing that memory back to the system (see `cli.serve.keep_freed_memory`).
            store.con.execute(f"SET allocator_flush_threshold = '{self.settings.memory_limit}'")
        self._store = store
        self.gate = StoreGate(store, read_timeout=self.settings.read_timeout_seconds)
        self.readers = ReaderPool(nice=self.settings.reader_nice, idle=self.settings.reader_idle)
        from cartwise.service.journeys import JourneyRunner  # the engine and its sender: only when serving

        # Created before the replay, so replayed events reach journeys (entry is idempotent).
        self.journeys = JourneyRunner(self)
        self.collector = Collector(
            self.gate,
            event_log_dir(self.settings),
            live=self.live,
            on_durable=self.journeys.offer,
            timezone=self.settings.timezone,
            window=TimeWindow.for_collector(self.settings),
            flush_seconds=self.settings.flush_seconds,
        )
        # Replay before seeding, so replayed events are counted once, from the store.
        self.collector.replay()
        with self.gate as s:
            self.keyring.load(s)
            sessions_job.forget_old_sessions(s)
            self.sessions.load(s)
            seeded = self.live.seed(s)
        self.collector.start()
        from cartwise.service.campaigns import CampaignSender  # Jinja2 and the sender: only when serving

        self.campaign_sender = CampaignSender(self).start()
        self.journeys.start()
        log.info("service started on store %s (%d recent events seeded)", self.settings.db, seeded)

    def stop(self) -> None:
        if self.campaign_sender is not None:
            self.campaign_sender.stop()
            self.campaign_sender = None
        if self.collector is not None:
            self.collector.stop()
            self.collector = None
        if self.journeys is not None:  # after the collector: the events it still handed over are handled
            self.journeys.stop()
            self.journeys = None
        if self.readers is not None:  # before the store closes under a read
            self.readers.stop()
            self.readers = None
        if self._store is not None:
            self._store.close()
            self._store = None
        log.info("service stopped")

    def require_gate(self) -> StoreGate:
        """The gate to the store (`with service.require_gate() as store:`); InputError before `start()`."""
        if self.gate is None:
            raise InputError("The service is not started.")
        return self.gate

    def read(self, *, narrow: str | None = None, what: str = "query") -> AbstractContextManager[Store]:
        """`with service.read(narrow="start") as store:` a read-only snapshot of the store beside
        the writer, interrupted after `read_timeout_seconds` with `QueryTimeout` naming `narrow`."""
        return self.require_gate().read(narrow=narrow, what=what)

    def run_read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` run on a reader thread, waited for: how a request runs a read (a
        view that opens `service.read()` itself, or a whole page), at the reader threads' lower
        CPU priority (`service.readers`). Call it from a sync route (FastAPI's thread pool), so
        the response is checked and shaped off the event loop too. Before `start()`, `fn` runs in
        the caller (and fails there if it needs the store)."""
        readers = self.readers
        if readers is None:
            return fn(*args, **kwargs)
        return readers.run(fn, *args, **kwargs)

    # -- keys and users ------------------------------------------------------------------------
    def verify_key(self, key: str) -> KeyInfo | None:
        return self.keyring.verify(key)

    def verify_user(self, username: str, password: str) -> bool:
        """Whether the password is `username`'s: one scrypt, known name or not, outside the store's
        lock and within the sign-in hashing cap (`SignInBusy` when the cap stays full)."""
        with self.require_gate() as store:
            stored = keys_job.password_hash_of(store, username)
        with self.signin.hashing():
            return keys_job.check_user_password(stored, password)

    def create_key(self, *, scope: str, name: str) -> tuple[KeyInfo, str]:
        with self.require_gate() as store:
            info, key = keys_job.create_key(store, scope=scope, name=name)
        self.keyring.add(info, key)
        return info, key

    def list_keys(self) -> list[KeyInfo]:
        with self.require_gate() as store:
            return keys_job.list_keys(store)

    def revoke_key(self, key_id: str) -> KeyInfo:
        with self.require_gate() as store:
            info = keys_job.revoke_key(store, key_id)
            ended = sessions_job.end_sessions_of(store, reason="key revoked", key_id=key_id)
        self.keyring.remove(key_id)
        self.sessions.remove(ended)
        return info

    # -- dashboard sessions ------------------------------------------------------------------
    def open_session(self, *, kind: str, name: str, key_id: str | None = None) -> tuple[SessionInfo, str]:
        """A new session lasting `session_hours`, and the token for its cookie."""
        with self.require_gate() as store:
            info, token = sessions_job.open_session(
                store, kind=kind, name=name, key_id=key_id, hours=self.settings.session_hours
            )
        self.sessions.add(info, token)
        return info, token

    def session(self, token: str) -> SessionInfo | None:
        """The live session whose cookie holds `token`, or None."""
        info = self.sessions.lookup(token)
        if (
            info is not None
            and info.kind == "key"
            and (not info.key_id or not self.keyring.is_active(info.key_id))
        ):
            return None
        return info

    def list_sessions(self, *, include_ended: bool = False) -> list[SessionInfo]:
        with self.require_gate() as store:
            return sessions_job.list_sessions(store, include_ended=include_ended)

    def end_session(self, session_id: str, *, reason: str) -> SessionInfo:
        """End a session at once: its cookie's next request gets 401."""
        with self.require_gate() as store:
            info = sessions_job.end_session(store, session_id, reason=reason)
        self.sessions.remove([session_id])
        return info

    # -- deletion and privacy (admin) ------------------------------------------------------------
    def _settle(self) -> None:
        """Every acknowledged event stored and the log emptied, so a deletion sticks."""
        if self.collector is not None:
            self.collector.settle()

    def _reindex(self, deleted: bool) -> None:
        """The collector forgets the deleted ids (a deleted event sent again is new data); its
        index is rebuilt in the background (see `Collector.reindex`)."""
        if self.collector is not None:
            self.collector.reindex(deleted=deleted)

    def _await_reindex(self) -> None:
        """Give the rebuild `REINDEX_WAIT_SECONDS` (outside the gate: the writer goes on), so on
        a small store the answer comes with the index already fresh."""
        if self.collector is not None:
            self.collector.wait_reindexed(REINDEX_WAIT_SECONDS)

    def delete_events(self, flt: EventFilter, *, dry_run: bool = False) -> dict[str, Any]:
        """`pipelines.event_delete.delete_events` through the gate, after the log is settled;
        the collector's index of stored ids is rebuilt without the deleted events."""
        if not dry_run:
            self._settle()
        with self.require_gate() as store:
            deleted = False
            try:
                result = delete_events(store, flt, dry_run=dry_run)
                deleted = bool(result["deleted"]["events"])
                if deleted:
                    self.live.reseed(store)
            finally:
                if not dry_run:
                    self._reindex(deleted)
        self._await_reindex()
        return result

    def forget_customer(self, user_id: str) -> dict[str, Any]:
        """`pipelines.privacy.forget_customer` through the gate; the collector's log is settled
        first, so no logged event of the customer can come back at a replay, and its index of
        stored ids is rebuilt without the erased events; the running recommendation server
        forgets the customer at once (model, served state, buffered impressions)."""
        self._settle()
        with self.require_gate() as store:
            deleted = False
            try:
                subjects = list(linked_ids(store, user_id)) if user_id.strip() else []
                result = forget_customer(store, user_id, via="api", artefacts=False)
                deleted = bool(result["removed"].get("events"))
                self.live.reseed(store)  # the live windows count users by id
            finally:
                self._reindex(deleted)
        self._await_reindex()
        from cartwise.service.recs.registry import erasing_in_recs, forget_in_recs  # when it runs

        # The saved model is rewritten outside the gate: the writer goes on meanwhile. A retrain
        # under way waits, then forgets the customer before saving or swapping its model.
        with erasing_in_recs(self, subjects):
            note = artefacts_note(forget_in_artefacts(self.require_gate().store, subjects))
            forget_in_recs(self, subjects)
        return {
            **result,
            "artefacts": note,
            "log": "settled: every logged event was stored, then the segments were deleted",
        }

    def export_customer(self, user_id: str) -> dict[str, Any]:
        with self.read(what="export") as store:
            return export_customer(store, user_id)

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        collector = self.collector
        return {
            "status": "ok" if collector is not None and collector.last_error is None else "degraded",
            "store": str(self.settings.db),
            "schema_version": SCHEMA_VERSION,
            "backlog": collector.backlog if collector else 0,
            "collector": dict(collector.stats) if collector else {},
            "last_error": collector.last_error if collector else "not started",
        }
