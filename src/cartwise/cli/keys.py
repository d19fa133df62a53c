"""`cartwise keys`: create, list and revoke API keys (with the server stopped, or via /api/v1/keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, json_option, settings_for
from cartwise.pipelines.stores import opened
from cartwise.service import keys as keys_job


@click.group()
def keys() -> None:
    """API keys: `collect` (send events; safe in a storefront), `read`, `admin`."""


@keys.command("create")
@click.option("--scope", type=click.Choice(list(keys_job.SCOPES)), required=True, help="What the key may do.")
@click.option("--name", required=True, help="Where the key is used, e.g. storefront.")
@db_option
@json_option
def create(scope: str, name: str, db: Path | None, as_json: bool) -> None:
    """Create a key and print it once; only its sha256 is stored."""
    with opened(settings_for(db)) as store:
        info, key = keys_job.create_key(store, scope=scope, name=name)
    result = {"key": key, **info.to_dict()}
    emit(
        result,
        as_json,
        lambda r: f"{r['key']}\n(key id {r['key_id']}, scope {r['scope']}; shown once, store it safely)",
    )


@keys.command("list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Keys with their id, name, scope and state (never the keys themselves)."""
    with opened(settings_for(db)) as store:
        found = [k.to_dict() for k in keys_job.list_keys(store)]

    def human(r: dict[str, Any]) -> str:
        if not r["keys"]:
            return "No keys yet; create one with `cartwise keys create --scope collect --name storefront`."
        return "\n".join(
            f"{k['key_id']}  {k['scope']:<8} {k['name']:<24} created {k['created_at'][:19]}"
            + (f"  REVOKED {k['revoked_at'][:19]}" if k["revoked_at"] else "")
            for k in r["keys"]
        )

    emit({"keys": found}, as_json, human)


@keys.command("revoke")
@click.argument("key_id")
@db_option
@json_option
def revoke(key_id: str, db: Path | None, as_json: bool) -> None:
    """Revoke the key KEY_ID (from `keys list`); it stops working at once."""
    with opened(settings_for(db)) as store:
        info = keys_job.revoke_key(store, key_id)
    emit(info.to_dict(), as_json, lambda r: f"Revoked {r['key_id']} ({r['name']}).")
