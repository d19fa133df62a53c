"""`cartwise users-admin`: dashboard users who sign in with a name and password."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, json_option, settings_for
from cartwise.pipelines.stores import opened
from cartwise.service import keys as keys_job
from cartwise.service import sessions as sessions_job


@click.group("users-admin")
def users_admin() -> None:
    """Dashboard users (passwords are stored as scrypt hashes)."""


@users_admin.command("add")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@db_option
@json_option
def add(username: str, password_stdin: bool, db: Path | None, as_json: bool) -> None:
    """Add USERNAME (or set a new password, which ends their sessions); asks for the password unless --password-stdin."""
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
    """Remove USERNAME and end their dashboard sessions."""
    with opened(settings_for(db)) as store:
        result = keys_job.remove_user(store, username)
    emit(result, as_json, lambda r: f"Removed {r['username']}.")


@users_admin.command("sessions")
@click.option("--all", "include_ended", is_flag=True, help="Also list ended and expired sessions.")
@db_option
@json_option
def sessions(include_ended: bool, db: Path | None, as_json: bool) -> None:
    """Dashboard sessions, newest first (while the server is stopped; else GET /api/v1/sessions)."""
    with opened(settings_for(db)) as store:
        found = [s.to_dict() for s in sessions_job.list_sessions(store, include_ended=include_ended)]

    def human(r: dict[str, Any]) -> str:
        if not r["sessions"]:
            return "No live dashboard sessions." if not include_ended else "No dashboard sessions."
        return "\n".join(
            f"{s['session_id']}  {s['kind']} {s['name']}  signed in {s['created_at'][:19]}  "
            + (
                f"ended {s['ended_at'][:19]} ({s['ended_reason']})"
                if s["ended_at"]
                else f"until {s['expires_at'][:19]}"
            )
            for s in r["sessions"]
        )

    emit({"sessions": found}, as_json, human)


@users_admin.command("end-session")
@click.argument("session_id", required=False)
@click.option("--user", "username", help="End every session of this user instead of one SESSION_ID.")
@db_option
@json_option
def end_session(session_id: str | None, username: str | None, db: Path | None, as_json: bool) -> None:
    """End SESSION_ID (from `users-admin sessions`), or every session of --user, while the server is stopped."""
    if (session_id is None) == (username is None):
        raise click.UsageError("Give either a SESSION_ID or --user NAME.")
    with opened(settings_for(db)) as store:
        if session_id is not None:
            ended = [sessions_job.end_session(store, session_id, reason="ended by an admin").session_id]
        else:
            ended = sessions_job.end_sessions_of(store, reason="ended by an admin", username=username)
    emit({"ended": ended}, as_json, lambda r: f"Ended {len(r['ended'])} session(s).")
