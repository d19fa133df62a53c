"""`cartwise demo`: build a simulated shop with known ground truth, then serve the dashboard."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, explain_interrupt, json_option, progress, settings_for
from cartwise.core.errors import Interrupted
from cartwise.pipelines.choices import demo_config, shop_defaults
from cartwise.pipelines.stores import opened


def _first_day(start: datetime | None, days: int | None, *, serving: bool) -> date | None:
    """The simulated start: as given; when serving, `days` before today, so history meets the live replay."""
    if start is not None:
        return start.date()
    if not serving:
        return None
    return datetime.now(UTC).date() - timedelta(days=days or shop_defaults.DAYS)


@click.command()
@click.option(
    "--seed",
    type=int,
    default=None,
    help=f"Random seed; the same seed gives the same shop [default: {shop_defaults.SEED}].",
)
@click.option(
    "--users", type=int, default=None, help=f"Number of customers [default: {shop_defaults.USERS:,}]."
)
@click.option(
    "--items", type=int, default=None, help=f"Number of catalogue items [default: {shop_defaults.ITEMS:,}]."
)
@click.option(
    "--days",
    type=int,
    default=None,
    help=f"Length of the simulated period in days [default: {shop_defaults.DAYS}].",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help=f"First simulated day, YYYY-MM-DD [default: {shop_defaults.START.isoformat()}; when serving, "
    "so that the shop's history ends yesterday and the live replay follows on].",
)
@click.option("--no-serve", is_flag=True, help="Build the store and exit instead of serving the dashboard.")
@click.option(
    "--train/--no-train",
    default=None,
    help="Train profiles, CLV and the recommender after building [default: train when serving, not with --no-serve].",
)
@click.option(
    "--host", default=None, help="Address the dashboard binds [default: the `host` setting, 127.0.0.1]."
)
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port the dashboard listens on [default: the `port` setting, 8000].",
)
@db_option
@json_option
def demo(
    seed: int | None,
    users: int | None,
    items: int | None,
    days: int | None,
    start: datetime | None,
    no_serve: bool,
    train: bool | None,
    host: str | None,
    port: int | None,
    db: Path | None,
    as_json: bool,
) -> None:
    """Build a demo shop (catalogue, customers, ~2 million events) with its ground truth, then serve it.

    The store at --db is deleted and rebuilt; only a store an earlier `cartwise demo` made, or
    one without events, users or items, is deleted. Ground truth lands in `truth_*` tables and
    `promotions`, so models can be checked against known answers. The built-in journeys are
    applied (`cartwise journeys builtins`), and the live replay feeds them, their waits as many
    times shorter as the replay is faster; their e-mail goes to a local SMTP sink the demo runs.
    """
    config = demo_config(
        seed=seed, users=users, items=items, days=days, start=_first_day(start, days, serving=not no_serve)
    )
    settings = settings_for(db, host=host, port=port)
    from cartwise.pipelines.demo import build_demo, clear_for_demo

    existed = clear_for_demo(settings.db)
    if existed and not as_json:
        click.echo(f"Removed the existing store {settings.db}.", err=True)
    incomplete = Interrupted(
        f"Interrupted; the demo store {settings.db} is incomplete. Run the same command again to rebuild it."
    )
    with (
        explain_interrupt(lambda: incomplete),
        progress("Building the demo shop", enabled=not as_json) as report,
        opened(settings) as store,
    ):
        counts: dict[str, Any] = dict(build_demo(store, config, progress=report))
        if train if train is not None else not no_serve:
            from cartwise.pipelines.train import train_all

            counts["trained"] = train_all(store, progress=report)
        from cartwise.pipelines.journey_library import apply_builtin_journeys

        report("applying the built-in journeys")
        journeys = apply_builtin_journeys(store, settings)
        counts["journeys"] = [j["journey"] for j in journeys if "skipped" not in j]
        skipped = {j["journey"]: j["skipped"] for j in journeys if "skipped" in j}
        if (
            skipped
        ):  # e.g. win-back needs the profiles' p_alive: `--train`, or `cartwise train` then `journeys apply`
            counts["journeys_skipped"] = skipped
        for name, reason in skipped.items():
            if not as_json:
                click.echo(f"Journey {name} not applied: {reason}", err=True)
    emit(
        counts,
        as_json,
        human=lambda c: (
            f"Demo shop in {settings.db}: {c['events']:,} events, {c['users']:,} customers, "
            f"{c['items']:,} items, {c['orders']:,} orders."
        ),
    )
    if not no_serve:
        from cartwise.service.live_demo import serve_demo

        serve_demo(settings)
