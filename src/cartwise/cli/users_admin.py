"""`cartwise users-admin`: dashboard users who sign in with a name and password."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, json_option, settings_for
from cartwise.pipelines.stores import opened
from cartwise.service import keys as keys_job


@click.group("users-admin")
def users_admin() -> None:
    """Dashboard users (passwords are stored as scrypt hashes)."""


@users_admin.command("add")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@db_option
@json_option
def add(username: str, password_stdin: bool, db: Path | None, as_json: bool) -> None:
    """Add USERNAME (or set a new password); asks for the password unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with opened(settings_for(db)) as store:
        result = keys_job.add_user(store, username, password)
    emit(result, as_json, lambda r: f"User {r['username']} can now sign in to the dashboard.")


@users_admin.command("list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Dashboard users."""
    with opened(settings_for(db)) as store:
        found = keys_job.list_users(store)

    def human(r: dict[str, Any]) -> str:
        if not r["users"]:
            return "No dashboard users; add one with `cartwise users-admin add NAME`."
        return "\n".join(f"{u['username']}  created {u['created_at'][:19]}" for u in r["users"])

    emit({"users": found}, as_json, human)


@users_admin.command("remove")
@click.argument("username")
@db_option
@json_option
def remove(username: str, db: Path | None, as_json: bool) -> None:
    """Remove USERNAME."""
    with opened(settings_for(db)) as store:
        result = keys_job.remove_user(store, username)
    emit(result, as_json, lambda r: f"Removed {r['username']}.")
