"""Sign-in attempts are limited per user name and per client address, against a real server."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_support import PASSWORD, SERVER_ENV, seed_store

from cartwise.core.settings import get_settings
from cartwise.service import keys as keys_job
from cartwise.service.server_process import ServerProcess
from cartwise.store import open_store

CAROL = "carol's long password"

LIMITS = {"CARTWISE_LOGIN_ATTEMPTS_PER_USER": "3", "CARTWISE_LOGIN_ATTEMPTS_PER_ADDRESS": "6"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The server's URL and an admin key; users `alice` and `carol`."""
    tmp = tmp_path_factory.mktemp("limits")
    db = tmp / "shop.duckdb"
    keys, _ids = seed_store(db)
    with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as store:
        keys_job.add_user(store, "carol", CAROL)
    with ServerProcess(db, log_path=tmp / "server.log", env={**SERVER_ENV, **LIMITS}) as server:
        yield server.url, keys["admin"]


@pytest.fixture
def url(served: tuple[str, str]) -> str:
    return served[0]


def _login(url: str, address: str, **form: str) -> httpx.Response:
    # The server trusts X-Forwarded-For from 127.0.0.1, as from a proxy on the same host.
    with httpx.Client(base_url=url, headers={"X-Forwarded-For": address}) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        return c.post("/login", data={"csrf_token": token.group(1), **form})


def _refused(response: httpx.Response, who: str) -> int:
    assert response.status_code == 429, response.text
    assert f"Too many sign-in attempts for {who}" in response.text
    assert "cartwise_session" not in response.headers.get("set-cookie", "")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 15 * 60
    return retry_after


def test_a_user_name_is_locked_after_its_failures_even_for_the_right_password(url: str) -> None:
    for n in range(3):
        wrong = _login(url, f"10.1.0.{n}", username="alice", password="wrong password")
        assert wrong.status_code == 401
    # The probe: many wrong passwords, then the right one; from any address.
    _refused(_login(url, "10.1.0.9", username="alice", password=PASSWORD), "this user name")
    # A name that does not exist is limited the same way, so the limit tells nothing about names.
    for _ in range(3):
        assert _login(url, "10.1.1.1", username="nobody", password="guess").status_code == 401
    _refused(_login(url, "10.1.1.2", username="nobody", password="guess"), "this user name")


def test_an_address_is_limited_whatever_names_it_tries(url: str) -> None:
    for n in range(6):
        assert _login(url, "10.2.0.1", username=f"user-{n}", password="guess").status_code == 401
    _refused(_login(url, "10.2.0.1", username="another", password="guess"), "your address")
    _refused(_login(url, "10.2.0.1", key="cw_0000_guess"), "your address")
    assert _login(url, "10.2.0.2", username="another", password="guess").status_code == 401


def test_successful_sign_ins_are_not_counted(served: tuple[str, str]) -> None:
    url, admin_key = served
    for _ in range(8):  # more than the address's limit
        assert _login(url, "10.4.0.1", key=admin_key).status_code == 303
    # A success clears the name's failures (3 allowed), not the address's (6 allowed).
    for _ in range(2):
        assert _login(url, "10.4.0.2", username="carol", password="typo").status_code == 401
        assert _login(url, "10.4.0.2", username="carol", password="typo again").status_code == 401
        assert _login(url, "10.4.0.2", username="carol", password=CAROL).status_code == 303


def test_a_refused_attempt_hashes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In process, to count the scrypt calls the sign-in route makes: the limit is checked first.
    from fastapi.testclient import TestClient

    from cartwise.api import create_app

    settings = get_settings(
        db=tmp_path / "shop.duckdb", memory_limit="512MB", threads=1, login_attempts_per_user=2
    )
    with open_store(settings.db, settings=settings) as store:
        keys_job.add_user(store, "alice", CAROL)
    calls = []
    real = hashlib.scrypt

    def counting(password: bytes, **kw: Any) -> bytes:
        calls.append(1)
        return real(password, **kw)

    with TestClient(create_app(settings)) as c:
        monkeypatch.setattr(keys_job.hashlib, "scrypt", counting)
        statuses = []
        for _ in range(5):
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
            assert token
            form = {"csrf_token": token.group(1), "username": "alice", "password": "wrong password"}
            statuses.append(c.post("/login", data=form, follow_redirects=False).status_code)
    assert statuses == [401, 401, 429, 429, 429]
    assert len(calls) == 2
