"""Dashboard sessions live on the server: logout, removing a user, changing a password, revoking
a key and an admin end them; a restart keeps the others. Against real `cartwise serve` processes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from click.testing import CliRunner
from service_support import PASSWORD, SERVER_ENV, Running, error_body, start

from cartwise.cli.users_admin import users_admin
from cartwise.service.server_process import ServerProcess


def _login(c: httpx.Client, **form: str) -> httpx.Response:
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return c.post("/login", data={"csrf_token": token.group(1), **form})


@contextmanager
def _signed_in(url: str, **form: str) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in to the dashboard, and its page's CSRF token."""
    with httpx.Client(base_url=url, timeout=30) as c:
        assert _login(c, **form).status_code == 303
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/overview").text)
        assert token
        yield c, token.group(1)


def _cli(args: list[str], stdin: str | None = None) -> dict[str, object]:
    result = CliRunner().invoke(users_admin, [*args, "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_after_logout_the_old_cookie_is_refused(running: Running) -> None:
    with _signed_in(running.url, username="alice", password=PASSWORD) as (c, csrf):
        cookie = c.cookies["cartwise_session"]
        assert c.get("/api/v1/me").status_code == 200
        assert c.post("/logout", data={"csrf_token": csrf}).status_code == 303
    # A copy of the cookie taken before logout, replayed as an attacker would.
    with httpx.Client(base_url=running.url, cookies={"cartwise_session": cookie}) as replay:
        error_body(replay.get("/api/v1/me"), 401)
        created = replay.post(
            "/api/v1/keys", json={"scope": "admin", "name": "stolen"}, headers={"X-CSRF-Token": csrf}
        )
        error_body(created, 401)
        assert replay.get("/overview").status_code == 303  # back to the sign-in page
    with running.client("admin") as admin:
        assert "stolen" not in {k["name"] for k in admin.get("/api/v1/keys").json()}


def test_the_cookie_holds_a_random_token_and_the_store_only_its_hash(running: Running) -> None:
    with _signed_in(running.url, username="alice", password=PASSWORD) as (c, _csrf):
        cookie = c.cookies["cartwise_session"]
    assert "alice" not in cookie and len(cookie) >= 40
    with running.client("admin") as admin:
        listed = admin.get("/api/v1/sessions").json()
    assert all(cookie not in json.dumps(s) for s in listed)
    raw = b"".join(p.read_bytes() for p in running.db.parent.glob(running.db.name + "*"))
    assert cookie.encode() not in raw


def test_admins_list_and_end_sessions(running: Running) -> None:
    with (
        _signed_in(running.url, username="alice", password=PASSWORD) as (c, _csrf),
        running.client("admin") as admin,
    ):
        mine = c.get("/api/v1/sessions").json()
        current = [s for s in mine if s["current"]]
        assert len(current) == 1 and current[0]["kind"] == "user" and current[0]["name"] == "alice"
        session_id = current[0]["session_id"]
        assert current[0]["ended_at"] is None
        ended = admin.delete(f"/api/v1/sessions/{session_id}")
        assert ended.status_code == 200, ended.text
        assert ended.json()["ended_reason"] == "ended by an admin" and ended.json()["ended_at"]
        error_body(c.get("/api/v1/me"), 401)
        assert session_id not in {s["session_id"] for s in admin.get("/api/v1/sessions").json()}
        every = {s["session_id"]: s for s in admin.get("/api/v1/sessions", params={"all": "true"}).json()}
        assert every[session_id]["ended_at"] is not None
        assert "users-admin sessions" in error_body(admin.delete("/api/v1/sessions/nope"), 404)["message"]
    with running.client("read") as reader:
        error_body(reader.get("/api/v1/sessions"), 403)


def test_revoking_the_key_a_session_was_opened_with_ends_it(running: Running) -> None:
    with running.client("admin") as admin:
        key = admin.post("/api/v1/keys", json={"scope": "admin", "name": "short-admin"}).json()
        with _signed_in(running.url, key=key["key"]) as (c, _csrf):
            assert c.get("/api/v1/me").json()["kind"] == "key"
            admin.delete(f"/api/v1/keys/{key['key_id']}")
            error_body(c.get("/api/v1/me"), 401)
        reasons = {s["name"]: s["ended_reason"] for s in admin.get("/api/v1/sessions?all=true").json()}
        assert reasons["short-admin"] == "key revoked"


def _me(url: str, cookie: str) -> httpx.Response:
    with httpx.Client(base_url=url, cookies={"cartwise_session": cookie}) as c:
        return c.get("/api/v1/me")


def test_a_restart_keeps_sessions_but_not_those_of_a_removed_user_or_a_new_password(tmp_path: Path) -> None:
    run = start(tmp_path)
    db = str(run.db)
    with run:
        with _signed_in(run.url, username="alice", password=PASSWORD) as (c, _):
            alice = c.cookies["cartwise_session"]
        # While the server runs it holds the store: user changes go through a stopped server.
        assert CliRunner().invoke(users_admin, ["remove", "alice", "--db", db]).exit_code != 0
    _cli(["add", "bob", "--password-stdin", "--db", db], stdin="bob's long password\n")

    with ServerProcess(run.db, log_path=run.log_path, env=SERVER_ENV) as server:
        assert _me(server.url, alice).json()["name"] == "alice"  # survived the restart
        with _signed_in(server.url, username="bob", password="bob's long password") as (c, _):
            bob = c.cookies["cartwise_session"]

    live = _cli(["sessions", "--db", db])["sessions"]
    assert sorted(s["name"] for s in live) == ["alice", "bob"]  # type: ignore[union-attr]
    assert _cli(["remove", "alice", "--db", db])["sessions_ended"] == 1
    changed = _cli(["add", "bob", "--password-stdin", "--db", db], stdin="a new long password\n")
    assert changed["sessions_ended"] == 1
    assert _cli(["sessions", "--db", db])["sessions"] == []
    ended = _cli(["sessions", "--all", "--db", db])["sessions"]
    assert {s["name"]: s["ended_reason"] for s in ended} == {  # type: ignore[union-attr]
        "alice": "user removed",
        "bob": "password changed",
    }

    with ServerProcess(run.db, log_path=run.log_path, env=SERVER_ENV) as server:
        error_body(_me(server.url, alice), 401)
        error_body(_me(server.url, bob), 401)
        with _signed_in(server.url, username="bob", password="a new long password") as (c, _):
            assert c.get("/api/v1/me").json()["name"] == "bob"


def test_end_session_cli_ends_one_or_all_of_a_user(tmp_path: Path) -> None:
    run = start(tmp_path)
    db = str(run.db)
    with run:
        cookies = []
        for _ in range(3):
            with _signed_in(run.url, username="alice", password=PASSWORD) as (c, _):
                cookies.append(c.cookies["cartwise_session"])
    ids = [s["session_id"] for s in _cli(["sessions", "--db", db])["sessions"]]  # type: ignore[union-attr]
    assert len(ids) == 3
    assert _cli(["end-session", ids[0], "--db", db])["ended"] == [ids[0]]
    assert sorted(_cli(["end-session", "--user", "alice", "--db", db])["ended"]) == sorted(ids[1:])  # type: ignore[arg-type]
    missing = CliRunner().invoke(users_admin, ["end-session", "nope", "--db", db])
    assert missing.exit_code != 0 and "users-admin sessions" in str(missing.exception)
    neither = CliRunner().invoke(users_admin, ["end-session", "--db", db])
    assert neither.exit_code == 2 and "SESSION_ID or --user" in neither.output
    with ServerProcess(run.db, log_path=run.log_path, env=SERVER_ENV) as server:
        for cookie in cookies:
            error_body(_me(server.url, cookie), 401)
