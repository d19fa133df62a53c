"""The running service: one process owns the store, the key ring, live KPIs and the collector.

`Service.start()` opens the store for writing (DuckDB then refuses any other writer),
replays the collector's log, seeds live KPIs from the store and starts the writer. All store
access in the process goes through `service.gate`, so the writer and readers take turns.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from cartwise.core.errors import ConfigError, InputError
from cartwise.core.settings import Settings
from cartwise.service import keys as keys_job
from cartwise.service import sessions as sessions_job
from cartwise.service.collector import Collector, StoreGate
from cartwise.service.keys import KeyInfo, KeyRing
from cartwise.service.live import LiveKPIs
from cartwise.service.sessions import SessionInfo, SessionRing
from cartwise.service.signin import SignInLimiter
from cartwise.store import SCHEMA_VERSION, Store, open_store

if TYPE_CHECKING:
    from cartwise.service.campaigns import CampaignSender

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
    session_hours: float = Field(12.0, gt=0, description="How long a dashboard sign-in lasts, in hours.")
    login_attempts_per_user: int = Field(
        5, ge=1, description="Sign-in attempts per user name within `login_window_minutes`."
    )
    login_attempts_per_address: int = Field(
        20, ge=1, description="Sign-in attempts per client address within `login_window_minutes`."
    )
    login_window_minutes: float = Field(15.0, gt=0, description="Sliding window of the sign-in limits.")
    login_hash_concurrency: int = Field(2, ge=1, description="Password checks (scrypt) run at once.")
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
        self.keyring = KeyRing()
        self.sessions = SessionRing()
        self.signin = SignInLimiter(
            per_user=self.options.login_attempts_per_user,
            per_address=self.options.login_attempts_per_address,
            window_seconds=self.options.login_window_minutes * 60,
            concurrency=self.options.login_hash_concurrency,
        )
        self.live = LiveKPIs()
        self._store: Store | None = None
        self.gate: StoreGate | None = None
        self.collector: Collector | None = None
        self.campaign_sender: CampaignSender | None = None

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
            flush_seconds=self.options.flush_seconds,
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
        log.info("service started on store %s (%d recent events seeded)", self.settings.db, seeded)

    def stop(self) -> None:
        if self.campaign_sender is not None:
            self.campaign_sender.stop()
            self.campaign_sender = None
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
                store, kind=kind, name=name, key_id=key_id, hours=self.options.session_hours
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
