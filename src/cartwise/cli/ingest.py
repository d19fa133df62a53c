"""`cartwise ingest events|items|users|transactions FILE...`: load files into the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cartwise.analytics import refresh_rollup
from cartwise.cli.common import db_option, emit, explain_interrupt, json_option, progress, settings_for
from cartwise.core.errors import Interrupted
from cartwise.core.settings import Settings
from cartwise.ingest import (
    FORMATS,
    KINDS,
    LoadOptions,
    TimeWindow,
    ingest_file,
    load_mapping_file,
    parse_map_options,
    save_mapping_file,
)
from cartwise.store import open_store


def _human(result: dict[str, Any]) -> str:
    lines = []
    for summary in result["files"]:
        lines.append(
            f"{summary['source']}: read {summary['read']:,} = loaded {summary['loaded']:,} + duplicates "
            f"{summary['duplicates']:,} + rejected {summary['rejected']:,}  ({summary['seconds']} s)"
        )
        if summary["updated"]:
            lines.append(f"  {summary['updated']:,} existing {summary['table']} were updated")
        for rejection in summary["rejections"][:10]:
            rows = ", ".join(map(str, rejection["rows"]))
            more = ", ..." if rejection["count"] > len(rejection["rows"]) else ""
            lines.append(
                f"  rejected {rejection['count']:,}: `{rejection['column']}` {rejection['reason']} "
                f"(rows {rows}{more}, e.g. {rejection['example']!r})"
            )
        for warning in summary["warnings"]:
            lines.append(f"  warning: {warning['message']} (rows {', '.join(map(str, warning['rows']))})")
        if summary["quarantine_file"]:
            lines.append(f"  rejected rows written to {summary['quarantine_file']}")
    return "\n".join(lines)


@click.command("ingest", context_settings={"show_default": True})
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="CANONICAL=SOURCE",
    help="Map an input column to a canonical one (repeatable), e.g. --map ts=timestamp.",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A saved mapping file (TOML) with a [map] table and reading options.",
)
@click.option(
    "--save-mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the mapping used for the first file to this TOML file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Input format [default: auto, from the file name and first line].",
)
@click.option(
    "--delimiter", default=None, help="Field separator of delimited text [default: sniffed from the header]."
)
@click.option(
    "--no-header",
    is_flag=True,
    default=None,
    help="The file has no header line; map columns by number (--map ts=2).",
)
@click.option("--encoding", default=None, help="Text encoding of the file [default: utf-8].")
@click.option(
    "--ts-format",
    default=None,
    help="strftime format of timestamps, e.g. '%%d/%%m/%%Y %%H:%%M' [default: ISO 8601 or epoch, detected].",
)
@click.option(
    "--timezone",
    default=None,
    help="Time zone of timestamps that carry no offset [default: the `timezone` setting, UTC].",
)
@db_option
@json_option
def ingest(
    kind: str,
    files: tuple[Path, ...],
    maps: tuple[str, ...],
    mapping_file: Path | None,
    save_mapping: Path | None,
    fmt: str | None,
    delimiter: str | None,
    no_header: bool | None,
    encoding: str | None,
    ts_format: str | None,
    timezone: str | None,
    db: Path | None,
    as_json: bool,
) -> None:
    """Load KIND (events, items, users or transactions) from FILES into the store.

    Formats: CSV, TSV, whitespace-separated logs, Parquet, JSONL, RecBole atomic files and
    CDNOW logs, gzipped or not. Each file loads in one transaction; rejected rows go to the
    quarantine table and to FILE.quarantine.csv. Re-loading a file adds nothing.
    """
    settings = settings_for(db)
    saved: dict[str, Any] = load_mapping_file(mapping_file) if mapping_file else {}
    mapping = {**saved.get("map", {}), **parse_map_options(maps)}
    options = LoadOptions(
        format=fmt or saved.get("format", "auto"),
        delimiter=delimiter or saved.get("delimiter"),
        header=not no_header if no_header is not None else saved.get("header", True),
        encoding=encoding or saved.get("encoding", "utf-8"),
        mapping=mapping,
        ts_format=ts_format or saved.get("ts_format"),
        timezone=timezone or saved.get("timezone", settings.timezone),
        window=TimeWindow.for_loads(settings),
    )
    summaries = []
    started = datetime.now(UTC).replace(tzinfo=None)
    with (
        explain_interrupt(lambda: _what_was_kept(settings, kind, files, started)),
        open_store(settings.db, settings=settings) as store,
        progress(f"Loading {kind}", not as_json) as update,
    ):
        for path in files:
            update(str(path))
            summaries.append(ingest_file(store, kind, path, options).to_dict())
        if kind == "events":
            update("analytics rollup and timeline")
            refresh_rollup(store)
    if save_mapping and summaries:
        save_mapping_file(
            save_mapping,
            summaries[0]["mapping"],
            format=options.format,
            delimiter=options.delimiter,
            header=options.header,
            encoding=options.encoding,
            ts_format=options.ts_format,
            timezone=options.timezone,
        )
    totals = {
        k: sum(s[k] for s in summaries) for k in ("read", "loaded", "duplicates", "rejected", "updated")
    }
    if len(summaries) == 1:
        result = {**summaries[0], "files": summaries}
    else:
        quarantine = [s["quarantine_file"] for s in summaries if s["quarantine_file"]]
        result = {
            **totals,
            "quarantine_file": quarantine[0] if len(quarantine) == 1 else (quarantine or None),
            "files": summaries,
        }
    if as_json:
        if len(summaries) == 1:
            result = {k: v for k, v in result.items() if k != "files"}
        emit(result, True)
    else:
        emit(result, False, _human)


def _what_was_kept(settings: Settings, kind: str, files: tuple[Path, ...], since: datetime) -> Interrupted:
    """After Ctrl-C: the files loaded before it, or that there were none.

    Each file loads in its own transaction, so the files committed before the interrupt stay
    loaded; the store's `loads` table says which (a file committed just before Ctrl-C may not
    have reached this command's own list).
    """
    nothing = Interrupted("Interrupted before any file was loaded; nothing was changed.")
    if not settings.db.exists():  # stopped before the store was created
        return nothing
    with open_store(settings.db, settings=settings) as store:
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
