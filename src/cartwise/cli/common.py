"""Options and output helpers shared by every command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cartwise.core.errors import Interrupted

if TYPE_CHECKING:
    from cartwise.core.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def is_interrupt(exc: BaseException) -> bool:
    """Whether `exc` is Ctrl-C: Python's KeyboardInterrupt, or DuckDB's error for a query it stopped
    (the query's transaction is rolled back)."""
    return isinstance(exc, KeyboardInterrupt) or (
        isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"
    )


@contextmanager
def explain_interrupt(explain: Callable[[], Interrupted]) -> Iterator[None]:
    """Turn Ctrl-C inside the block into `explain()`: an `Interrupted` saying what the command kept."""
    try:
        yield
    except (KeyboardInterrupt, RuntimeError) as exc:
        if not is_interrupt(exc):
            raise
        raise explain() from exc


def db_option(func: F) -> F:
    """`--db PATH`: the store file (default: the `db` setting, `./cartwise.duckdb`)."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="DuckDB store file [default: $CARTWISE_DB or ./cartwise.duckdb].",
    )(func)


def json_option(func: F) -> F:
    """`--json`: print one JSON document on stdout and nothing else."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON only.")(func)


def settings_for(db: Path | None, **overrides: Any) -> Settings:
    from cartwise.core.settings import get_settings  # pydantic: when a command runs, not for --help

    return get_settings(db=db, **overrides)


def existing_store(db: Path | None) -> Settings:
    """The settings, once their store is known to exist (else the `StoreError` opening it would
    raise). For commands whose pipeline takes seconds to import: call this first, import after,
    so a mistyped --db fails in a fraction of a second."""
    from cartwise.pipelines.stores import require_store

    settings = settings_for(db)
    require_store(settings)
    return settings


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit(result: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], str] | None = None) -> None:
    """Print `result` as JSON (`--json`) or as readable text."""
    if as_json:
        click.echo(json.dumps(result, default=_default))
        return
    if human is not None:
        click.echo(human(result))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {_shown(k, v, within=key)}")
        else:
            click.echo(_shown(key, value))


def _shown(key: Any, value: Any, within: Any = "") -> str:
    """`key: value`, a duration in seconds (`seconds`, `*_seconds`) in the unit that fits."""
    from cartwise.core.durations import format_duration

    name = str(key)
    if isinstance(value, dict) and name == "seconds":
        return f"{name}: " + ", ".join(_shown(k, v, within=name) for k, v in value.items())
    timed = name == "seconds" or name.endswith("_seconds") or within == "seconds"
    if timed and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{name.removesuffix('_seconds') if name != 'seconds' else 'took'}: {format_duration(value)}"
    return f"{key}: {value}"


def set_aside_lines(report: dict[str, Any], what: str) -> list[str]:
    """Text lines for the records a command set aside (`cartwise.pipelines.bad_rows`): the
    count, then each reason with its first lines as an editor numbers them."""
    if not report["set_aside"]:
        return []
    lines = [f"Set aside {report['set_aside']:,} unusable {what} records (--strict fails instead):"]
    for r in report["reasons"][:5]:
        more = ", ..." if r["count"] > len(r["lines"]) else ""
        shown = ", ".join(map(str, r["lines"]))
        lines.append(
            f"  {r['count']:,} {r['reason']} (line{'s' if r['count'] > 1 else ''} {shown}{more}, e.g. {r['example']!r})"
        )
    return lines


@contextmanager
def progress(label: str, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A spinner with a status line on a terminal; silent with --json or when not a TTY."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _message: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(label) as status:
        yield lambda message: status.update(f"{label}: {message}")
