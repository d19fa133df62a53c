"""The bodies posthog-js (the browser SDK) posts, sent with httpx to a real server on loopback.

posthog-js (src/request.ts) encodes a request one of three ways and adds `?compression=`,
`ver=` and `_=` to the URL: `gzip-js` (the JSON gzipped, `Content-Type: text/plain`, no
`Content-Encoding`), `base64` (a form body `data=` + URL-encoded base64 of the JSON) or plain
JSON. A batch is a JSON array whose events carry `offset` (ms before sending) instead of a
`timestamp` (src/request-queue.ts), and the project key is each event's `properties.token`.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import httpx
import pytest
from service_support import Running, serve_shop

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _empty(store: object) -> None:
    return None


@pytest.fixture
def served(tmp_path: Path) -> Running:
    return serve_shop(tmp_path, _empty)


def _event(key: str, name: str, distinct: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "event": name,
        "properties": {"token": key, "distinct_id": distinct, "$lib": "web", **(properties or {})},
    }


def _landed(run: Running, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(run.db), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_base64_gzip_js_and_form_bodies_land(served: Running) -> None:
    with served as run:
        key = run.keys["collect"]
        anonymous = {"$device_id": "anon-js", "$is_identified": False, "$session_id": "s-js"}
        # A batch as posthog-js's queue sends it: an array, `offset` instead of `timestamp`.
        batch = [
            {
                **_event(key, "$pageview", "anon-js", {**anonymous, "$current_url": "https://shop.example/"}),
                "offset": 60_000,
            },
            {
                **_event(
                    key, "Product Viewed", "anon-js", {**anonymous, "product_id": "sku-7", "price": 12.5}
                ),
                "offset": 30_000,
            },
        ]
        sent = datetime.now(UTC).replace(tzinfo=None)
        b64 = base64.b64encode(json.dumps(batch).encode()).decode()
        response = httpx.post(
            f"{run.url}/e/?compression=base64&ver=1.236.0&_=1733560000000",
            content="data=" + quote(b64, safe=""),
            headers=FORM,
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 2 and response.json()["rejected"] == []
        # gzip-js: the gzipped JSON with no Content-Encoding header; one event with its timestamp.
        single = {
            **_event(key, "Product Added", "anon-js", {**anonymous, "product_id": "sku-7", "quantity": 1}),
            "timestamp": (sent - timedelta(seconds=10)).isoformat() + "Z",
        }
        response = httpx.post(
            f"{run.url}/i/v0/e/?compression=gzip-js&ver=1.236.0",
            content=gzip.compress(json.dumps(single).encode(), mtime=0),
            headers={"Content-Type": "text/plain"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1
        # Without compression posthog-js's older versions send a plain `data=` form field;
        # `$set` (the traits) sits beside `properties`, as posthog-js's identify() writes it.
        identify = {
            **_event(key, "$identify", "cust-js", {"$anon_distinct_id": "anon-js"}),
            "$set": {"email": "jo@example.com"},
            "timestamp": sent.isoformat() + "Z",
        }
        response = httpx.post(
            f"{run.url}/e/?ver=1.236.0",
            content="data=" + quote(json.dumps([identify]), safe=""),
            headers=FORM,
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1
    events = _landed(run, "SELECT type, user_id, item_id, session_id, ts, properties FROM events ORDER BY ts")
    assert [e[0] for e in events] == ["page", "view", "add_to_cart", "identify"]
    assert {e[1] for e in events} == {"cust-js"}  # the anonymous browsing follows the customer
    assert events[1][2] == "sku-7" and events[0][3] == "s-js"
    # `offset` dates an event before the request was sent (a few seconds of slack for the round trip).
    assert abs((sent - timedelta(seconds=60) - events[0][4]).total_seconds()) < 5
    assert abs((sent - timedelta(seconds=30) - events[1][4]).total_seconds()) < 5
    assert all(key not in (e[5] or "") for e in events)  # the project key is not stored
    assert _landed(run, "SELECT email FROM users WHERE user_id = 'cust-js'") == [("jo@example.com",)]


def test_bodies_that_cannot_be_read_are_refused_with_the_reason(served: Running) -> None:
    with served as run:
        key = run.keys["collect"]
        event = {**_event(key, "$pageview", "anon-x"), "timestamp": "2026-11-20T10:00:00Z"}
        bad_base64 = httpx.post(f"{run.url}/e/?compression=base64", content="data=not*base64!", headers=FORM)
        assert bad_base64.status_code == 400
        assert "base64" in bad_base64.text
        lz64 = httpx.post(
            f"{run.url}/e/?compression=lz64", content="data=" + quote(json.dumps(event)), headers=FORM
        )
        assert lz64.status_code == 400
        assert "lz64" in lz64.text
        not_gzip = httpx.post(
            f"{run.url}/e/?compression=gzip-js", content=b"{}", headers={"Content-Type": "text/plain"}
        )
        assert not_gzip.status_code == 400
        wrong_key = {**event, "properties": {**event["properties"], "token": "not-a-key"}}
        refused = httpx.post(f"{run.url}/e/", json=[wrong_key])
        assert refused.status_code == 401
        bad_offset = {k: v for k, v in event.items() if k != "timestamp"} | {"offset": "soon"}
        answer = httpx.post(f"{run.url}/e/", json=[event, bad_offset])
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 1
        assert [r["index"] for r in answer.json()["rejected"]] == [1]
        assert "offset" in answer.json()["rejected"][0]["reason"]
