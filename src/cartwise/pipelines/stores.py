"""Opening, inspecting, exporting and importing a store, for the CLI.

The CLI never imports `cartwise.store`: it opens a store through `opened` and hands it to
the pipelines. DuckDB is imported when a store is opened, not when this module is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartwise.core.errors import StoreError

if TYPE_CHECKING:
    from cartwise.core.settings import Settings
    from cartwise.store import Store


def require_store(settings: Settings) -> None:
    """Raise the `StoreError` opening a missing store raises, before DuckDB is even imported
    (a command that needs the store's data then fails in a fraction of the time)."""
    if not settings.db.exists():
        raise StoreError(f"No store at {settings.db}; create one with `cartwise ingest` or `cartwise demo`.")


@contextmanager
def opened(settings: Settings, *, read_only: bool = False, create: bool = True) -> Iterator[Store]:
    """The store at `settings.db`, closed on leaving the block.

    `read_only=True` opens it for reading (a mistyped path is then an error, not a new empty
    store); `create=False` refuses to create a missing store.
    """
    if read_only or not create:
        require_store(settings)
    from cartwise.store import open_store

    with open_store(settings.db, settings=settings, read_only=read_only, create=create) as store:
        yield store


def store_info(settings: Settings) -> dict[str, Any]:
    """Row counts per table, schema version, size and event time span (`cartwise db info`)."""
    with opened(settings, read_only=True) as store:
        return store.info()


def export_store(settings: Settings, directory: Path) -> dict[str, int]:
    """Write every table but the analytics rollup and timeline to `directory` as Parquet, with a
    manifest; returns rows per table."""
    with opened(settings, read_only=True) as store:
        return store.export(directory)


def import_store(settings: Settings, directory: Path) -> dict[str, int]:
    """Load an export (rows already present are skipped), then fold the new events into the
    analytics rollup and timeline; returns rows added per table."""
    from cartwise.analytics import refresh_rollup

    with opened(settings) as store:
        added = store.import_(directory)
        refresh_rollup(store)
    return added


def compact_store(settings: Settings) -> dict[str, Any]:
    """Rewrite the store into a fresh file (`cartwise db compact`), so that the bytes of deleted
    rows (erased customers, deleted events) are no longer on disk in the store's files.

    The copy is made beside the store and gets its analytics rollup and timeline rebuilt (the
    copy renumbers row ids, which the rollup's watermark counts in: rebuilt here, offline,
    rather than by the running service's first refresh after new events); only then does it replace
    the store, so an interruption at any point leaves the old store whole. The old file's
    blocks are freed by the file system, which may keep them until it reuses them. Returns
    `{"db", "bytes_before", "bytes_after", "seconds"}`.
    """
    from cartwise.analytics import refresh_rollup, reset_rollup
    from cartwise.store import open_store

    began = time.perf_counter()
    path = settings.db
    copy = path.with_name(path.name + ".compacting")
    for leftover in (copy, copy.with_name(copy.name + ".wal")):
        leftover.unlink(missing_ok=True)  # from an interrupted compaction: never in use
    with opened(settings, create=False) as store:
        store.con.execute("CHECKPOINT")
        before = path.stat().st_size
        store.copy_to(copy)
    with open_store(copy, settings=settings, create=False) as fresh:
        with fresh.transaction():
            reset_rollup(fresh)
        refresh_rollup(fresh)
        fresh.con.execute("CHECKPOINT")
    with open(copy, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(copy, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)  # the old file's, if any
    return {
        "db": str(path),
        "bytes_before": before,
        "bytes_after": path.stat().st_size,
        "seconds": round(time.perf_counter() - began, 3),
    }


def remove_store(path: Path) -> None:
    """Delete a store file, its write-ahead log and its artefacts."""
    from cartwise.store.store import remove_store as remove

    remove(path)


__all__ = [
    "compact_store",
    "export_store",
    "import_store",
    "opened",
    "remove_store",
    "require_store",
    "store_info",
]
