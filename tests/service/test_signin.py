"""Sign-in limits, the hashing cap and equal work for unknown and known user names."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cartwise.core.errors import SignInBusy
from cartwise.core.settings import get_settings
from cartwise.service import keys as keys_job
from cartwise.service.service import Service
from cartwise.service.signin import SignInLimiter
from cartwise.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limiter(clock: Clock, **kw: Any) -> SignInLimiter:
    options = {"per_user": 3, "per_address": 5, "window_seconds": 60.0, "concurrency": 1, **kw}
    return SignInLimiter(clock=clock, **options)


def test_a_user_name_is_refused_after_its_limit_until_the_window_moves_on() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    for _ in range(3):
        assert limiter.admit("alice", "10.0.0.1") is None
        clock.now += 10
    refused = limiter.admit("alice", "10.0.0.2")  # another address does not help
    assert refused is not None and refused.limit == "user"
    assert refused.retry_after == 30  # the first attempt leaves the window at 1060; now is 1030
    assert "this user name" in refused.message and "30 s" in refused.message
    assert limiter.admit("bob", "10.0.0.2") is None  # other names are not affected
    clock.now = 1060.0
    assert limiter.admit("alice", "10.0.0.1") is None


def test_an_address_is_refused_after_its_limit_whatever_the_names() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    for i in range(5):
        assert limiter.admit(f"user-{i}", "10.0.0.9") is None
    refused = limiter.admit("user-new", "10.0.0.9")
    assert refused is not None and refused.limit == "address" and refused.retry_after == 60
    assert limiter.admit(None, "10.0.0.9") is not None  # key sign-ins count per address too
    assert limiter.admit("user-new", "10.0.0.10") is None


def test_a_success_does_not_count_and_clears_the_names_failures() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    for _ in range(2):
        limiter.admit("alice", "10.0.0.1")
    limiter.admit("alice", "10.0.0.1")
    limiter.succeeded("alice", "10.0.0.1")
    for _ in range(3):
        assert limiter.admit("alice", "10.0.0.1") is None
    assert limiter.admit("alice", "10.0.0.1") is not None


def test_password_checks_never_run_more_than_the_cap_at_once() -> None:
    limiter = _limiter(Clock(), concurrency=2)
    running = peak = 0
    lock = threading.Lock()

    def check() -> None:
        nonlocal running, peak
        with limiter.hashing():
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.05)
            with lock:
                running -= 1

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_a_full_cap_answers_busy_instead_of_queueing_forever() -> None:
    limiter = _limiter(Clock(), concurrency=1, wait_seconds=0.05)
    with limiter.hashing(), pytest.raises(SignInBusy, match="try again"), limiter.hashing():
        pass


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every hashlib.scrypt call made through cartwise.service.keys, with its cost parameters."""
    calls: list[dict[str, Any]] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kw: Any) -> bytes:
        calls.append({"n": kw["n"], "r": kw["r"], "p": kw["p"], "dklen": kw.get("dklen", 64)})
        return real(password, **kw)

    monkeypatch.setattr(keys_job.hashlib, "scrypt", counting)
    return calls


def test_unknown_and_known_user_names_cost_the_same_scrypt(store: Store, scrypt_calls: list[Any]) -> None:
    keys_job.add_user(store, "alice", "a long password")
    scrypt_calls.clear()
    assert not keys_job.verify_user(store, "alice", "wrong password")
    known = list(scrypt_calls)
    scrypt_calls.clear()
    assert not keys_job.verify_user(store, "mallory", "wrong password")
    unknown = list(scrypt_calls)
    assert len(known) == 1 and known == unknown  # one scrypt each, same n, r, p and length
    assert known[0]["n"] == 2**14 and known[0]["dklen"] == 64
    scrypt_calls.clear()
    assert keys_job.verify_user(store, "alice", "a long password")
    assert len(scrypt_calls) == 1
    # The dummy hash matches no password, so an unknown name never signs in, even with ''.
    assert not keys_job.check_user_password(None, "")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = get_settings(
        db=tmp_path / "shop.duckdb", memory_limit="512MB", threads=1, login_hash_concurrency=1
    )
    svc = Service(settings)
    svc.start()
    try:
        with svc.require_gate() as s:
            keys_job.add_user(s, "alice", "a long password")
        yield svc
    finally:
        svc.stop()


def test_the_service_checks_passwords_outside_the_store_lock(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A password check must not hold the store: the collector's writer would wait on scrypt.
    gate = service.require_gate()
    store_free = []
    real = hashlib.scrypt

    def probing(password: bytes, **kw: Any) -> bytes:
        entered = threading.Event()

        def enter() -> None:
            with gate:
                entered.set()

        other = threading.Thread(target=enter)
        other.start()
        store_free.append(entered.wait(timeout=2))  # another thread gets the store meanwhile
        result = real(password, **kw)
        other.join()
        return result

    monkeypatch.setattr(keys_job.hashlib, "scrypt", probing)
    assert service.verify_user("alice", "a long password")
    assert store_free == [True]
