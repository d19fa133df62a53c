"""The running service: one process owns the store, the key ring, live KPIs and the collector.

`Service.start()` opens the store for writing (DuckDB then refuses any other writer),
replays the collector's log, seeds live KPIs from the store and starts the writer. All store
access in the process goes through `service.gate`, so the writer and readers take turns.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from cartwise.core.errors import ConfigError, InputError
from cartwise.core.settings import Settings
from cartwise.service import keys as keys_job
from cartwise.service.collector import Collector, StoreGate
from cartwise.service.keys import KeyInfo, KeyRing
from cartwise.service.live import LiveKPIs
from cartwise.store import Store, open_store

log = logging.getLogger("cartwise.service")


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
        self.session_secret = settings.session_secret or secrets.token_urlsafe(32)
        self.keyring = KeyRing()
        self.live = LiveKPIs()
        self._store: Store | None = None
        self.gate: StoreGate | None = None
        self.collector: Collector | None = None

    def start(self) -> None:
        store = open_ready_store(self.settings)
        if not store.knows_time_zone(self.settings.timezone):  # else every collected batch would fail
            store.close()
            raise ConfigError(
                f"The `timezone` setting {self.settings.timezone!r} is not a time zone name (e.g. UTC, "
                "Europe/Paris); fix it in cartwise.toml or CARTWISE_TIMEZONE."
            )
        self._store = store
        self.gate = StoreGate(store)
        self.collector = Collector(
            self.gate,
            event_log_dir(self.settings),
            live=self.live,
            timezone=self.settings.timezone,
            flush_seconds=self.settings.flush_seconds,
        )
        # Replay before seeding, so replayed events are counted once, from the store.
        self.collector.replay()
        with self.gate as s:
            self.keyring.load(s)
            seeded = self.live.seed(s)
        self.collector.start()
        log.info("service started on store %s (%d recent events seeded)", self.settings.db, seeded)

    def stop(self) -> None:
        if self.collector is not None:
            self.collector.stop()
            self.collector = None
        if self._store is not None:
            self._store.close()
            self._store = None
        log.info("service stopped")

    def require_gate(self) -> StoreGate:
        """The gate to the store (`with service.require_gate() as store:`); InputError before `start()`."""
        if self.gate is None:
            raise InputError("The service is not started.")
        return self.gate

    # -- keys and users ------------------------------------------------------------------------
    def verify_key(self, key: str) -> KeyInfo | None:
        return self.keyring.verify(key)

    def verify_user(self, username: str, password: str) -> bool:
        with self.require_gate() as store:
            return keys_job.verify_user(store, username, password)

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
        self.keyring.remove(key_id)
        return info

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        collector = self.collector
        return {
            "status": "ok" if collector is not None and collector.last_error is None else "degraded",
            "store": str(self.settings.db),
            "backlog": collector.backlog if collector else 0,
            "collector": dict(collector.stats) if collector else {},
            "last_error": collector.last_error if collector else "not started",
        }
