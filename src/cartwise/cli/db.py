"""`cartwise db`: inspect, export, import and compact the store."""

from __future__ import annotations

from pathlib import Path

import click

from cartwise.cli.common import db_option, emit, json_option, settings_for
from cartwise.pipelines.stores import compact_store, export_store, import_store, store_info


@click.group()
def db() -> None:
    """Inspect, export, import and compact the store."""


@db.command()
@db_option
@json_option
def info(db: Path | None, as_json: bool) -> None:
    """Row counts per table, schema version, size and event time span."""
    # Read-only, so that a mistyped path is an error rather than a new empty store.
    emit(store_info(settings_for(db)), as_json)


@db.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@db_option
@json_option
def export_(directory: Path, db: Path | None, as_json: bool) -> None:
    """Write every table to DIRECTORY as Parquet, with a manifest.

    The analytics rollup and timeline are left out: the importing store builds its own from
    its events.
    """
    counts = export_store(settings_for(db), directory)
    emit({"directory": str(directory), "tables": counts}, as_json)


@db.command("import")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@db_option
@json_option
def import_(directory: Path, db: Path | None, as_json: bool) -> None:
    """Load an export made by `db export` (rows already present are skipped), then fold the
    new events into the analytics rollup and timeline."""
    added = import_store(settings_for(db), directory)
    emit({"directory": str(directory), "added": added}, as_json)


@db.command()
@db_option
@json_option
def compact(db: Path | None, as_json: bool) -> None:
    """Rewrite the store into a fresh file, so deleted rows leave no bytes behind (stop the
    server first: it owns the store).

    After `customers forget` or `events delete`, DuckDB keeps the deleted values in the
    file's blocks until it reuses them; the rewritten file holds only the rows that remain.
    An interruption leaves the old store whole. With --json: {"db", "bytes_before",
    "bytes_after", "seconds"}.
    """
    result = compact_store(settings_for(db))
    emit(
        result,
        as_json,
        lambda r: (
            f"Compacted {r['db']}: {r['bytes_before']:,} -> {r['bytes_after']:,} bytes in {r['seconds']:.1f} s."
        ),
    )
