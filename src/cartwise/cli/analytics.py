"""`cartwise analytics kpis|funnel|retention`: shop analytics on the store or on a file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cartwise.cli.common import db_option, emit, json_option, set_aside_lines, settings_for
from cartwise.cli.errors import stored_words
from cartwise.core.durations import format_duration
from cartwise.pipelines.choices import ENGINES, FORMATS, MESSAGE_MENTIONS

if TYPE_CHECKING:
    from cartwise.pipelines.analytics import Source

F = TypeVar("F", bound=Callable[..., Any])


def source_options(func: F) -> F:
    """`--db`, or `--events FILE` with the reading and mapping flags of `cartwise ingest`; `--engine`."""
    options = [
        click.option(
            "--events",
            "events_file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="Read events from this file instead of the store (same formats and flags as `cartwise ingest`).",
        ),
        click.option(
            "--map",
            "maps",
            multiple=True,
            metavar="CANONICAL=SOURCE",
            help="Map an input column, e.g. --map ts=timestamp (repeatable).",
        ),
        click.option(
            "--format", "fmt", type=click.Choice(FORMATS), default="auto", help="Input format of --events."
        ),
        click.option(
            "--delimiter", default=None, help="Field separator of delimited text [default: sniffed]."
        ),
        click.option("--no-header", is_flag=True, help="The file has no header line; map columns by number."),
        click.option("--encoding", default="utf-8", help="Text encoding of the file."),
        click.option(
            "--strict",
            is_flag=True,
            help="Fail on rows of --events that `cartwise ingest` would quarantine instead of setting "
            "them aside (counted and reported by line).",
        ),
        click.option(
            "--ts-format", default=None, help="strftime format of timestamps [default: ISO 8601 or epoch]."
        ),
        click.option(
            "--timezone",
            default=None,
            help="Time zone of timestamps without an offset [default: UTC setting].",
        ),
        click.option(
            "--engine",
            type=click.Choice(ENGINES),
            default="duckdb",
            help="Query engine; spark runs PySpark in local mode.",
        ),
        click.option("--start", default=None, help="Only events at or after this date/time (ISO)."),
        click.option("--end", default=None, help="Only events before this date/time (ISO)."),
        db_option,
        json_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_source(params: dict[str, Any]) -> Source:
    """A Source from the shared options (removed from `params`)."""
    from cartwise.pipelines.stores import require_store

    settings = settings_for(params.pop("db"))
    strict = params.pop("strict")
    if params["events_file"] is None:
        if strict:
            from cartwise.core.errors import ConfigError

            raise ConfigError("--strict applies to --events FILE; a store's rows were checked when loaded.")
        require_store(settings)  # before importing Ibis: a mistyped --db fails at once
    from cartwise.pipelines.analytics import Source  # Ibis, and PySpark for --engine spark, on use
    from cartwise.pipelines.ingest import load_options

    options = load_options(
        settings,
        maps=params.pop("maps"),
        fmt=params.pop("fmt"),
        delimiter=params.pop("delimiter"),
        header=not params.pop("no_header"),
        encoding=params.pop("encoding"),
        ts_format=params.pop("ts_format"),
        timezone=params.pop("timezone"),
    )
    return Source(
        db=settings.db,
        events_file=params.pop("events_file"),
        options=options,
        engine=params.pop("engine"),
        strict=strict,
    )


def _emit(result: dict[str, Any], as_json: bool, text: Callable[[dict[str, Any]], str]) -> None:
    """`emit`, with the reasons of the --events rows set aside worded as this command's options
    (ingestion stored them naming `format`, `delimiter`, ...), each with its `mentions`."""
    if "set_aside" in result:
        report = result["set_aside"]
        reasons = [stored_words(r, "reason", MESSAGE_MENTIONS) for r in report["reasons"]]
        result = {**result, "set_aside": {**report, "reasons": reasons}}
    emit(result, as_json, _with_set_aside(text))


def _with_set_aside(text: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any]], str]:
    """`text`, followed by the rows of --events set aside (`set_aside`), when there were."""

    def shown(result: dict[str, Any]) -> str:
        if "set_aside" not in result:
            return text(result)
        return "\n".join([text(result), "", *set_aside_lines(result["set_aside"], "event")])

    return shown


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _funnel_rows(rows: list[dict[str, Any]], first: str, width: int) -> list[str]:
    return [
        f"{row[first]!s:{width}} {row['users']:>10,} {_pct(row['conversion_from_previous']):>10} "
        f"{_pct(row['conversion_from_first']):>10} {format_duration(row['median_seconds_from_previous']):>12}"
        for row in rows
    ]


def _funnel_text(result: dict[str, Any]) -> str:
    header = f"{'users':>10} {'from prev':>10} {'from first':>10} {'median gap':>12}"
    lines = [f"{'step':28} {header}", *_funnel_rows(result["steps"], "step", 28)]
    if result.get("segments"):
        # the breakdown: one block per segment, its steps in order (as in the JSON's `segments`)
        lines += ["", f"By {result['breakdown']}:"]
        blocks: dict[Any, list[dict[str, Any]]] = {}
        for row in result["segments"]:
            blocks.setdefault(row["segment"], []).append(row)
        for segment, rows in blocks.items():
            lines += ["", f"{result['breakdown']} = {'(none)' if segment is None else segment}"]
            lines += [f"  {'step':26} {header}", *("  " + r for r in _funnel_rows(rows, "step", 26))]
    return "\n".join(lines)


def _count(value: int | None, width: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width},}"


def _kpis_text(result: dict[str, Any]) -> str:
    lines = [
        f"{'period':12} {'revenue':>12} {'orders':>8} {'aov':>9} {'conv':>7} {'visitors':>9} {'new':>6} {'ret':>6} {'refunds':>8}"
    ]
    for p in result["periods"]:
        conversion = "n/a" if p["conversion_rate"] is None else _pct(p["conversion_rate"])
        lines.append(
            f"{p['period_start']!s:12} {p['revenue']:>12,.2f} {p['orders']:>8,} {p['aov']:>9,.2f} "
            f"{conversion:>7} {_count(p['visitors'], 9)} {p['new_customers']:>6,} "
            f"{p['returning_customers']:>6,} {p['refunds']:>8,}"
        )
    if result.get("needs_events"):
        lines.append(
            f"n/a: {', '.join(result['needs_events'])} need events (visits and sessions), and these "
            "periods have orders only (a transaction log); load events to see them."
        )
    return "\n".join(lines)


def _retention_text(result: dict[str, Any]) -> str:
    lines = [f"{'cohort':12} {'users':>7}  retention by {result['by']} 0, 1, 2, ..."]
    cohorts: dict[Any, list[dict[str, Any]]] = {}
    for cell in result["cells"]:
        cohorts.setdefault(cell["cohort_start"], []).append(cell)
    for start, cells in cohorts.items():
        rates = " ".join(f"{100 * c['retention']:5.1f}" for c in cells[:12])
        lines.append(f"{start!s:12} {cells[0]['cohort_users']:>7,}  {rates}")
    return "\n".join(lines)


@click.group()
def analytics() -> None:
    """Shop analytics: KPIs, funnels and cohort retention, on the store or a file."""


@analytics.command()
@click.option(
    "--by", type=click.Choice(["day", "week", "month"]), default="day", show_default=True, help="Period."
)
@source_options
def kpis(**params: Any) -> None:
    """Revenue, orders, units, AOV, conversion, revenue per visitor, new/returning customers,
    repeat purchase rate and refunds per period, each with the previous period's value."""
    as_json = params.pop("as_json")
    source = make_source(params)
    from cartwise.pipelines.analytics import run_kpis

    result = run_kpis(source, params["by"], start=params["start"], end=params["end"])
    _emit(result, as_json, _kpis_text)


@analytics.command()
@click.option(
    "--steps", required=True, help="Ordered event types, comma-separated; filter one with type[column=value]."
)
@click.option(
    "--window",
    default="1d",
    show_default=True,
    help="Conversion window from the first step: 30m, 2h, 1d, 7d.",
)
@click.option("--breakdown", default=None, help="An event or user column to split the funnel by.")
@click.option(
    "--dropped-users", is_flag=True, help="List the users who dropped at each step (for audiences)."
)
@source_options
def funnel(**params: Any) -> None:
    """Users reaching each step within the window, conversion and median time between steps.

    A user reaches step k when events of steps 1..k happened in that order (ties allowed)
    with at most WINDOW between the first and the k-th.
    """
    as_json = params.pop("as_json")
    source = make_source(params)
    from cartwise.pipelines.analytics import run_funnel

    result = run_funnel(
        source,
        params["steps"],
        params["window"],
        start=params["start"],
        end=params["end"],
        breakdown=params["breakdown"],
        with_dropped=params["dropped_users"],
    )
    _emit(result, as_json, _funnel_text)


@analytics.command()
@click.option(
    "--by", type=click.Choice(["week", "month"]), default="week", show_default=True, help="Cohort period."
)
@click.option(
    "--cohort",
    type=click.Choice(["first_purchase", "first_seen"]),
    default="first_purchase",
    show_default=True,
    help="What puts a user in a cohort.",
)
@click.option(
    "--activity",
    type=click.Choice(["any", "purchase"]),
    default="any",
    show_default=True,
    help="What counts as active in a later period.",
)
@source_options
def retention(**params: Any) -> None:
    """Cohort retention, revenue retention and cumulative revenue per customer (LTV curves)."""
    as_json = params.pop("as_json")
    source = make_source(params)
    from cartwise.pipelines.analytics import run_retention

    result = run_retention(
        source,
        params["by"],
        cohort=params["cohort"],
        activity=params["activity"],
        start=params["start"],
        end=params["end"],
    )
    _emit(result, as_json, _retention_text)
