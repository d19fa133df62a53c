"""The real Segment and PostHog Python SDKs against a real server on loopback: what lands."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from posthog import Posthog
from segment.analytics import Client as SegmentClient
from service_support import Running, serve_shop


def _empty(store: object) -> None:
    return None


@pytest.fixture
def served(tmp_path: Path) -> Running:
    return serve_shop(tmp_path, _empty)


def _landed(run: Running, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(run.db), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_segment_sdk_events_orders_identify_and_stitching(served: Running) -> None:
    with served as run:
        client = SegmentClient(run.keys["collect"], host=run.url, sync_mode=True, max_retries=0)
        client.track(
            anonymous_id="anon-s", event="Product Viewed", properties={"product_id": "sku-1", "price": 10.0}
        )
        client.track(
            anonymous_id="anon-s", event="Product Added", properties={"product_id": "sku-1", "quantity": 1}
        )
        client.identify("cust-s", {"email": "sam@example.com", "plan": "gold"}, anonymous_id="anon-s")
        client.track(
            "cust-s",
            "Order Completed",
            {
                "order_id": "ord-1",
                "products": [
                    {"product_id": "sku-1", "quantity": 2, "price": 10.0},
                    {"product_id": "sku-2", "quantity": 1, "price": 5.0, "category": "socks"},
                ],
            },
        )
        client.track("cust-s", "Signed Up", {"referrer": "friend"})
        client.page("cust-s", name="Home")
        # A batch with a malformed message is answered per message.
        bad = httpx.post(
            f"{run.url}/v1/batch",
            auth=(run.keys["collect"], ""),
            json={
                "batch": [
                    {
                        "type": "track",
                        "messageId": "m-ok",
                        "timestamp": "2026-11-20T10:00:00Z",
                        "userId": "cust-t",
                        "event": "Product Viewed",
                    },
                    {
                        "type": "track",
                        "messageId": "m-bad",
                        "timestamp": "2026-11-20T10:00:00Z",
                        "event": "Product Viewed",
                    },
                ]
            },
        )
        assert bad.status_code == 200, bad.text
        assert bad.json()["accepted"] == 1
        assert [r["index"] for r in bad.json()["rejected"]] == [1]
        assert "userId" in bad.json()["rejected"][0]["reason"]
        refused = httpx.post(f"{run.url}/v1/track", auth=("not-a-key", ""), json={})
        assert refused.status_code == 401
    events = _landed(
        run, "SELECT type, user_id, item_id FROM events WHERE user_id <> 'cust-t' ORDER BY ts, event_id"
    )
    assert {e[1] for e in events} == {"cust-s"}  # the anonymous browsing follows the customer
    kinds = [e[0] for e in events]
    assert kinds[:3] == ["view", "add_to_cart", "identify"]
    assert {"purchase", "signed_up", "page"} <= set(kinds)
    lines = _landed(
        run, "SELECT item_id, quantity, price FROM order_lines WHERE order_id = 'ord-1' ORDER BY item_id"
    )
    assert lines == [("sku-1", 2, 10.0), ("sku-2", 1, 5.0)]
    assert _landed(run, "SELECT user_id, amount FROM orders WHERE order_id = 'ord-1'") == [("cust-s", 25.0)]
    user = _landed(run, "SELECT email, attributes FROM users WHERE user_id = 'cust-s'")
    assert user[0][0] == "sam@example.com" and json.loads(user[0][1]) == {"plan": "gold"}
    # The funnel counts the person once at each step.
    steps = _landed(
        run,
        "SELECT type, count(DISTINCT user_id) FROM events WHERE type IN ('view', 'add_to_cart', 'purchase') "
        "AND user_id <> 'cust-t' GROUP BY type ORDER BY type",
    )
    assert steps == [("add_to_cart", 1), ("purchase", 1), ("view", 1)]
    assert _landed(run, "SELECT from_id, into_id, evidence, outcome FROM merges") == [
        ("anon-s", "cust-s", "identify", "merged")
    ]


def test_posthog_sdk_pageview_identify_and_custom_events(served: Running) -> None:
    with served as run:
        client = Posthog(run.keys["collect"], host=run.url, sync_mode=True, max_retries=0)
        # What posthog-js adds before sign-in: the browser's anonymous id and `$is_identified`.
        anonymous = {"$device_id": "anon-p", "$is_identified": False}
        client.capture(
            "$pageview",
            distinct_id="anon-p",
            properties={**anonymous, "$current_url": "https://shop.example/"},
        )
        client.capture(
            "Product Viewed",
            distinct_id="anon-p",
            properties={**anonymous, "product_id": "sku-9", "price": 3.5},
        )
        client.capture(
            "$identify",
            distinct_id="cust-p",
            properties={"$anon_distinct_id": "anon-p", "$set": {"email": "pat@example.com"}},
        )
        client.capture("wishlist added", distinct_id="cust-p", properties={"product_id": "sku-9"})
        client.shutdown()
    events = _landed(run, "SELECT type, user_id, item_id FROM events ORDER BY ts, event_id")
    assert {e[1] for e in events} == {"cust-p"}
    assert [e[0] for e in events] == ["page", "view", "identify", "wishlist_added"]
    assert events[1][2] == "sku-9"
    assert _landed(run, "SELECT email FROM users WHERE user_id = 'cust-p'") == [("pat@example.com",)]
    assert _landed(run, "SELECT outcome FROM merges") == [("merged",)]


def _small_profiled_shop(store: Any) -> None:
    from cartwise.pipelines.demo import build_demo
    from cartwise.pipelines.profiles import refresh_profiles
    from cartwise.simulate import ShopConfig

    build_demo(store, ShopConfig(seed=5, users=120, items=30, days=90))
    refresh_profiles(store)


def test_customer_page_shows_linked_identities_and_merge_evidence(tmp_path: Path) -> None:
    with serve_shop(tmp_path, _small_profiled_shop, truth="truth.duckdb") as run:
        truth = duckdb.connect(str(tmp_path / "truth.duckdb"), read_only=True)
        customer, other = (
            r[0] for r in truth.execute("SELECT user_id FROM profiles ORDER BY user_id LIMIT 2").fetchall()
        )
        truth.close()
        client = SegmentClient(run.keys["collect"], host=run.url, sync_mode=True, max_retries=0)
        client.track(anonymous_id="anon-z", event="Product Viewed", properties={"product_id": "sku-z"})
        client.identify(customer, {"plan": "gold"}, anonymous_id="anon-z")
        client.identify(other, {}, anonymous_id=customer)  # two known customers: refused
        with run.client("read") as reader:
            body: dict[str, Any] = {}
            for _ in range(100):
                body = reader.get(f"/api/v1/customers/{customer}").json()
                if len(body.get("merges", [])) == 2:
                    break
                time.sleep(0.1)
    assert [i["alias_id"] for i in body["identities"]] == ["anon-z"]
    assert body["identities"][0]["evidence"] == "identify"
    assert [(m["from_id"], m["into_id"], m["outcome"]) for m in body["merges"]] == [
        ("anon-z", customer, "merged"),
        (customer, other, "refused"),
    ]
    assert "only an explicit alias" in body["merges"][1]["reason"]
