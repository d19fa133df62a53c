"""One settings object, read through `get_settings()`.

Precedence, lowest first: defaults, the TOML file (`cartwise.toml` in the working directory,
or the file named by `CARTWISE_CONFIG`), environment variables `CARTWISE_<NAME>`, then
command-line flags (which callers pass as overrides). Every field's description is its help
text; `tests/core/test_settings.py` checks that the README lists every setting.

Why not pydantic-settings' `BaseSettings`: it would replace the 40 lines of `_config_file` and
`_from_environment`, but importing it loads asyncio, socket, concurrent.futures and python-dotenv
for its CLI and secrets sources: 0.10-0.12 s of CPU per process on top of pydantic (best of six,
measured with `time.process_time()` around `import pydantic_settings` on the shared two-core
machine), against 0.19 s for this whole module with pydantic. Every CLI command reads settings,
and the CLI's fixed cost has a 0.5 s budget (`bench/cli_startup.py`), so the import is not worth
those lines. Its comma-separated lists from the environment would also need a custom decoder.
"""

from __future__ import annotations

import json
import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cartwise.core.errors import ConfigError

_SIZE = r"(?i)^\s*\d+(\.\d+)?\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)\s*$"
"""A size DuckDB understands, e.g. `512MB` or `4GB`."""


class Settings(BaseModel):
    """Cartwise settings; see the README's Settings section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db: Path = Field(Path("cartwise.duckdb"), description="Path of the DuckDB store file.")
    memory_limit: str = Field(
        "4GB",
        pattern=_SIZE,
        description="DuckDB memory limit, e.g. `4GB`; keeps ingestion within a budget.",
    )
    threads: int = Field(0, ge=0, description="DuckDB worker threads; 0 means one per core.")
    checkpoint_wal: str = Field(
        "256MB",
        pattern=_SIZE,
        description="Write-ahead log size at which DuckDB checkpoints, e.g. `256MB`. A checkpoint stalls "
        "the service for a moment; DuckDB's default of 16MB did so every ~30 s under load.",
    )
    timezone: str = Field("UTC", description="Time zone assumed for input timestamps that carry no offset.")
    artefacts_dir: Path | None = Field(
        None,
        description="Where trained models and reports are saved; default `<db file stem>_artefacts/` beside the store.",
    )
    host: str = Field("127.0.0.1", description="Address `cartwise serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `cartwise serve` listens on.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Storefront origins allowed to call the API from a browser (comma-separated in the environment).",
    )
    log_level: str = Field("INFO", description="Logging level: DEBUG, INFO, WARNING or ERROR.")
    max_body_bytes: int = Field(
        2_097_152, ge=1024, description="Largest request body the API accepts, in bytes."
    )
    event_log_dir: Path | None = Field(
        None,
        description="Directory of the collector's append-only event log; default `<db stem>_eventlog/` beside the store.",
    )
    global_holdout_share: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Share of customers in the global holdout, who receive no marketing at all (chosen by "
        "hashing the user id; `cartwise.experiments.in_global_holdout`); 0 turns it off.",
    )
    session_hours: float = Field(
        12,
        gt=0,
        description="How long a dashboard sign-in lasts, in hours; sessions are kept in the store and "
        "survive a restart.",
    )
    login_attempts_per_user: int = Field(
        5,
        ge=1,
        description="Sign-in attempts allowed per user name within `login_window_minutes` (existing or "
        "not); more get 429 with Retry-After. A successful sign-in clears the name's failures.",
    )
    login_attempts_per_address: int = Field(
        20,
        ge=1,
        description="Sign-in attempts allowed per client address within `login_window_minutes`; more get "
        "429 with Retry-After. The address is the connection's, or `X-Forwarded-For` when the connection comes from 127.0.0.1 (a proxy on the same host).",
    )
    login_window_minutes: float = Field(
        15,
        gt=0,
        description="Length of the sliding window over which sign-in attempts are counted, in minutes.",
    )
    login_hash_concurrency: int = Field(
        2,
        ge=1,
        description="Password checks (each one scrypt: 16 MiB, ~50 ms) allowed to run at once; further "
        "sign-ins wait up to 10 s, then get 503 with Retry-After.",
    )
    recs_options: dict[str, Any] = Field(
        default_factory=dict,
        description="How recommendations are served (a JSON object in the environment): category_cap, "
        "consumable_categories, cache_k, retrain_hours, offline_models, ...; see `RecsOptions` in "
        "`cartwise.service.recs` for every field.",
    )
    flush_seconds: float = Field(
        0.25, gt=0, description="Longest wait before acknowledged events are written to DuckDB, in seconds."
    )
    read_timeout_seconds: float = Field(
        30,
        gt=0,
        description="Longest time a dashboard or API read of the store may run, in seconds; a longer one is "
        "interrupted and answered with 504 and the parameter that narrows it (reads run on their own "
        "snapshot beside the collector's writer, which never waits for them).",
    )
    reader_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="How much lower the CPU priority of `cartwise serve`'s reader threads (dashboard and API "
        "reads) is than the collector's, as a Linux nice increment; the kernel then gives a busy core to the "
        "collector first. 0: the same priority. Ignored where threads have no priority of their own.",
    )
    reader_idle: bool = Field(
        True,
        description="Run `cartwise serve`'s reader threads in Linux's SCHED_IDLE class (then `reader_nice` does "
        "not apply): they get a core only when no other thread wants it, so a long read no longer slows the "
        "collector's answers, but on a machine kept busy a read can wait until `read_timeout_seconds`. false: "
        "`reader_nice` alone.",
    )
    keep_freed_memory: bool = Field(
        True,
        description="`cartwise serve` keeps the memory DuckDB and Arrow free for their own reuse instead of "
        "handing it back to the system: on virtual machines that return a guest's free memory to the host, "
        "touching 80 MB again took 25-50 times longer after a few seconds (medians, BENCHMARKS.md), and each "
        "funnel frees hundreds of MB. The process then stays at its peak memory (DuckDB's bounded by `memory_limit`). false: hand it back.",
    )
    switch_interval_ms: float = Field(
        1,
        gt=0,
        le=100,
        description="How long, in milliseconds, one Python thread of `cartwise serve` may keep the interpreter "
        "while another waits for it (Python's switch interval, 5 by default). A read builds its queries in "
        "Python (a funnel's 20-30 ms), and each turn of the collector's threads could wait a whole interval: the "
        "collector's p99 with a funnel loop over its p99 without was 1.13-1.74 in seven runs at 1 (five at "
        "most 1.5), against 1.52-1.76 in three at 5 (BENCHMARKS.md).",
    )
    ts_earliest: date = Field(
        date(1990, 1, 1),
        description="Earliest time (a UTC date) the collector and file loads accept; an earlier time is "
        "rejected with the reason (usually epoch milliseconds read as seconds, or a missing value written as 0).",
    )
    collect_max_ahead_hours: float = Field(
        24,
        ge=0,
        description="How far ahead of the server's clock the collector accepts an event's time, in hours; "
        "a later time is rejected with the reason.",
    )
    load_max_ahead_days: float = Field(
        366,
        ge=0,
        le=2_900_000,
        description="How far ahead of the server's clock a file load accepts a time, in days. Times more "
        "than 5 minutes ahead are loaded with a warning; beyond this, and from year 10000 on, they are rejected.",
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server that campaign e-mail is handed to.")
    smtp_port: int = Field(25, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_from: str = Field(
        "shop@localhost", description="Sender address of campaign e-mail; its domain ends every Message-ID."
    )
    smtp_user: str | None = Field(None, description="SMTP user name, when the server asks for a login.")
    smtp_password: str | None = Field(None, description="SMTP password (with `smtp_user`).")
    smtp_starttls: bool = Field(
        False, description="Upgrade the SMTP connection with STARTTLS before sending."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Address customers reach the service at; unsubscribe, open-pixel and click links "
        "start with it. Use an `https://` address in production (RFC 8058 one-click unsubscribe needs it).",
    )
    webhook_url: str | None = Field(
        None, description="Where the `webhook` channel POSTs each message as JSON (an SMS or push gateway)."
    )
    webhook_secret: str | None = Field(
        None,
        description="Key of the HMAC-SHA256 signature sent in the `X-Cartwise-Signature` header of webhook calls.",
    )
    templates_dir: Path | None = Field(
        None,
        description="Folder of message templates (`NAME.subject`, `NAME.html`, `NAME.txt`) overriding or "
        "adding to the built-ins.",
    )
    frequency_cap: str = Field(
        "3/7d",
        pattern=r"^\s*\d+\s*/\s*\d+(\.\d+)?\s*[smhdw]\s*$",
        description="Most marketing messages one customer gets per channel in a sliding window, e.g. `3/7d` "
        "(across every campaign and journey; transactional messages are exempt).",
    )
    quiet_hours: str | None = Field(
        None,
        pattern=r"^\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*$",
        description="Local hours in which no marketing message is sent, e.g. `21:00-08:00`, in the "
        "customer's time zone; messages due then are held until the window ends. Off by default.",
    )
    attribution_days: float = Field(
        5,
        gt=0,
        description="Days after a message in which a purchase counts as its conversion. A campaign "
        "keeps the value it started with (or its own, given when it is sent; `cartwise "
        "demo`'s past campaign has the simulator's window); journeys use the current value.",
    )
    journey_time_scale: float = Field(
        1.0,
        ge=1,
        le=86_400,
        description="For demos and tests: journey waits given as durations (`wait: 1h`, a `wait_for` "
        "timeout) last this many times less, so `cartwise demo` sets its replay speed. Waits until a time "
        "of day, quiet hours and frequency caps stay real time; stored times are real UTC. 1 in production.",
    )


ENV_PREFIX = "CARTWISE_"


def _config_file() -> Path | None:
    named = os.environ.get(ENV_PREFIX + "CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(
                f"CARTWISE_CONFIG names {path}, which does not exist; create it or unset the variable."
            )
        return path
    default = Path("cartwise.toml")
    return default if default.is_file() else None


def _from_environment() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if field.annotation == list[str]:
            values[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif field.annotation == dict[str, Any]:
            try:
                values[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()} is not a JSON object: {exc}.") from exc
        else:
            values[name] = raw
    return values


def get_settings(**overrides: Any) -> Settings:
    """Settings from defaults, the TOML file, the environment and `overrides` (None values are ignored)."""
    values: dict[str, Any] = {}
    path = _config_file()
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    values.update(_from_environment())
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in err['loc'])}`: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        raise ConfigError(
            f"Invalid settings: {problems}. Check cartwise.toml and CARTWISE_* variables."
        ) from exc
