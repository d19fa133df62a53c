"""`cartwise ingest events|items|users|transactions FILE...`: load files into the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, explain_interrupt, json_option, progress, settings_for
from cartwise.cli.errors import option_words, stored_words
from cartwise.core.durations import format_duration
from cartwise.core.files import require_file
from cartwise.pipelines.choices import FORMATS, KINDS, MESSAGE_MENTIONS


def _rejection_text(rejection: dict[str, Any], lines: str) -> str:
    """One rejection group in words: a column's bad values, or whole records (no column), by
    the lines an editor shows (the header is line 1)."""
    plural = "s" if "," in lines else ""
    if rejection["column"] is None:  # the record itself could not be split into columns
        reason = option_words(rejection["reason"].removeprefix("record "), MESSAGE_MENTIONS)
        return f"the record on line{plural} {lines} {reason} (e.g. {rejection['example']!r})"
    reason = option_words(rejection["reason"], MESSAGE_MENTIONS)
    return f"`{rejection['column']}` {reason} (line{plural} {lines}, e.g. {rejection['example']!r})"


def _json_words(summary: dict[str, Any]) -> dict[str, Any]:
    """A file's summary for `--json`: its rejection reasons and warnings worded as the text output
    words them (the options of this command), each with the `mentions` it names."""
    return {
        **summary,
        "rejections": [stored_words(r, "reason", MESSAGE_MENTIONS) for r in summary["rejections"]],
        "warnings": [stored_words(w, "message", MESSAGE_MENTIONS) for w in summary["warnings"]],
    }


def _human(result: dict[str, Any]) -> str:
    lines = []
    for summary in result["files"]:
        lines.append(
            f"{summary['source']}: read {summary['read']:,} = loaded {summary['loaded']:,} + duplicates "
            f"{summary['duplicates']:,} + rejected {summary['rejected']:,}  ({format_duration(summary['seconds'])})"
        )
        if summary["updated"]:
            lines.append(f"  {summary['updated']:,} existing {summary['table']} were updated")
        for rejection in summary["rejections"][:10]:
            shown = ", ".join(map(str, rejection["lines"]))
            more = ", ..." if rejection["count"] > len(rejection["lines"]) else ""
            lines.append(f"  rejected {rejection['count']:,}: {_rejection_text(rejection, shown + more)}")
        for warning in summary["warnings"]:
            message = option_words(warning["message"], MESSAGE_MENTIONS)
            lines.append(f"  warning: {message} (rows {', '.join(map(str, warning['rows']))})")
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
    "--set",
    "sets",
    multiple=True,
    metavar="CANONICAL=VALUE",
    help="Give a canonical column one value for every row (repeatable), for a column the file "
    "lacks, e.g. --set type=rating for a ratings export. Saved with --save-mapping.",
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
@click.option(
    "--strict",
    is_flag=True,
    help="Fail on a file with a row to quarantine (naming its lines) and load nothing of it, "
    "instead of setting such rows aside.",
)
@db_option
@json_option
def ingest(
    kind: str,
    files: tuple[Path, ...],
    maps: tuple[str, ...],
    sets: tuple[str, ...],
    mapping_file: Path | None,
    save_mapping: Path | None,
    fmt: str | None,
    delimiter: str | None,
    no_header: bool | None,
    encoding: str | None,
    ts_format: str | None,
    timezone: str | None,
    strict: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Load KIND (events, items, users or transactions) from FILES into the store.

    Formats: CSV, TSV, whitespace-separated logs, Parquet, JSONL, RecBole atomic files and
    CDNOW logs, gzipped or not; for events also GA4's BigQuery export (--format ga4) and
    Shopify's orders CSV (--format shopify). Each file loads in one transaction; rejected rows go to the
    quarantine table and to FILE.quarantine.csv, reported by the line an editor shows
    (--strict fails instead). Re-loading a file adds nothing.
    """
    for path in files:
        require_file(path)  # before DuckDB and Arrow load: a typo fails at once
    from cartwise.pipelines.ingest import ingest_files, load_options, what_was_kept

    settings = settings_for(db)
    options = load_options(
        settings,
        maps=maps,
        sets=sets,
        mapping_file=mapping_file,
        fmt=fmt,
        delimiter=delimiter,
        header=None if no_header is None else not no_header,
        encoding=encoding,
        ts_format=ts_format,
        timezone=timezone,
    )
    started = datetime.now(UTC).replace(tzinfo=None)
    with (
        explain_interrupt(lambda: what_was_kept(settings, kind, files, started)),
        progress(f"Loading {kind}", not as_json) as update,
    ):
        result = ingest_files(
            settings, kind, files, options, save_mapping=save_mapping, progress=update, strict=strict
        )
    if as_json:
        worded = [_json_words(summary) for summary in result["files"]]
        emit(worded[0] if len(worded) == 1 else {**result, "files": worded}, True)
    else:
        emit(result, False, _human)
