"""An anonymous visitor's views follow them into their customer's recommendations once they
sign in: a real `cartwise serve` over a small simulated shop with a trained model, fed through
the events API and through the real Segment SDK (issue 26)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service_support import Running, serve_shop

from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.simulate import ShopConfig
from cartwise.store import Store

RECS_OPTIONS = {"poll_seconds": 0.1, "flush_seconds": 0.2, "offline_models": ["itemknn"]}


def _trained_shop(store: Store) -> None:
    build_demo(store, ShopConfig(seed=5, users=200, items=60, days=30))
    train_recommender(store)


def _wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _post(run: Running, *events: dict[str, Any]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z"
    batch = [{"event_id": uuid.uuid4().hex, "ts": now, **e} for e in events]
    with run.client("collect") as client:
        answer = client.post("/api/v1/events", json={"events": batch})
    assert answer.status_code == 202 and answer.json()["accepted"] == len(batch), answer.text


def test_recommendations_use_the_anonymous_views_after_sign_in(tmp_path: Path) -> None:
    env = {"CARTWISE_RECS_OPTIONS": json.dumps(RECS_OPTIONS), "OPENBLAS_NUM_THREADS": "1"}
    with serve_shop(tmp_path, _trained_shop, env=env) as run, run.client("read") as api:
        assert _wait_for(lambda: api.get("/api/v1/recommender").json()["users"] > 0)
        viewed = api.get("/api/v1/trending", params={"n": 1}).json()["items"][0]["item_id"]
        assert api.get(f"/api/v1/items/{viewed}/similar").json()["items"], "the item needs neighbours"

        def recs(user: str) -> dict[str, Any]:
            answer = api.get(f"/api/v1/recommendations/{user}", params={"n": 10, "seed": 3})
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        assert recs("cust-new")["cold_start"]  # nothing known about the customer yet
        view = {"user_id": "anon-v", "anonymous_id": "anon-v", "type": "view", "item_id": viewed}
        _post(run, view, view)
        assert _wait_for(lambda: not recs("anon-v")["cold_start"]), "the views never reached the visitor"
        # The visitor signs in: the identify links the browser's id to the customer.
        _post(run, {"user_id": "cust-new", "anonymous_id": "anon-v", "type": "identify"})

        def personal() -> dict[str, Any] | None:
            answer = recs("cust-new")
            return None if answer["cold_start"] else answer

        answer = _wait_for(personal)
        assert answer, "the customer's list never used the anonymous views"
        because = [it for it in answer["items"] if it["reason_item_id"] == viewed]
        assert because and all(it["reason"].startswith("Because you viewed") for it in because)
        # The views now belong to the customer: the history shows them, the visitor is cold again.
        history = api.get("/api/v1/recommendations/cust-new/history").json()["items"]
        assert [(h["type"], h["item_id"]) for h in history] == [("view", viewed), ("view", viewed)]
        assert recs("anon-v")["cold_start"]


def test_the_segment_sdks_anonymous_views_follow_the_customer_who_signs_in(tmp_path: Path) -> None:
    """The same journey through the real Segment SDK: `track` under an anonymous id, then `identify`."""
    from segment.analytics import Client as SegmentClient

    env = {"CARTWISE_RECS_OPTIONS": json.dumps(RECS_OPTIONS), "OPENBLAS_NUM_THREADS": "1"}
    with serve_shop(tmp_path, _trained_shop, env=env) as run, run.client("read") as api:
        assert _wait_for(lambda: api.get("/api/v1/recommender").json()["users"] > 0)
        viewed = api.get("/api/v1/trending", params={"n": 1}).json()["items"][0]["item_id"]
        segment = SegmentClient(run.keys["collect"], host=run.url, sync_mode=True, max_retries=0)

        def recs(user: str) -> dict[str, Any]:
            answer = api.get(f"/api/v1/recommendations/{user}", params={"n": 10, "seed": 3})
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        assert recs("cust-sdk")["cold_start"]
        for _ in range(2):
            segment.track(anonymous_id="anon-sdk", event="Product Viewed", properties={"product_id": viewed})
        assert _wait_for(lambda: not recs("anon-sdk")["cold_start"]), "the views never reached the visitor"
        segment.identify("cust-sdk", {"email": "sdk@example.com"}, anonymous_id="anon-sdk")

        def personal() -> dict[str, Any] | None:
            answer = recs("cust-sdk")
            return None if answer["cold_start"] else answer

        answer = _wait_for(personal)
        assert answer, "the customer's list never used the anonymous views"
        because = [it for it in answer["items"] if it["reason_item_id"] == viewed]
        assert because and all(it["reason"].startswith("Because you viewed") for it in because)
        history = api.get("/api/v1/recommendations/cust-sdk/history").json()["items"]
        assert [(h["type"], h["item_id"]) for h in history] == [("view", viewed), ("view", viewed)]
        assert recs("anon-sdk")["cold_start"]
