"""`cartwise demo`: build a simulated shop with known ground truth, then serve the dashboard."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, explain_interrupt, json_option, progress, settings_for
from cartwise.core.errors import Interrupted, StoreError
from cartwise.pipelines.demo import build_demo, demo_config
from cartwise.pipelines.train import train_all
from cartwise.simulate import ShopConfig
from cartwise.store.store import open_store, remove_store

_DEFAULTS = ShopConfig()


def _first_day(start: datetime | None, days: int | None, *, serving: bool) -> date | None:
    """The simulated start: as given; when serving, `days` before today, so history meets the live replay."""
    if start is not None:
        return start.date()
    if not serving:
        return None
    return datetime.now(UTC).date() - timedelta(days=days or _DEFAULTS.days)


@click.command()
@click.option(
    "--seed",
    type=int,
    default=None,
    help=f"Random seed; the same seed gives the same shop [default: {_DEFAULTS.seed}].",
)
@click.option("--users", type=int, default=None, help=f"Number of customers [default: {_DEFAULTS.users:,}].")
@click.option(
    "--items", type=int, default=None, help=f"Number of catalogue items [default: {_DEFAULTS.items:,}]."
)
@click.option(
    "--days",
    type=int,
    default=None,
    help=f"Length of the simulated period in days [default: {_DEFAULTS.days}].",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help=f"First simulated day, YYYY-MM-DD [default: {_DEFAULTS.start.isoformat()}; when serving, "
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
    `promotions`, so models can be checked against known answers.
    """
    config = demo_config(
        seed=seed, users=users, items=items, days=days, start=_first_day(start, days, serving=not no_serve)
    )
    settings = settings_for(db, host=host, port=port)
    existed = settings.db.exists()
    if existed:
        _check_replaceable(settings.db)
    remove_store(settings.db)
    if existed and not as_json:
        click.echo(f"Removed the existing store {settings.db}.", err=True)
    incomplete = Interrupted(
        f"Interrupted; the demo store {settings.db} is incomplete. Run the same command again to rebuild it."
    )
    with (
        explain_interrupt(lambda: incomplete),
        progress("Building the demo shop", enabled=not as_json) as report,
        open_store(settings.db, settings=settings) as store,
    ):
        counts: dict[str, Any] = dict(build_demo(store, config, progress=report))
        if train if train is not None else not no_serve:
            counts["trained"] = train_all(store, progress=report)
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


def _check_replaceable(path: Path) -> None:
    """Raise unless the store at `path` may be deleted: a demo store (it has the simulator's
    `truth_params`) or one without data. A shop's store set as the default `db`, a file that
    is not a store, or a store a server has open is refused, never deleted."""
    with open_store(path, read_only=True) as store:
        if store.has_table("truth_params"):
            return
        held = {name: store.count(name) for name in ("events", "users", "items") if store.has_table(name)}
    if any(held.values()):
        found = ", ".join(f"{n:,} {name}" for name, n in held.items() if n)
        raise StoreError(
            f"The store {path} holds {found} that `cartwise demo` did not make, and the demo "
            "replaces the store at --db: choose another path (e.g. --db demo.duckdb), or delete "
            "this file yourself if it is not needed."
        )
