"""Journeys through a real `cartwise serve` and a real SMTP server on loopback: the issue's
contract file applied over the API, events collected over HTTP, messages read at the sink."""

from __future__ import annotations

import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from .smtp_support import SmtpServer, make_shop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from service_support import SERVER_ENV, Running, ServerProcess, serve_shop

CONTRACT = """\
name: abandoned-cart
trigger: {event: add_to_cart}
exit_on: [{event: purchase}]
steps:
  - wait: 2s
  - send: {channel: email, template: abandoned_cart}
"""


def _prepare(store: Any) -> None:
    make_shop(store, 10, consent=lambda i: i != 9)  # u00009 gave no e-mail consent
    store.append(
        "items",
        pa.table({"item_id": ["sku-1"], "title": ["Chef knife"], "price": [49.5]}),
    )


def _event(user: str, kind: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "ts": datetime.now(UTC).isoformat(),
        "user_id": user,
        "type": kind,
        "item_id": "sku-1",
        "price": 49.5,
    }


def _collect(run: Running, *events: dict[str, Any]) -> None:
    with run.client("collect") as c:
        response = c.post("/api/v1/events", json={"events": list(events)})
    assert response.status_code == 202 and response.json()["accepted"] == len(events), response.text


def _to(smtp: SmtpServer, user: str) -> list[Any]:
    return [m for m in smtp.sink.messages if m["To"] == f"{user}@example.test"]


def _until(check: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, SmtpServer]]:
    smtp = SmtpServer().start()
    env = {"CARTWISE_SMTP_PORT": str(smtp.port), "CARTWISE_SMTP_FROM": "shop@cartwise.test"}
    try:
        with serve_shop(tmp_path_factory.mktemp("journeys"), _prepare, env=env) as run:
            with run.client("read") as reader:
                assert reader.put("/api/v1/journeys/abandoned-cart", content=CONTRACT).status_code == 403
            with run.client("admin") as admin:
                applied = admin.put(
                    "/api/v1/journeys/abandoned-cart",
                    content=CONTRACT,
                    headers={"Content-Type": "application/yaml"},
                )
            assert applied.status_code == 200, applied.text
            assert applied.json() == {"journey": "abandoned-cart", "version": 1, "changed": True}
            yield run, smtp
    finally:
        smtp.stop()


def test_add_to_cart_sends_exactly_one_message_about_two_seconds_later(
    served: tuple[Running, SmtpServer],
) -> None:
    run, smtp = served
    began = time.monotonic()
    _collect(run, _event("u00000", "add_to_cart"))
    assert _until(lambda: len(_to(smtp, "u00000")) == 1, 15)
    latency = time.monotonic() - began
    assert 1.9 <= latency < 6, latency  # the 2 s wait, fired by its timer (not a minute poll)
    time.sleep(2.5)
    messages = _to(smtp, "u00000")
    assert len(messages) == 1 and messages[0]["Subject"] == "You left something in your cart"
    assert "Chef knife" in messages[0].as_string()


def test_a_purchase_within_the_wait_exits(served: tuple[Running, SmtpServer]) -> None:
    run, smtp = served
    _collect(run, _event("u00001", "add_to_cart"))
    time.sleep(0.5)
    _collect(run, _event("u00001", "purchase"))
    _collect(run, _event("u00002", "add_to_cart"))  # a control started after: it gets its message
    assert _until(lambda: len(_to(smtp, "u00002")) == 1, 15)
    time.sleep(1.0)
    assert _to(smtp, "u00001") == []


def test_no_consent_is_skipped_with_its_reason_and_counted(served: tuple[Running, SmtpServer]) -> None:
    run, smtp = served
    _collect(run, _event("u00009", "add_to_cart"))

    def counted() -> bool:
        with run.client("read") as reader:
            body = reader.get("/api/v1/journeys/abandoned-cart").json()
        steps = {s["path"]: s["counts"] for s in body["versions"][0]["steps"]}
        return steps.get("1", {}).get("skipped:no_consent", 0) == 1

    assert _until(counted, 15)
    assert _to(smtp, "u00009") == []
    with run.client("read") as reader:
        listed = reader.get("/api/v1/journeys").json()["journeys"]
    assert [j["journey"] for j in listed] == ["abandoned-cart"]
    assert listed[0]["trigger"] == {"kind": "event", "value": "add_to_cart", "where": None}


def test_versions_and_bad_files_over_the_api(served: tuple[Running, SmtpServer]) -> None:
    run, _smtp = served
    with run.client("admin") as admin:
        same = admin.put("/api/v1/journeys/abandoned-cart", content=CONTRACT).json()
        bad = admin.put("/api/v1/journeys/abandoned-cart", content=CONTRACT.replace("wait: 2s", "wait: soon"))
        wrong_name = admin.put("/api/v1/journeys/other", content=CONTRACT)
        checked = admin.post(
            "/api/v1/journeys/validate", content=CONTRACT.replace("abandoned_cart}", "nope}")
        )
    assert same == {"journey": "abandoned-cart", "version": 1, "changed": False}
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("`steps[0].wait`: line 5: 'soon' is not a duration")
    assert wrong_name.status_code == 400 and wrong_name.json()["parameter"] == "name"
    assert checked.status_code == 400 and "unknown template 'nope'" in checked.json()["message"]


def test_a_crash_and_restart_during_the_wait_still_sends_once(tmp_path: Path, smtp: SmtpServer) -> None:
    env = {"CARTWISE_SMTP_PORT": str(smtp.port), "CARTWISE_SMTP_FROM": "shop@cartwise.test"}
    with serve_shop(tmp_path, _prepare, env=env) as run:
        with run.client("admin") as admin:
            slow = CONTRACT.replace("wait: 2s", "wait: 4s")
            assert admin.put("/api/v1/journeys/abandoned-cart", content=slow).status_code == 200
        _collect(run, _event("u00003", "add_to_cart"))
        time.sleep(1.0)  # the run is waiting, its timer in the store
        run.server.stop(sig=signal.SIGKILL)  # a crash, not a clean stop
        assert _to(smtp, "u00003") == []
        second = ServerProcess(run.db, log_path=tmp_path / "server2.log", env={**SERVER_ENV, **env}).start()
        try:
            assert _until(lambda: len(_to(smtp, "u00003")) == 1, 20)
            time.sleep(2.0)
        finally:
            second.stop()
    assert len(_to(smtp, "u00003")) == 1
