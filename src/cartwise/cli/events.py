"""`cartwise events`: delete events by id or by filter (with the server stopped; a running
server offers `POST /api/v1/events/delete`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, existing_store, json_option


@click.group()
def events() -> None:
    """Stored events: delete by id or by filter."""


def _human(r: dict[str, Any]) -> str:
    d = r["deleted"]
    if r["dry_run"]:
        return f"{r['matched']} events match; nothing deleted (--dry-run)."
    text = f"Deleted {d['events']} events, {d['orders']} orders and {d['order_lines']} order lines."
    if r["rollup_rebuilt"]:
        text += "\nAnalytics rollup rebuilt. Run `cartwise train` to refresh " + ", ".join(r["rebuild"]) + "."
    return text


@events.command("delete")
@click.option("--id", "event_ids", multiple=True, help="An event id to delete (repeat the flag for more).")
@click.option("--start", help="Only events at or after this ISO time, UTC (e.g. 2026-01-31 or 9000-01-01).")
@click.option("--end", help="Only events before this ISO time, UTC.")
@click.option("--type", "types", multiple=True, help="Only events of this type (repeat for more).")
@click.option("--user", "user_id", help="Only this customer's events.")
@click.option("--dry-run", is_flag=True, help="Count the matching events; delete nothing.")
@db_option
@json_option
def delete(
    event_ids: tuple[str, ...],
    start: str | None,
    end: str | None,
    types: tuple[str, ...],
    user_id: str | None,
    dry_run: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Delete the events matching every given criterion, with the orders derived from them;
    the analytics rollup is rebuilt. Needs the server stopped."""
    settings = existing_store(db)
    # ~1.5 s (Ibis, pandas): after the store check
    from cartwise.pipelines.event_delete import EventFilter
    from cartwise.service.log_erase import delete_events_offline

    flt = EventFilter(event_ids=event_ids, start=start, end=end, types=types, user_id=user_id)
    emit(delete_events_offline(settings, flt, dry_run=dry_run), as_json, _human)
