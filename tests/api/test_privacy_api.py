"""Deleting events and erasing a customer through a real server: admin only, through the
service's writer, and what the collector just acknowledged is included."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from service_support import Running, serve_shop
from test_hostile_timestamps import _fill

WHO = "carol/1"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run = serve_shop(tmp_path_factory.mktemp("privacy"), _fill)
    try:
        yield run
    finally:
        run.server.stop()


def test_deleting_the_far_future_events_mends_the_kpis(running: Running) -> None:
    with running.client("read") as client:
        assert client.post("/api/v1/events/delete", json={"start": "2099-01-01"}).status_code == 403
    with running.client("admin") as client:
        assert client.post("/api/v1/events/delete", json={}).status_code == 400
        response = client.post("/api/v1/events/delete", json={"start": "2099-01-01"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["deleted"] == {"events": 9, "orders": 3, "order_lines": 0} and body["rollup_rebuilt"]
        periods = client.get("/api/v1/analytics/kpis", params={"grain": "day"}).json()["periods"]
    assert periods[-1]["period_start"].startswith("2025-")


def test_forget_erases_a_customer_the_collector_just_acknowledged(running: Running) -> None:
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    events = [
        {
            "event_id": f"carol-{n}",
            "user_id": WHO,
            "type": "view",
            "ts": (now + timedelta(seconds=n)).isoformat() + "Z",
        }
        for n in range(5)
    ]
    with running.client("collect") as client:
        assert client.post("/api/v1/events", json={"events": events}).status_code == 202
    with running.client("read") as client:
        users_before = client.get("/api/v1/live").json()["windows"]["1h"]["active_users"]
    path = f"/api/v1/customers/{quote(WHO, safe='')}"
    with running.client("read") as client:
        assert client.delete(path).status_code == 403
        assert client.get(path + "/export").status_code == 403
    with running.client("admin") as client:
        held = client.get(path + "/export").json()
        forgotten = client.delete(path).json()
        again = client.delete(path).json()
        after = client.get(path + "/export").json()
    # The export may run before the writer stored the events; the erasure settles the log first.
    assert held["user_id"] == WHO
    assert forgotten["removed"]["events"] == 5 and forgotten["total"] == 5
    assert again["total"] == 0 and again["subject_hash"] == forgotten["subject_hash"]
    assert after["tables"] == {}
    with running.client("read") as client:
        # The live windows forgot her too (the seeded events of this store are older than a day).
        assert client.get("/api/v1/live").json()["windows"]["1h"]["active_users"] == users_before - 1
    log = running.db.with_name(running.db.stem + "_eventlog")
    assert not any(WHO.encode() in p.read_bytes() for p in log.glob("segment-*.jsonl"))


def _recent_events(prefix: str, user: str, n: int) -> list[dict[str, object]]:
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=3)
    return [
        {
            "event_id": f"{prefix}-{k}",
            "user_id": user,
            "type": "view",
            "ts": (now + timedelta(seconds=k)).isoformat() + "Z",
        }
        for k in range(n)
    ]


def _send(running: Running, events: list[dict[str, object]]) -> dict[str, object]:
    with running.client("collect") as client:
        response = client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


def _held_events(running: Running, user: str, expect: int) -> list[str]:
    """The customer's stored event ids, once the collector's writer has stored `expect` of them."""
    deadline = time.monotonic() + 30
    while True:
        with running.client("admin") as client:
            tables = client.get(f"/api/v1/customers/{user}/export").json()["tables"]
        held = sorted(e["event_id"] for e in tables.get("events", []))
        if len(held) >= expect or time.monotonic() > deadline:
            return held
        time.sleep(0.1)


def test_deleted_events_sent_again_are_new_not_duplicates(running: Running) -> None:
    events = _recent_events("gone", "dave", 4)
    assert (_send(running, events)["accepted"], _send(running, events)["duplicates"]) == (4, 4)
    with running.client("admin") as client:
        response = client.post("/api/v1/events/delete", json={"event_ids": ["gone-0", "gone-1"]})
    assert response.status_code == 200 and response.json()["deleted"]["events"] == 2, response.text
    again = _send(running, events)
    # The two deleted ones are stored anew; the two kept are still repeats.
    assert (again["accepted"], again["duplicates"]) == (2, 2)
    assert _held_events(running, "dave", 4) == ["gone-0", "gone-1", "gone-2", "gone-3"]


def test_an_erased_customers_events_sent_again_are_new(running: Running) -> None:
    events = _recent_events("erased", "erin", 3)
    assert _send(running, events)["accepted"] == 3
    with running.client("admin") as client:
        assert client.delete("/api/v1/customers/erin").json()["removed"]["events"] == 3
    # Her phone sends the batch again (its answer was lost): the store holds none of it now.
    again = _send(running, events)
    assert (again["accepted"], again["duplicates"]) == (3, 0)
    assert _held_events(running, "erin", 3) == ["erased-0", "erased-1", "erased-2"]


def test_a_bad_deletion_filter_names_the_body_field_not_a_cli_flag(running: Running) -> None:
    with running.client("admin") as client:
        bad_time = client.post("/api/v1/events/delete", json={"start": "yesterday"})
        reversed_range = client.post(
            "/api/v1/events/delete", json={"start": "2025-03-01", "end": "2025-02-01"}
        )
    for response, field in ((bad_time, "start"), (reversed_range, "end")):
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["parameter"] == field and "--" not in body["message"], body
        assert body["message"].startswith(f"`{field}`: ")
