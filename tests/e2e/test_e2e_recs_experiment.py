"""The Experiments page in a real browser for a recommender A/B test: a real server with two
arms (itemknn against popularity), shoppers served through the recommendations API who click
and buy through the request ids, then the page shows both variants, their CTR, conversion and
revenue per 1,000 impressions against the control, and the model serving each arm, without a
console error."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest
from service_support import Running, serve_shop

from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.simulate import ShopConfig
from cartwise.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RECS_OPTIONS = {"poll_seconds": 0.1, "flush_seconds": 0.2, "offline_models": []}
VARIANTS = [
    {"name": "control", "weight": 0.5, "value": "itemknn"},
    {"name": "popular", "weight": 0.5, "value": "popularity"},
]
RECS_METRICS = ["ctr", "impression_conversion", "revenue_per_mille"]


def _shop(store: Store) -> None:
    build_demo(store, ShopConfig(seed=7, users=300, items=60, days=45))
    train_recommender(store, "itemknn")


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = {"CARTWISE_RECS_OPTIONS": json.dumps(RECS_OPTIONS), "OPENBLAS_NUM_THREADS": "1"}
    with serve_shop(
        tmp_path_factory.mktemp("recs_experiment_e2e"), _shop, truth="truth.duckdb", env=env
    ) as run:
        yield run


def _served(api: Any, user: str) -> dict[str, Any]:
    r = api.get(f"/api/v1/recommendations/{user}", params={"n": 5})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _event(user: str, served: dict[str, Any], kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "ts": datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z",
        "user_id": user,
        "type": kind,
        "item_id": served["items"][0]["item_id"],
        "properties": {"request_id": served["request_id"]},
        **extra,
    }


def test_a_recommender_experiment_shows_both_arms_and_their_impression_metrics(
    page: Any, sign_in: Any, shop_server: Running
) -> None:
    with duckdb.connect(str(shop_server.db.parent / "truth.duckdb"), read_only=True) as con:
        users = [r[0] for r in con.execute("SELECT user_id FROM users ORDER BY user_id LIMIT 80").fetchall()]
    with shop_server.client("admin") as admin, shop_server.client("read") as api:
        created = admin.post("/api/v1/experiments", json={"key": "recs-ab", "variants": VARIANTS})
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 90
        while _served(api, users[0])["experiment"] is None:  # enrolled once both arms are ready
            assert time.monotonic() < deadline, admin.get("/api/v1/recommender").text
            time.sleep(0.2)
        answers = {user: _served(api, user) for user in users}
        events = []
        for i, (user, served) in enumerate(answers.items()):
            if i % 2 == 0:  # every other shopper clicks the first item; a third of those buy it
                events.append(_event(user, served, "view"))
                if i % 3 == 0:
                    events.append(
                        _event(
                            user,
                            served,
                            "purchase",
                            order_id=f"e2e-{i}",
                            quantity=1,
                            price=25.0,
                            revenue=25.0,
                        )
                    )
        assert {answers[e["user_id"]]["variant"] for e in events if e["type"] == "purchase"} == {
            "control",
            "popular",
        }
        with shop_server.client("collect") as shop:
            posted = shop.post("/api/v1/events", json={"events": events})
        assert posted.status_code == 202, posted.text
        deadline = time.monotonic() + 30
        while True:  # the collector writes the events, then the results count them
            results = api.get("/api/v1/experiments/recs-ab/results").json()
            found = {r["metric"] for r in results.get("results", [])}  # no events yet: an error
            if set(RECS_METRICS) <= found or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        detail = api.get("/api/v1/experiments/recs-ab/page").json()
    assert set(RECS_METRICS) <= found, results

    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    sign_in(shop_server.url, "experiments")
    row = page.locator("#experiment-list tr[data-key='recs-ab']")
    assert "control" in row.inner_text() and "popular" in row.inner_text()
    row.click()
    page.wait_for_function("document.getElementById('results-card').dataset.key === 'recs-ab'")

    shown = page.eval_on_selector_all(
        "#results tbody tr[data-metric]",
        "rows => rows.map(r => [r.dataset.metric, r.dataset.variant, r.children[3].textContent, "
        "r.children[4].textContent, r.children[5].textContent])",
    )
    by_metric = {m: (variant, mean, control, lift) for m, variant, mean, control, lift in shown}
    for result in results["results"]:
        if result["metric"] not in RECS_METRICS:
            continue
        variant, mean, control, lift = by_metric[result["metric"]]
        assert variant == "popular"
        assert float(mean) == pytest.approx(result["mean"], rel=1e-3)
        assert float(control) == pytest.approx(result["control_mean"], rel=1e-3)
        assert lift == f"{'+' if result['lift'] >= 0 else ''}{result['lift'] * 100:.2f}%"

    # Both arms, with the recommender and the model that served each one's impressions.
    assert page.locator("#arms-block").is_visible()
    arms = page.eval_on_selector_all(
        "#arms tbody tr[data-variant]",
        "rows => rows.map(r => [r.dataset.variant, r.dataset.state, r.children[1].textContent, "
        "r.children[3].textContent, r.children[6].textContent])",
    )
    want = {a["variant"]: a for a in detail["recommender_arms"]}
    assert [a[0] for a in arms] == ["control", "popular"]
    for variant, state, recommender, version, served_by in arms:
        assert state == "ready" and recommender == want[variant]["recommender"]
        assert version == want[variant]["version"] and served_by == ", ".join(
            want[variant]["served_versions"]
        )
        assert version.startswith(recommender)
    assert not problems, problems
