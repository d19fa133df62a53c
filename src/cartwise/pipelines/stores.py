"""Opening, inspecting, exporting and importing a store, for the CLI.

The CLI never imports `cartwise.store`: it opens a store through `opened` and hands it to
the pipelines. DuckDB is imported when a store is opened, not when this module is.
"""

from __future__ import annotations

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


def remove_store(path: Path) -> None:
    """Delete a store file, its write-ahead log and its artefacts."""
    from cartwise.store.store import remove_store as remove

    remove(path)


__all__ = ["export_store", "import_store", "opened", "remove_store", "require_store", "store_info"]
