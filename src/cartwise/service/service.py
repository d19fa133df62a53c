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

from pydantic import BaseModel, ConfigDict, Field

from cartwise.core.errors import ConfigError, InputError
from cartwise.core.settings import Settings
from cartwise.ingest import TimeWindow
from cartwise.service import keys as keys_job
from cartwise.service.collector import Collector, StoreGate
from cartwise.service.keys import KeyInfo, KeyRing
from cartwise.service.live import LiveKPIs
from cartwise.store import Store, open_store

log = logging.getLogger("cartwise.service")


class ServiceOptions(BaseModel):
    """Service tuning; each field falls back to the setting of the same name when one exists."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes."
    )
    event_log_dir: Path | None = Field(
        None,
        description="Directory of the collector's append-only log; default `<db stem>_eventlog/` beside the store.",
    )
    session_secret: str | None = Field(
        None,
        description="Secret signing dashboard session cookies; default: random per start (sessions end on restart).",
    )
    session_hours: float = Field(12.0, gt=0, description="How long a dashboard sign-in lasts, in hours.")
    flush_seconds: float = Field(
        0.25, gt=0, description="Longest wait before logged events are written to DuckDB."
    )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceOptions:
        values = {name: getattr(settings, name) for name in cls.model_fields if hasattr(settings, name)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def open_ready_store(settings: Settings, *, read_only: bool = False) -> Store:
    """Open the store and complete any half-read result opening left behind.

    DuckDB refuses `register` and relation queries on a connection whose last result was
    only partly fetched (`fetchone`), so every service-side opening goes through here.
    """
    store = open_store(settings.db, settings=settings, read_only=read_only)
    store.con.execute("SELECT 1").fetchall()
    return store


def event_log_dir(settings: Settings, options: ServiceOptions) -> Path:
    if options.event_log_dir is not None:
        return options.event_log_dir
    return settings.db.with_name(settings.db.stem + "_eventlog")


class Service:
    """Everything the API needs, created once per process."""

    def __init__(self, settings: Settings, options: ServiceOptions | None = None) -> None:
        self.settings = settings
        self.options = options or ServiceOptions.from_settings(settings)
        self.session_secret = self.options.session_secret or secrets.token_urlsafe(32)
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
            event_log_dir(self.settings, self.options),
            live=self.live,
            timezone=self.settings.timezone,
            window=TimeWindow.for_collector(self.settings),
            flush_seconds=self.options.flush_seconds,
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
