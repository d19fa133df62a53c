"""Recommendations over HTTP from a real `cartwise serve` on a simulated shop with a trained model."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from service_support import Running, serve_shop

from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.simulate import ShopConfig
from cartwise.store import Store

RECS_OPTIONS = {"poll_seconds": 0.1, "flush_seconds": 0.2, "offline_models": ["itemknn"]}


def _trained_shop(store: Store) -> None:
    build_demo(store, ShopConfig(seed=11, users=500, items=90, days=60))
    # The best seller goes out of stock: it must never be served.
    store.con.execute(
        """UPDATE items SET stock = 0 WHERE item_id = (
             SELECT item_id FROM events WHERE type = 'purchase' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)"""
    )
    train_recommender(store)


def start_shop(tmp: Path) -> Running:
    """A served demo shop (500 customers, 90 items, 60 days) with a trained recommender, keys and `alice`."""
    env = {"CARTWISE_RECS_OPTIONS": json.dumps(RECS_OPTIONS), "OPENBLAS_NUM_THREADS": "1"}
    return serve_shop(tmp, _trained_shop, env=env)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with start_shop(tmp_path_factory.mktemp("recs-api")) as run:
        yield run


@pytest.fixture(scope="module")
def api(shop: Running) -> Iterator[httpx.Client]:
    with shop.client("read") as client:
        yield client


def _wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _post_events(shop: Running, *events: dict[str, Any]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z"
    batch = [{"event_id": uuid.uuid4().hex, "ts": now, **e} for e in events]
    with shop.client("collect") as c:
        answer = c.post("/api/v1/events", json={"events": batch})
    assert answer.status_code == 202 and answer.json()["accepted"] == len(batch), answer.text


def _out_of_stock(shop: Running, api: httpx.Client) -> str:
    # Best seller by purchases; trending ranks by recent interest, so ask the JSON of every trending item.
    everything = api.get("/api/v1/trending", params={"n": 100}).json()["items"]
    listed = {it["item_id"] for it in everything}
    return next(f"SKU-{i:05d}" for i in range(90) if f"SKU-{i:05d}" not in listed)


def test_a_customer_gets_a_list_with_reasons_and_a_request_id(shop: Running, api: httpx.Client) -> None:
    # Until batch scoring reaches a customer the list comes from the similarity fallback;
    # wait for it, so the two requests below are answered the same way.
    info = _wait_for(
        lambda: (i := api.get("/api/v1/recommender").json())["batch_scored_users"] == i["users"] and i
    )
    assert info and info["users"] > 0, info
    history = api.get("/api/v1/recommendations/u000001/history").json()["items"]
    bought = {h["item_id"] for h in history if h["type"] == "purchase"}
    answer = api.get("/api/v1/recommendations/u000001", params={"n": 8, "seed": 4})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["request_id"]) == 32 and body["user_id"] == "u000001" and not body["cold_start"]
    items = body["items"]
    assert len(items) == 8
    assert not {it["item_id"] for it in items} & bought
    assert _out_of_stock(shop, api) not in {it["item_id"] for it in items}
    assert all(it["reason"] and isinstance(it["score"], float) for it in items)
    again = api.get("/api/v1/recommendations/u000001", params={"n": 8, "seed": 4}).json()
    assert [it["item_id"] for it in again["items"]] == [it["item_id"] for it in items]
    assert again["request_id"] != body["request_id"]


def test_unknown_shoppers_get_trending_items(api: httpx.Client) -> None:
    body = api.get("/api/v1/recommendations/never-seen-before", params={"n": 5}).json()
    assert body["cold_start"] and len(body["items"]) == 5
    trending = api.get("/api/v1/trending", params={"n": 50}).json()["items"]
    assert {it["item_id"] for it in body["items"]} <= {it["item_id"] for it in trending}


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/recommendations/u000001", {"n": 0}, "n"),
        ("/api/v1/recommendations/u000001", {"n": 101}, "n"),
        ("/api/v1/recommendations/u000001", {"n": "ten"}, "n"),
        ("/api/v1/recommendations/u000001", {"seed": -1}, "seed"),
        ("/api/v1/items/SKU-00001/similar", {"n": 1000}, "n"),
        ("/api/v1/trending", {"n": 0}, "n"),
    ],
)
def test_bad_parameters_get_a_422_naming_them(
    api: httpx.Client, path: str, params: dict[str, Any], field: str
) -> None:
    answer = api.get(path, params=params)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid_request" and [f["field"] for f in body["fields"]] == [f"query.{field}"]


def test_unknown_items_get_a_404_naming_them(api: httpx.Client) -> None:
    for path in ("/api/v1/items/no-such-sku/similar", "/api/v1/items/no-such-sku/bought-together"):
        answer = api.get(path)
        assert answer.status_code == 404 and "item_id 'no-such-sku'" in answer.json()["message"]
    answer = api.get("/api/v1/recommendations/u000001", params={"context_item": "no-such-sku"})
    assert answer.status_code == 404 and "context_item 'no-such-sku'" in answer.json()["message"]


def test_credentials_and_scopes(shop: Running) -> None:
    with shop.client() as anonymous:
        assert anonymous.get("/api/v1/recommendations/u000001").status_code == 401
    with shop.client("collect") as collect:
        assert collect.get("/api/v1/trending").status_code == 403
    with shop.client("read") as read:
        assert read.post("/api/v1/recommender/retrain").status_code == 403


def test_similar_bought_together_and_trending(shop: Running, api: httpx.Client) -> None:
    gone = _out_of_stock(shop, api)
    trending = api.get("/api/v1/trending", params={"n": 10}).json()["items"]
    assert len(trending) == 10 and gone not in {it["item_id"] for it in trending}
    scores = [it["score"] for it in trending]
    assert scores == sorted(scores, reverse=True)
    item = trending[0]["item_id"]
    similar = api.get(f"/api/v1/items/{item}/similar", params={"n": 5}).json()
    ids = [it["item_id"] for it in similar["items"]]
    assert similar["item_id"] == item and len(ids) == 5 and item not in ids and gone not in ids
    together = api.get(f"/api/v1/items/{item}/bought-together", params={"n": 5}).json()["items"]
    assert together, "the best-trending item has basket rules in a 60-day shop"
    for it in together:
        assert it["item_id"] != item and 0 < it["confidence"] <= 1 and it["lift"] > 0
    lifts = [it["lift"] for it in together]
    assert lifts == sorted(lifts, reverse=True)


def test_a_viewed_item_changes_session_recommendations(shop: Running, api: httpx.Client) -> None:
    session = "s-" + uuid.uuid4().hex
    params: dict[str, str | int] = {"n": 10, "session_id": session, "seed": 1}
    before = api.get("/api/v1/recommendations/visitor-x", params=params).json()
    assert before["cold_start"] and before["session_items"] == 0
    item = before["items"][0]["item_id"]
    _post_events(shop, {"user_id": "visitor-x", "session_id": session, "type": "view", "item_id": item})
    after = _wait_for(
        lambda: (
            (r := api.get("/api/v1/recommendations/visitor-x", params=params).json())["session_items"] and r
        )
    )
    assert after, "the session never picked up the view"
    ids = [it["item_id"] for it in after["items"]]
    assert item not in ids and ids != [it["item_id"] for it in before["items"]]
    assert any(it["reason"].startswith("Because you are looking at") for it in after["items"])


def test_a_purchase_after_an_impression_is_attributed(shop: Running, api: httpx.Client) -> None:
    before = api.get("/api/v1/recommender/online").json()
    served = api.get("/api/v1/recommendations/u000005", params={"n": 5}).json()
    item = served["items"][1]["item_id"]
    _post_events(
        shop,
        {
            "user_id": "u000005",
            "type": "view",
            "item_id": item,
            "properties": {"request_id": served["request_id"]},
        },
        {
            "user_id": "u000005",
            "type": "purchase",
            "item_id": item,
            "price": 25.0,
            "quantity": 2,
            "properties": {"request_id": served["request_id"]},
        },
    )
    after = _wait_for(
        lambda: (r := api.get("/api/v1/recommender/online").json())["purchases"] > before["purchases"] and r
    )
    assert after, "the purchase was never attributed"
    assert after["impressions"] - before["impressions"] == 5
    assert after["requests"] - before["requests"] == 1
    assert after["clicks"] - before["clicks"] == 1
    assert after["revenue"] - before["revenue"] == pytest.approx(50.0)
    assert after["ctr"] == pytest.approx(after["clicks"] / after["impressions"])
    page = api.get("/api/v1/pages/recommendations").json()["data"]
    assert page["online"]["purchases"] == after["purchases"]


def _saved_user_ids(shop: Running) -> set[str]:
    """Every user id in the saved recommender's arrays (the model and its generators)."""
    folder = shop.db.with_name(shop.db.stem + "_artefacts") / "recommender"
    found: set[str] = set()
    for path in folder.rglob("arrays.npz"):
        with np.load(path, allow_pickle=False) as arrays:
            found.update(arrays["user_ids_"].tolist())
    return found


def test_an_erased_customer_is_forgotten_by_the_running_recommender_at_once(
    shop: Running, api: httpx.Client
) -> None:
    who = "u000009"
    _wait_for(lambda: (i := api.get("/api/v1/recommender").json())["batch_scored_users"] == i["users"])
    before = api.get(f"/api/v1/recommendations/{who}", params={"n": 5}).json()
    assert not before["cold_start"] and who in _saved_user_ids(shop)
    assert api.get(f"/api/v1/recommendations/{who}/history").json()["items"]
    _post_events(shop, {"user_id": who, "type": "view", "item_id": before["items"][0]["item_id"]})
    with shop.client("admin") as admin:
        forgotten = admin.delete(f"/api/v1/customers/{who}").json()
    assert forgotten["removed"]["events"] > 0 and "anonymised 1" in forgotten["artefacts"]
    # No retrain: the served model, its cached lists, the fresh events and the saved model forgot her.
    # The same seed: without one, near-ties are shuffled afresh on every request.
    after = api.get(f"/api/v1/recommendations/{who}", params={"n": 5, "seed": 3}).json()
    strangers = api.get("/api/v1/recommendations/never-seen-before", params={"n": 5, "seed": 3}).json()
    assert after["cold_start"] and after["items"] == strangers["items"]
    assert api.get(f"/api/v1/recommendations/{who}/history").json()["items"] == []
    assert who not in _saved_user_ids(shop)
    assert api.get("/api/v1/recommendations/u000001", params={"n": 5}).json()["cold_start"] is False


def test_retrain_hot_swaps_without_dropping_requests(shop: Running, api: httpx.Client) -> None:
    old = api.get("/api/v1/recommender").json()["version"]
    statuses: list[int] = []
    versions: set[str] = set()
    done = threading.Event()

    def hammer() -> None:
        with shop.client("read") as c:
            while not done.is_set():
                r = c.get("/api/v1/recommendations/u000007", params={"n": 10, "log": "false"})
                statuses.append(r.status_code)
                if r.status_code == 200:
                    versions.add(r.json()["model_version"])

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        with shop.client("admin") as admin:
            started = admin.post("/api/v1/recommender/retrain")
            assert started.status_code == 202 and started.json()["state"] in ("queued", "running")
        new = _wait_for(lambda: (v := api.get("/api/v1/recommender").json()["version"]) != old and v, 60)
        assert new, "the retrained model never came into service"
        _wait_for(lambda: new in versions, 10)
    finally:
        done.set()
        thread.join()
    assert statuses and set(statuses) == {200}
    assert old in versions and new in versions
    info = api.get("/api/v1/recommender").json()
    assert info["retrain"]["state"] == "done" and info["version"] == new
