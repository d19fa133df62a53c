"""Keys, scopes, sessions and CSRF against a real server; secrets never logged or stored in clear."""

from __future__ import annotations

import re

import httpx
import pytest
from service_support import PASSWORD, Running


def _assert_json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert body["message"]


def test_no_key_is_401(running: Running) -> None:
    with running.client() as c:
        _assert_json_error(c.get("/api/v1/live"), 401, "unauthorized")
        _assert_json_error(
            c.post("/api/v1/events", json={"events": [{"ts": "2026-01-01", "user_id": "u", "type": "view"}]}),
            401,
            "unauthorized",
        )
        assert "keys create" in c.get("/api/v1/live").json()["message"]


@pytest.mark.parametrize(
    "header",
    ["Bearer cw_0000_notakey", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer"],
)
def test_wrong_key_is_401(running: Running, header: str) -> None:
    with httpx.Client(base_url=running.url, headers={"Authorization": header}) as c:
        _assert_json_error(c.get("/api/v1/live"), 401, "unauthorized")


def test_a_tampered_key_is_401(running: Running) -> None:
    key = running.keys["admin"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    with httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {tampered}"}) as c:
        _assert_json_error(c.get("/api/v1/live"), 401, "unauthorized")


def test_revoked_key_is_401(running: Running) -> None:
    with running.client("revoked") as c:
        _assert_json_error(c.get("/api/v1/live"), 401, "unauthorized")


def test_revoking_through_the_api_takes_effect_at_once(running: Running) -> None:
    with running.client("admin") as admin:
        created = admin.post("/api/v1/keys", json={"scope": "read", "name": "short-lived"})
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["key_id"]
        with httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {key}"}) as c:
            assert c.get("/api/v1/live").status_code == 200
            assert admin.delete(f"/api/v1/keys/{key_id}").json()["revoked_at"] is not None
            _assert_json_error(c.get("/api/v1/live"), 401, "unauthorized")
        listed = {k["key_id"]: k for k in admin.get("/api/v1/keys").json()}
        assert listed[key_id]["revoked_at"] is not None
        assert all("key" not in k for k in listed.values())


def test_collect_key_may_only_send_events(running: Running) -> None:
    with running.client("collect") as c:
        for path in ("/api/v1/live", "/api/v1/pages/overview", "/api/v1/pages", "/api/v1/keys"):
            _assert_json_error(c.get(path), 403, "forbidden")
        assert (
            "needs `read`" in c.get("/api/v1/live").json()["message"]
            or "needs `admin`" in c.get("/api/v1/keys").json()["message"]
        )
        ok = c.post(
            "/api/v1/events",
            json={"events": [{"ts": "2026-11-01T00:00:00Z", "user_id": "u9", "type": "view"}]},
        )
        assert ok.status_code == 202


def test_read_key_may_not_send_events_or_manage_keys(running: Running) -> None:
    with running.client("read") as c:
        assert c.get("/api/v1/live").status_code == 200
        _assert_json_error(
            c.post("/api/v1/events", json={"events": [{"ts": "2026-11-01", "user_id": "u", "type": "view"}]}),
            403,
            "forbidden",
        )
        _assert_json_error(
            c.post("/api/v1/keys", json={"scope": "admin", "name": "escalate"}), 403, "forbidden"
        )


def _login(c: httpx.Client, **form: str) -> httpx.Response:
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return c.post("/login", data={"csrf_token": token.group(1), **form})


def test_password_login_sets_a_session_and_wrong_password_is_refused(running: Running) -> None:
    with httpx.Client(base_url=running.url) as c:
        wrong = _login(c, username="alice", password="not the password")
        assert wrong.status_code == 401
        assert "Wrong user name or password" in wrong.text
        assert "cartwise_session" not in c.cookies
        ok = _login(c, username="alice", password=PASSWORD)
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite")
        assert c.get("/api/v1/me").json() == {"kind": "user", "name": "alice", "scope": "admin"}
        assert c.get("/overview").status_code == 200


def test_login_form_needs_its_csrf_token(running: Running) -> None:
    with httpx.Client(base_url=running.url) as c:
        c.get("/login")
        response = c.post("/login", data={"csrf_token": "forged", "username": "alice", "password": PASSWORD})
        assert response.status_code == 403
        assert "cartwise_session" not in response.headers.get("set-cookie", "")


def test_session_requests_that_change_things_need_the_csrf_header(running: Running) -> None:
    with httpx.Client(base_url=running.url) as c:
        assert _login(c, username="alice", password=PASSWORD).status_code == 303
        _assert_json_error(c.post("/api/v1/keys", json={"scope": "read", "name": "x"}), 403, "forbidden")
        page = c.get("/overview").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        created = c.post(
            "/api/v1/keys",
            json={"scope": "read", "name": "from-dashboard"},
            headers={"X-CSRF-Token": token.group(1)},
        )
        assert created.status_code == 201


def test_a_signed_in_session_posts_events_only_with_the_csrf_header(running: Running) -> None:
    # Without an Authorization header the request takes the routed path (the API-key lane
    # passes it on); the session's CSRF check applies there.
    event = {"ts": "2026-01-01T10:00:00Z", "user_id": "u-csrf", "type": "view"}
    with httpx.Client(base_url=running.url) as c:
        assert _login(c, username="alice", password=PASSWORD).status_code == 303
        _assert_json_error(c.post("/api/v1/events", json={"events": [event]}), 403, "forbidden")
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/overview").text)
        assert token
        sent = c.post("/api/v1/events", json={"events": [event]}, headers={"X-CSRF-Token": token.group(1)})
        assert sent.status_code == 202 and sent.json()["accepted"] == 1


def test_admin_key_login_and_non_admin_key_refused(running: Running) -> None:
    with httpx.Client(base_url=running.url) as c:
        assert _login(c, key=running.keys["read"]).status_code == 401
        assert _login(c, key=running.keys["admin"]).status_code == 303
        assert c.get("/api/v1/me").json()["kind"] == "key"


def test_pages_redirect_to_login_without_a_session(running: Running) -> None:
    with httpx.Client(base_url=running.url) as c:
        response = c.get("/overview")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/overview"


def test_login_does_not_redirect_off_site(running: Running) -> None:
    with httpx.Client(base_url=running.url) as c:
        response = _login(c, username="alice", password=PASSWORD, next="//evil.example/")
        assert response.headers["location"] == "/overview"


def _secret(key: str) -> str:
    """The secret part of `cw_<key id>_<secret>`; the secret itself may contain `_`."""
    prefix, _key_id, secret = key.split("_", 2)
    assert prefix == "cw" and len(secret) >= 32
    return secret


def test_nothing_secret_in_the_log_or_the_store(running: Running) -> None:
    # Exercise logins and keyed requests first, so the log has had the chance to leak.
    with httpx.Client(base_url=running.url) as c:
        _login(c, username="alice", password=PASSWORD)
    with running.client("admin") as c:
        c.get("/api/v1/live")
    log_text = running.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Application startup complete" in log_text  # the log is real, not empty
    for key in running.keys.values():
        assert key not in log_text
        assert _secret(key) not in log_text
    assert PASSWORD not in log_text
    # DuckDB may hold rows in its WAL or pages: search the raw bytes of every store file.
    raw = b"".join(p.read_bytes() for p in running.db.parent.glob(running.db.name + "*"))
    for key in running.keys.values():
        assert _secret(key).encode() not in raw
    assert PASSWORD.encode() not in raw


def test_pages_carry_a_content_security_policy(running: Running) -> None:
    with httpx.Client(base_url=running.url) as c:
        login = c.get("/login")
        assert _login(c, username="alice", password=PASSWORD).status_code == 303
        overview = c.get("/overview")
    for response in (login, overview):
        policy = dict(
            part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";")
        )
        assert policy["script-src"] == "'self'"  # no inline script, no eval
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "<script>" not in overview.text and "onsubmit=" not in overview.text
