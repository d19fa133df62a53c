"""`cartwise customers`: erase a customer or export what is held about one (privacy requests;
with the server stopped, or via `DELETE /api/v1/customers/{id}` and `GET .../export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, existing_store, json_option


@click.group()
def customers() -> None:
    """Privacy requests: erase a customer, export their data."""


def _forgotten(r: dict[str, Any]) -> str:
    lines = [f"Erased {r['total']} rows (logged as {r['subject_hash'][:16]}...):"]
    lines += [f"  {table}: {n}" for table, n in r["removed"].items()]
    lines += [f"Collector log: {r['log']}.", f"Artefacts: {r['artefacts']}."]
    return "\n".join(lines)


@customers.command("forget")
@click.argument("user_id")
@db_option
@json_option
def forget(user_id: str, db: Path | None, as_json: bool) -> None:
    """Erase USER_ID from every table and the collector's log; prints rows removed per table.
    Idempotent; logged by a hash of the id only. Needs the server stopped."""
    settings = existing_store(db)
    from cartwise.service.log_erase import forget_offline  # ~1.5 s (Ibis, pandas): after the store check

    emit(forget_offline(settings, user_id), as_json, _forgotten)


@customers.command("export")
@click.argument("user_id")
@db_option
@json_option
def export(user_id: str, db: Path | None, as_json: bool) -> None:
    """Print everything held about USER_ID as JSON (right of access); --json prints it on one line."""
    import json

    settings = existing_store(db)
    from cartwise.service.log_erase import export_offline  # ~1.5 s (Ibis, pandas): after the store check

    result = export_offline(settings, user_id)
    emit(result, as_json, lambda r: json.dumps(r, indent=2))
