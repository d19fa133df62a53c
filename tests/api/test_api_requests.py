"""Bad requests get a clear 4xx JSON error naming the field; good ones get the documented 202."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_support import Running, error_body, now_naive

from cartwise.core.settings import get_settings
from cartwise.service import keys as keys_job
from cartwise.store import open_store


def _event(**overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": str(uuid.uuid4()),
        "ts": now_naive().isoformat() + "Z",
        "user_id": "u-req",
        "type": "view",
        "item_id": "sku-1",
    }
    event.update(overrides)
    return event


def test_invalid_json_is_400(running: Running) -> None:
    with running.client("collect") as c:
        body = error_body(
            c.post("/api/v1/events", content=b'{"events": [', headers={"Content-Type": "application/json"}),
            400,
        )
        assert body["error"] == "invalid_json"
        assert "not valid JSON" in body["message"]


def test_body_over_the_limit_is_413(running: Running) -> None:
    big = b'{"events": [' + b'{"user_id": "' + b"x" * (3 * 1024 * 1024) + b'"}]}'
    with running.client("collect") as c:
        body = error_body(
            c.post("/api/v1/events", content=big, headers={"Content-Type": "application/json"}), 413
        )
        assert "bytes" in body["message"] and "smaller batches" in body["message"]


def test_chunked_body_over_the_limit_is_413(running: Running) -> None:
    def chunks() -> Any:
        yield b'{"events": ['
        for _ in range(40):
            yield b'{"user_id": "' + b"x" * 100_000 + b'"},'
        yield b"{}]}"

    with running.client("collect") as c:
        error_body(
            c.post("/api/v1/events", content=chunks(), headers={"Content-Type": "application/json"}), 413
        )


def test_wrong_types_are_422_naming_the_field(running: Running) -> None:
    with running.client("collect") as c:
        body = error_body(c.post("/api/v1/events", json={"events": "not a list"}), 422)
        assert body["fields"][0]["field"] == "events"
        body = error_body(c.post("/api/v1/events", json=["not", "an", "object"]), 422)
        assert body["fields"]
        body = error_body(c.post("/api/v1/events", json={"events": [1, "two"]}), 422)
        assert {f["field"] for f in body["fields"]} == {"events.0", "events.1"}


def test_1001_events_are_refused(running: Running) -> None:
    with running.client("collect") as c:
        body = error_body(c.post("/api/v1/events", json={"events": [_event() for _ in range(1001)]}), 422)
        assert body["fields"][0]["field"] == "events"
        assert "1001" in body["message"] and "at most 1000" in body["message"]


def test_empty_batch_and_missing_events_are_refused(running: Running) -> None:
    with running.client("collect") as c:
        assert (
            "at least one event" in error_body(c.post("/api/v1/events", json={"events": []}), 422)["message"]
        )
        assert error_body(c.post("/api/v1/events", json={}), 422)["fields"][0] == {
            "field": "events",
            "problem": "is required",
        }


def test_unknown_top_level_field_is_422(running: Running) -> None:
    with running.client("collect") as c:
        body = error_body(c.post("/api/v1/events", json={"events": [_event()], "evnets": []}), 422)
        assert body["fields"] == [
            {
                "field": "evnets",
                "problem": "is not a known field; remove it (event data goes inside `events`, extras in `properties`)",
            }
        ]


def test_bad_events_are_rejected_by_index_and_the_rest_kept(running: Running) -> None:
    good = _event()
    batch = [
        good,
        _event(ts="yesterday-ish"),
        _event(colour="red"),
        {"ts": good["ts"], "type": "view"},
        _event(price=-3.0),
    ]
    with running.client("collect") as c:
        response = c.post("/api/v1/events", json={"events": batch})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1 and body["duplicates"] == 0
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert set(reasons) == {1, 2, 3, 4}
    assert "ts" in reasons[1]
    assert "colour" in reasons[2] and "properties" in reasons[2]
    assert "user_id" in reasons[3]
    assert "price" in reasons[4]


def test_the_collector_takes_the_field_names_file_ingestion_takes(running: Running) -> None:
    # `event_name` and `timestamp` are synonyms of `type` and `ts` for file ingestion (any case).
    renamed = _event()
    renamed["event_name"] = renamed.pop("type")
    renamed["Timestamp"] = renamed.pop("ts")
    both = _event(event_name="view")  # a synonym beside its canonical field is not merged
    with running.client("collect") as c:
        body = c.post("/api/v1/events", json={"events": [renamed, both]}).json()
    # Accepted: validation found its required `type` and `ts` under the other names.
    assert body["accepted"] == 1, body
    assert [r["index"] for r in body["rejected"]] == [1] and "event_name" in body["rejected"][0]["reason"]


def test_an_unreadable_timestamp_is_explained_in_the_api_s_terms(running: Running) -> None:
    with running.client("collect") as c:
        body = c.post("/api/v1/events", json={"events": [_event(ts="01/03/2024 12:00")]}).json()
    reason = body["rejected"][0]["reason"]
    assert reason.startswith("ts: '01/03/2024 12:00' is not a timestamp") and "ISO 8601" in reason
    assert "--" not in reason  # no CLI flag in an API answer


def test_integers_beyond_64_bits_are_rejected_by_index(running: Running) -> None:
    batch = [_event(), _event(properties={"n": 2**70}), _event(quantity=-(2**64))]
    with running.client("collect") as c:
        body = c.post("/api/v1/events", json={"events": batch}).json()
    assert body["accepted"] == 1
    assert [(r["index"], r["reason"].split("`")[1]) for r in body["rejected"]] == [
        (1, "properties.n"),
        (2, "quantity"),
    ]
    with running.client("collect") as c:  # only flat values: the check that skips the per-value loop
        body = c.post("/api/v1/events", json={"events": [_event(), _event(quantity=2**64)]}).json()
    assert body["accepted"] == 1 and [r["index"] for r in body["rejected"]] == [1]
    assert "`quantity`" in body["rejected"][0]["reason"]


def test_duplicates_in_a_batch_and_across_batches_are_counted_once(running: Running) -> None:
    a, b = _event(), _event()
    with running.client("collect") as c:
        first = c.post("/api/v1/events", json={"events": [a, b, a]}).json()
        again = c.post("/api/v1/events", json={"events": [a, b]}).json()
    assert first == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert again == {"accepted": 0, "duplicates": 2, "rejected": []}


def test_live_kpis_move_when_events_arrive(running: Running) -> None:
    with running.client("read") as reader:
        before = reader.get("/api/v1/live").json()["windows"]["5m"]
        session = f"s-{uuid.uuid4()}"
        events = [
            _event(user_id="live-buyer", session_id=session),
            _event(user_id="live-buyer", session_id=session, type="add_to_cart", quantity=1, price=10.0),
            _event(
                user_id="live-buyer",
                session_id=session,
                type="purchase",
                quantity=3,
                price=10.0,
                order_id=f"o-{uuid.uuid4()}",
            ),
        ]
        with running.client("collect") as c:
            assert c.post("/api/v1/events", json={"events": events}).json()["accepted"] == 3
        after = reader.get("/api/v1/live").json()["windows"]["5m"]
    assert after["events"] == before["events"] + 3
    assert after["views"] == before["views"] + 1
    assert after["add_to_carts"] == before["add_to_carts"] + 1
    assert after["orders"] == before["orders"] + 1
    assert after["sessions"] == before["sessions"] + 1
    assert after["revenue"] == pytest.approx(before["revenue"] + 30.0)


def test_seeded_store_shows_in_the_overview(running: Running) -> None:
    with running.client("read") as c:
        page = c.get("/api/v1/pages/overview").json()
    data = page["data"]
    assert page["status"] == "ready"
    assert data["top_items"][0]["item_id"] == "sku-1"
    assert data["top_items"][0]["title"] == "Chef knife"
    assert data["top_items"][0]["revenue"] >= 98.0
    assert any(o["order_id"] == "order-1" and o["amount"] == 98.0 for o in data["recent_orders"])
    assert {c["category"] for c in data["top_categories"]} >= {"Kitchen > Knives", "Kitchen > Boards"}
    assert data["live"]["windows"]["1h"]["orders"] >= 1  # seeded from the store at start-up


def test_unknown_query_parameters_are_400_naming_them_and_the_valid_ones(running: Running) -> None:
    with running.client("read") as c:
        # `by` is the CLI's word; the API's is `grain`: answering weeks silently would mislead.
        body = error_body(c.get("/api/v1/analytics/kpis", params={"by": "month"}), 400)
        assert body["parameter"] == "by" and body["fields"][0]["field"] == "by"
        assert body["message"] == (
            "`by`: unknown query parameter of /api/v1/analytics/kpis; it takes end, grain, start "
            "(see /api/v1/openapi.json)."
        )
        body = error_body(c.get("/api/v1/health", params={"verbose": "1", "x": "2"}), 400)
        assert body["message"].startswith("`verbose`: unknown query parameter of /api/v1/health (so are `x`)")
        assert "takes no query parameters" in body["message"]
        # Declared parameters, of the route and of its dependencies, still pass.
        assert c.get("/api/v1/analytics/kpis", params={"grain": "month"}).status_code == 200
        assert c.get("/api/v1/customers", params={"limit": "5", "sort": "clv_12m"}).status_code == 200


def _bare_properties(doc: dict[str, Any]) -> list[str]:
    """`Schema.property` of each property reachable from a JSON answer whose schema is empty
    (`{}`, or only a title and description): the document does not say what it holds."""
    components = doc["components"]["schemas"]
    found: list[str] = []
    seen: set[str] = set()

    def walk(schema: Any, where: str) -> None:
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(components[name], name)
            return
        if not {"type", "anyOf", "oneOf", "allOf", "enum", "const"} & set(schema):
            found.append(where)
        for key, value in schema.get("properties", {}).items():
            walk(value, f"{where}.{key}")
        for key in ("anyOf", "oneOf", "allOf"):
            for value in schema.get(key, []):
                walk(value, where)
        walk(schema.get("items"), f"{where}[]")
        walk(schema.get("additionalProperties"), f"{where}{{}}")

    for methods in doc["paths"].values():
        for operation in methods.values():
            for code, response in operation["responses"].items():
                if code.startswith("2"):
                    walk(response.get("content", {}).get("application/json", {}).get("schema"), code)
    return found


def test_the_openapi_document_describes_what_the_pages_read(running: Running) -> None:
    with running.client("read") as c:
        doc = c.get("/api/v1/openapi.json").json()
    components = doc["components"]["schemas"]
    untyped = []
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            ok = next(responses[code] for code in ("200", "201", "202") if code in responses)
            if "application/json" not in ok.get("content", {}):
                continue  # the live stream: text/event-stream
            schema = ok["content"]["application/json"]["schema"]
            ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
            if ref is None or not components[ref.rsplit("/", 1)[-1]].get("properties"):
                untyped.append(f"{method.upper()} {path}")
    # Every JSON answer is a named schema with properties (before: 13 routes said "object").
    assert untyped == []
    # ... and every property inside, however deep, says what it holds (before: the audiences,
    # experiments and campaigns answers had 40 properties typed `Any`, a bare `{}`).
    bare = sorted(set(_bare_properties(doc)))
    assert bare == [], bare
    detail = components["CustomerDetail"]["properties"]
    assert {"profile", "rfm", "predictions", "churn", "orders", "events"} <= set(detail)
    assert "upper" in components["HistogramBar"]["properties"]
    assert "parameter" in components["ErrorBody"]["properties"]


def test_every_page_has_a_json_twin(running: Running) -> None:
    with running.client("read") as c:
        pages = c.get("/api/v1/pages").json()
        assert [p["slug"] for p in pages][:8] == [
            "overview",
            "analytics",
            "customers",
            "recommendations",
            "forecasts",
            "inventory",
            "campaigns",
            "experiments",
        ]
        for p in pages:
            twin = c.get(p["json_url"])
            assert twin.status_code == 200
            assert twin.json()["page"] == p["slug"]
        missing = error_body(c.get("/api/v1/pages/nope"), 404)
        assert "overview" in missing["message"]


def test_unknown_endpoint_is_json_404(running: Running) -> None:
    with running.client("read") as c:
        assert "openapi.json" in error_body(c.get("/api/v1/nothing-here"), 404)["message"]


def test_cors_allows_only_configured_origins(running: Running) -> None:
    # No origin is configured in this server: a storefront origin gets no CORS grant.
    with httpx.Client(base_url=running.url) as c:
        response = c.options(
            "/api/v1/events",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
    assert "access-control-allow-origin" not in response.headers


def test_a_raw_garbage_request_does_not_break_the_server(running: Running) -> None:
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        sock.recv(1024)
    with running.client("read") as c:
        assert c.get("/api/v1/health").json()["status"] == "ok"


def test_live_stream_sends_a_snapshot_at_once(running: Running) -> None:
    with (
        running.client("read") as c,
        c.stream("GET", "/api/v1/live/stream", timeout=10) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "event: kpis"
        data = next(lines)
    assert data.startswith("data: ")
    snapshot = json.loads(data.removeprefix("data: "))
    assert set(snapshot["windows"]) == {"5m", "1h", "1d"}


def test_live_stream_needs_read_scope(running: Running) -> None:
    with running.client("collect") as c:
        error_body(c.get("/api/v1/live/stream"), 403)


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_events_from_a_configured_storefront_origin_get_cors_and_security_headers(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cartwise.api.app import create_app

    shop = "https://shop.example"
    settings = get_settings(db=tmp_path / "cors.duckdb", memory_limit="256MB", threads=1, cors_origins=[shop])
    with open_store(settings.db, settings=settings) as store:
        _, key = keys_job.create_key(store, scope="collect", name="storefront")
    with TestClient(create_app(settings)) as api:
        preflight = api.options(
            "/api/v1/events",
            headers={
                "Origin": shop,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == shop
        event = {"ts": "2026-01-01T10:00:00Z", "user_id": "u1", "type": "view"}
        sent = api.post(
            "/api/v1/events",
            json={"events": [event]},
            headers={"Origin": shop, "Authorization": f"Bearer {key}"},
        )
        assert sent.status_code == 202 and sent.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
        assert sent.headers["access-control-allow-origin"] == shop
        assert sent.headers["x-content-type-options"] == "nosniff"
        other = api.post(
            "/api/v1/events",
            json={"events": [event]},
            headers={"Origin": "https://evil.example", "Authorization": f"Bearer {key}"},
        )
        assert "access-control-allow-origin" not in other.headers


def test_hostile_times_and_values_are_rejected_by_index(running: Running) -> None:
    """Issue 21, points 1 and 6: nothing outside the data model is stored, rounded or rewritten."""
    batch = [
        _event(),
        _event(ts="9999-12-31T23:59:59Z"),
        _event(ts="10000-01-01T00:00:00Z"),
        _event(quantity=1.5),
        _event(user_id={"id": 7}),
        _event(event_id={"id": 1}),
        _event(properties={"score": float("inf")}),
        _event(session_id="s\x00"),
    ]
    with running.client("collect") as c:
        # json.dumps writes Infinity as the bare literal a careless client sends.
        response = c.post(
            "/api/v1/events",
            content=json.dumps({"events": batch}),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1 and body["duplicates"] == 0
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7]
    assert "collect_max_ahead_hours" in reasons[1] and "year 10000" in reasons[2]
    assert "whole number" in reasons[3] and "user_id" in reasons[4] and "event_id" in reasons[5]
    assert "Infinity" in reasons[6] and "NUL" in reasons[7]
    with running.client("read") as c:
        for grain in ("day", "week"):
            assert c.get("/api/v1/analytics/kpis", params={"grain": grain}).status_code == 200
