"""`cartwise audiences`: saved rules over profiles, predictions and behaviour; counts, history, export."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from cartwise.cli.common import db_option, emit, json_option, settings_for

RULE_HELP = (
    "A rule such as 'did(add_to_cart, within=3d) and not did(purchase, within=3d)', "
    "'count(view, within=7d) >= 3 and p_alive < 0.5' or 'dropped(view > add_to_cart > purchase, within=7d)'."
)


def now_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--now",
        type=click.DateTime(),
        default=None,
        help="Evaluate as of this UTC time (windows end there) [default: the current time].",
    )(func)


@click.group()
def audiences() -> None:
    """Audiences: saved rules over profile fields, predictions and behaviour (see the README)."""


@audiences.command("save")
@click.argument("name")
@click.option("--rule", required=True, help=RULE_HELP)
@click.option("--description", default="", help="What the audience is for.")
@now_option
@db_option
@json_option
def save(
    name: str, rule: str, description: str, now: datetime | None, db: Path | None, as_json: bool
) -> None:
    """Save audience NAME (replacing one of that name); prints its size now."""
    from cartwise.pipelines.stores import opened

    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.audiences import save_audience  # ~2 s: after the store check

        result = save_audience(store, name, rule, description, now)
    emit(result, as_json, lambda r: f"Saved {r['name']}: {r['size']:,} customers now.")


@audiences.command("count")
@click.argument("name_or_rule", required=False)
@click.option("--rule", default=None, help=RULE_HELP)
@now_option
@db_option
@json_option
def count(
    name_or_rule: str | None, rule: str | None, now: datetime | None, db: Path | None, as_json: bool
) -> None:
    """How many customers are in saved audience NAME_OR_RULE (or match --rule) now; a saved
    audience's count is added to its size history."""
    from cartwise.core.errors import ConfigError
    from cartwise.pipelines.stores import opened

    target = rule if rule is not None else name_or_rule
    if target is None or (rule is not None and name_or_rule is not None):
        raise ConfigError("Give an audience's name or --rule RULE (one of the two).")
    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.audiences import count_audience  # ~2 s: after the store check

        result = count_audience(store, target, now)
    emit(
        result,
        as_json,
        lambda r: (
            f"{r['size']:,} of {r['total']:,} known customers ({r['share']:.1%}) at {r['now']:%Y-%m-%d %H:%M:%S}."
        ),
    )


@audiences.command("list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Saved audiences with their latest size and size history."""
    from cartwise.pipelines.stores import opened

    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.audiences import list_audiences  # ~2 s: after the store check

        result = list_audiences(store)
    emit(
        {"audiences": result},
        as_json,
        lambda r: (
            "\n".join(
                f"{a['name']}: {a['size'] if a['size'] is not None else '-'}  ({a['rule']})"
                for a in r["audiences"]
            )
            or "No audiences saved."
        ),
    )


@audiences.command("export")
@click.argument("name_or_rule")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file to write [default: standard output].",
)
@now_option
@db_option
@json_option
def export(name_or_rule: str, out: Path | None, now: datetime | None, db: Path | None, as_json: bool) -> None:
    """Write the members of saved audience (or rule) NAME_OR_RULE as CSV: user_id, email and
    profile fields. With --json (which needs --out), print a summary."""
    from cartwise.core.errors import ConfigError
    from cartwise.pipelines.stores import opened

    if as_json and out is None:
        raise ConfigError("--json prints a summary; give --out FILE for the CSV.")
    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.audiences import export_audience  # ~2 s: after the store check

        if out is None:
            export_audience(store, name_or_rule, sys.stdout, now)
            return
        partial = out.with_name(out.name + ".partial")
        with partial.open("w", encoding="utf-8", newline="") as handle:
            result = export_audience(store, name_or_rule, handle, now)
        partial.replace(out)  # a reader never sees half a file
    emit({**result, "path": str(out)}, as_json, lambda r: f"Wrote {r['rows']:,} customers to {r['path']}.")


@audiences.command("refresh")
@now_option
@db_option
@json_option
def refresh(now: datetime | None, db: Path | None, as_json: bool) -> None:
    """Count every saved audience now and add the sizes to their history."""
    from cartwise.pipelines.stores import opened

    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.audiences import refresh_audiences  # ~2 s: after the store check

        result = refresh_audiences(store, now)
    emit(
        result,
        as_json,
        lambda r: "\n".join(f"{k}: {v:,}" for k, v in r["sizes"].items()) or "No audiences saved.",
    )


@audiences.command("delete")
@click.argument("name")
@db_option
@json_option
def delete(name: str, db: Path | None, as_json: bool) -> None:
    """Delete audience NAME and its size history."""
    from cartwise.pipelines.stores import opened

    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.audiences import delete_audience  # ~2 s: after the store check

        delete_audience(store, name)
    emit({"deleted": name}, as_json)
