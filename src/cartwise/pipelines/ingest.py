"""Loading files into a store: one transaction per file, then the analytics rollup and timeline.

`cartwise ingest` is a thin wrapper around `ingest_files`; `what_was_kept` says what a load
cut short by Ctrl-C left in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cartwise.core.errors import CartwiseError, Interrupted
from cartwise.core.settings import Settings
from cartwise.ingest import (
    LoadOptions,
    TimeWindow,
    ingest_file,
    load_mapping_file,
    parse_map_options,
    parse_set_options,
    save_mapping_file,
)
from cartwise.pipelines.stores import opened

_COUNTS = ("read", "loaded", "duplicates", "rejected", "updated")


def load_options(
    settings: Settings,
    *,
    maps: tuple[str, ...] | list[str] = (),
    sets: tuple[str, ...] | list[str] = (),
    mapping_file: Path | None = None,
    fmt: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
    ts_format: str | None = None,
    timezone: str | None = None,
) -> LoadOptions:
    """Reading options from flags, falling back to a saved mapping file, then to the defaults.

    `maps` are `CANONICAL=SOURCE` pairs; they extend (and override) the file's `[map]` table;
    `sets` are `CANONICAL=VALUE` constants, likewise over the file's `[set]` table.
    Time stamps without an offset default to the `timezone` setting; times outside the
    settings' window for file loads (`ts_earliest`, `load_max_ahead_days`) are rejected per row.
    """
    saved: dict[str, Any] = load_mapping_file(mapping_file) if mapping_file else {}
    return LoadOptions(
        format=fmt or saved.get("format", "auto"),
        delimiter=delimiter or saved.get("delimiter"),
        header=header if header is not None else saved.get("header", True),
        encoding=encoding or saved.get("encoding", "utf-8"),
        mapping={**saved.get("map", {}), **parse_map_options(maps)},
        ts_format=ts_format or saved.get("ts_format"),
        timezone=timezone or saved.get("timezone", settings.timezone),
        window=TimeWindow.for_loads(settings),
        constants={**saved.get("set", {}), **parse_set_options(sets)},
    )


def ingest_files(
    settings: Settings,
    kind: str,
    files: tuple[Path, ...] | list[Path],
    options: LoadOptions,
    *,
    save_mapping: Path | None = None,
    progress: Callable[[str], None] | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Load `files` as `kind` into the store at `settings.db`; events also refresh the analytics
    rollup and timeline.

    Returns the one file's summary plus `files: [summary]`, or for several files the summed
    counts (`read`, `loaded`, `duplicates`, `rejected`, `updated`), `quarantine_file` (one
    path, a list, or None) and `files`. `save_mapping` writes the mapping the first file used.
    With `strict` the first file with a rejected record is an InputError naming its lines; the
    files before it stay loaded.
    """
    update = progress or (lambda _message: None)
    summaries = []
    with opened(settings) as store:
        for path in files:
            update(str(path))
            try:
                summaries.append(ingest_file(store, kind, path, options, strict=strict).to_dict())
            except CartwiseError:
                if kind == "events" and summaries:  # the files before it stay: so do their analytics
                    from cartwise.analytics import refresh_rollup

                    refresh_rollup(store)
                raise
        if kind == "events":
            from cartwise.analytics import refresh_rollup

            update("analytics rollup and timeline")
            refresh_rollup(store)
    if save_mapping and summaries:
        save_mapping_file(
            save_mapping,
            summaries[0]["mapping"],
            summaries[0]["constants"],
            format=options.format,
            delimiter=options.delimiter,
            header=options.header,
            encoding=options.encoding,
            ts_format=options.ts_format,
            timezone=options.timezone,
        )
    if len(summaries) == 1:
        return {**summaries[0], "files": summaries}
    quarantine = [s["quarantine_file"] for s in summaries if s["quarantine_file"]]
    return {
        **{k: sum(s[k] for s in summaries) for k in _COUNTS},
        "quarantine_file": quarantine[0] if len(quarantine) == 1 else (quarantine or None),
        "files": summaries,
    }


def what_was_kept(
    settings: Settings, kind: str, files: tuple[Path, ...] | list[Path], since: datetime
) -> Interrupted:
    """After Ctrl-C: the files loaded before it, or that there were none.

    Each file loads in its own transaction, so the files committed before the interrupt stay
    loaded; the store's `loads` table says which (a file committed just before Ctrl-C may not
    have reached the caller's own list).
    """
    nothing = Interrupted("Interrupted before any file was loaded; nothing was changed.")
    if not settings.db.exists():  # stopped before the store was created
        return nothing
    with opened(settings) as store:
        rows = store.con.execute(
            "SELECT source, loaded FROM loads WHERE started_at >= ? AND source IN (SELECT unnest(?)) "
            "ORDER BY started_at",
            [since, [str(p) for p in files]],
        ).fetchall()
    if not rows:
        return nothing
    kept = ", ".join(f"{Path(source).name} ({loaded:,} rows loaded)" for source, loaded in rows)
    if len(rows) < len(files):
        return Interrupted(
            f"Interrupted after {kept}: that stays in the store; the other {len(files) - len(rows)} "
            "file(s) were not loaded at all. Run the same command again to load them: files "
            "already loaded add nothing."
        )
    rollup = (
        " Only the refresh of the analytics rollup and timeline was cut short: analytics stay "
        "correct, and the next `cartwise ingest events` refreshes them."
        if kind == "events"
        else ""
    )
    return Interrupted(f"Interrupted after every file was loaded: {kept}.{rollup}")


__all__ = ["LoadOptions", "ingest_files", "load_options", "what_was_kept"]
