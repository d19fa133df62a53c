"""`cartwise serve`: the JSON API, collector and dashboard in one process that owns the store."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cartwise.cli.common import db_option, settings_for

if TYPE_CHECKING:
    from cartwise.core.settings import Settings


ALLOCATORS_KEEP_FREED_MEMORY = {
    # DuckDB's own jemalloc (it reads this name, not MALLOC_CONF): never purge freed pages.
    "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1",
    # Arrow's default pool, mimalloc: never purge freed pages.
    "MIMALLOC_PURGE_DELAY": "-1",
}


def keep_freed_memory() -> None:
    """Ask DuckDB's and Arrow's allocators to keep the memory they free (the `keep_freed_memory`
    setting). They read these variables when they start, so this runs before either library
    is imported; a value the operator set stays. DuckDB's own flush after large tasks is
    raised in `Service.start`.

    Why: on a virtual machine whose balloon device reports free pages to the host, memory a
    process hands back is returned to the host within seconds, and touching it again waits
    for the host: touching 80 MB took 225-715 ms after a 2-5 s pause against 9-11 ms at once
    (`bench/fresh_memory.py`). Every funnel allocates and frees hundreds of MB."""
    for name, value in ALLOCATORS_KEEP_FREED_MEMORY.items():
        os.environ.setdefault(name, value)


def prepare_process(settings: Settings) -> None:
    """What the serving process sets for its whole life, before DuckDB or Arrow is imported:
    the allocators' `keep_freed_memory`, and the interpreter's switch interval
    (`switch_interval_ms`), which bounds how long a reader's Python keeps the collector's
    threads waiting for the interpreter."""
    if settings.keep_freed_memory:
        keep_freed_memory()
    sys.setswitchinterval(settings.switch_interval_ms / 1000)


def run_server(settings: Settings, *, access_log: bool = False) -> None:
    """Serve until interrupted. The process holds the DuckDB writer for its whole life."""
    prepare_process(settings)
    import uvicorn

    from cartwise.api import create_app

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=access_log,
        # Open event streams would otherwise hold shutdown; the writer still flushes fully.
        timeout_graceful_shutdown=3,
        server_header=False,
    )
    server = uvicorn.Server(config)
    click.echo(
        f"Cartwise on http://{settings.host}:{settings.port}/ (OpenAPI: /api/v1/openapi.json); Ctrl-C stops it.",
        err=True,
    )
    server.run()


@click.command()
@click.option("--host", default=None, help="Address to bind [default: the `host` setting, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: the `port` setting, 8000].")
@click.option("--access-log", is_flag=True, help="Log every request (off by default: the collector is busy).")
@db_option
def serve(host: str | None, port: int | None, access_log: bool, db: Path | None) -> None:
    """Run the JSON API (/api/v1), the event collector and the dashboard."""
    run_server(settings_for(db, host=host, port=port), access_log=access_log)
