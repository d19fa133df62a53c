"""A recommender A/B test through a real `cartwise serve`: the route assigns each user by hash,
serves the variant's recommender, tags impressions, and the results compare CTR per variant."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
from click.testing import CliRunner
from service_support import serve_shop

from cartwise.cli import cli as main_cli
from cartwise.experiments import assign, make_experiment
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.simulate import ShopConfig
from cartwise.store import Store

RECS_OPTIONS = {"poll_seconds": 0.1, "flush_seconds": 0.2, "offline_models": []}
VARIANTS = [
    {"name": "control", "weight": 0.5, "value": "itemknn"},
    {"name": "popular", "weight": 0.5, "value": "popularity"},
]
N = 5


def _shop(store: Store) -> None:
    build_demo(store, ShopConfig(seed=5, users=300, items=60, days=45))
    train_recommender(store, "itemknn")


def _recs(client: httpx.Client, user: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/recommendations/{user}", params={"n": N})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_each_user_keeps_one_variants_model_and_results_compare_ctr(tmp_path: Path) -> None:
    env = {"CARTWISE_RECS_OPTIONS": json.dumps(RECS_OPTIONS), "OPENBLAS_NUM_THREADS": "1"}
    run = serve_shop(tmp_path, _shop, truth="truth.duckdb", env=env)
    with duckdb.connect(str(tmp_path / "truth.duckdb"), read_only=True) as con:
        users = [r[0] for r in con.execute("SELECT user_id FROM users ORDER BY user_id LIMIT 160").fetchall()]
    exp = make_experiment(key="recs-ab", variants=VARIANTS)
    served: dict[str, list[dict[str, Any]]] = {}
    with run, run.client("admin") as admin, run.client("read") as api:
        # Nobody is enrolled until every arm's model is ready.
        assert _recs(api, "warm-up")["experiment"] is None
        created = admin.post("/api/v1/experiments", json={"key": "recs-ab", "variants": VARIANTS})
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 90
        while _recs(api, users[0])["experiment"] is None:
            assert time.monotonic() < deadline, admin.get("/api/v1/recommender").text
            time.sleep(0.2)
        for _round in range(2):
            for user in users:
                served.setdefault(user, []).append(_recs(api, user))
        clicks = {"control": 0, "popular": 0}
        buys = {"control": 0, "popular": 0}
        events = []
        for i, user in enumerate(users):
            if i % 3:
                continue
            first = served[user][0]
            events.append(
                {
                    "event_id": uuid.uuid4().hex,
                    "ts": datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z",
                    "user_id": user,
                    "type": "view",
                    "item_id": first["items"][0]["item_id"],
                    "properties": {"request_id": first["request_id"]},
                }
            )
            clicks[first["variant"]] += 1
            if i % 6 == 0:  # and half of those who clicked buy it, at 20.0
                events.append(
                    {
                        **events[-1],
                        "event_id": uuid.uuid4().hex,
                        "type": "purchase",
                        "order_id": f"ab-{i}",
                        "quantity": 1,
                        "price": 20.0,
                        "revenue": 20.0,
                    }
                )
                buys[first["variant"]] += 1
        with run.client("collect") as shop:
            posted = shop.post("/api/v1/events", json={"events": events})
        assert posted.status_code == 202, posted.text
        time.sleep(1.0)  # the collector writes the events
        results = api.get("/api/v1/experiments/recs-ab/results")
        assert results.status_code == 200, results.text
        body = results.json()
        page = api.get("/api/v1/experiments/recs-ab/page").json()  # the Experiments page's detail twin
        status = api.get("/api/v1/recommender").json()

    by_user = {}
    for user, answers in served.items():
        variants = {a["variant"] for a in answers}
        models = {a["model_version"].split("-")[0] for a in answers}
        assert len(variants) == 1 and len(models) == 1, (user, variants, models)
        variant = variants.pop()
        assert variant == assign(exp, user)  # the experiment's hash, as every process computes it
        assert models.pop() == {"control": "itemknn", "popular": "popularity"}[variant]
        by_user[user] = variant
    counts = {v: sum(x == v for x in by_user.values()) for v in ("control", "popular")}
    assert min(counts.values()) > 40

    with duckdb.connect(str(run.db), read_only=True) as con:
        tagged = con.execute(
            "SELECT user_id, list(DISTINCT variant), count(*) FROM rec_impressions "
            "WHERE experiment = 'recs-ab' GROUP BY user_id"
        ).fetchall()
        exposures = dict(
            con.execute(
                "SELECT user_id, variant FROM exposures WHERE experiment = 'recs-ab' AND source = 'recs'"
            ).fetchall()
        )
    impressions = {"control": 0, "popular": 0}
    for user, variants, n in tagged:
        assert variants == [by_user[user]]
        impressions[by_user[user]] += n
    assert {u: exposures[u] for u in by_user} == by_user

    ctr = next(r for r in body["results"] if r["metric"] == "ctr")
    assert ctr["variant"] == "popular"
    assert ctr["users"] == counts["popular"] and ctr["control_users"] == counts["control"]
    assert abs(ctr["mean"] - clicks["popular"] / impressions["popular"]) < 1e-12
    assert abs(ctr["control_mean"] - clicks["control"] / impressions["control"]) < 1e-12
    assert ctr["lift_ci"] is not None
    found = {r["metric"]: r for r in body["results"]}
    assert {"ctr", "impression_conversion", "revenue_per_mille", "conversion"} <= set(found)
    rpm = found["revenue_per_mille"]
    assert abs(rpm["mean"] - 1000 * 20.0 * buys["popular"] / impressions["popular"]) < 1e-9
    conversion = found["impression_conversion"]
    assert abs(conversion["control_mean"] - buys["control"] / impressions["control"]) < 1e-12

    # Which model served each arm: the page JSON names the recommender, the model serving it now
    # and the versions its impressions were served by.
    arms = {a["variant"]: a for a in page["recommender_arms"]}
    assert {v: a["recommender"] for v, a in arms.items()} == {"control": "itemknn", "popular": "popularity"}
    assert arms["control"]["serving"] is True and arms["popular"]["serving"] is False
    for variant, arm in arms.items():
        assert arm["state"] == "ready" and arm["last_error"] is None and arm["trained_at"]
        assert arm["served_versions"] == [arm["version"]]
        assert arm["impressions"] == impressions[variant]
    live = status["experiment_arm_details"]
    assert live["popularity"]["version"] == arms["popular"]["version"] and live["itemknn"]["serving"] is True
    shown = {(r["metric"], r["variant"]): r for r in page["results"]["results"]}
    assert shown[("ctr", "popular")]["mean"] == ctr["mean"]
    assert shown[("ctr", "popular")]["control_mean"] == ctr["control_mean"]
    cli = CliRunner().invoke(main_cli, ["experiments", "analyze", "recs-ab", "--db", str(run.db), "--json"])
    assert cli.exit_code == 0, cli.output
    by_metric = {r["metric"]: r for r in json.loads(cli.output)["results"]}
    assert by_metric["ctr"]["mean"] == ctr["mean"] and by_metric["ctr"]["users"] == counts["popular"]


def test_the_retrain_route_refreshes_every_arm_and_nobody_is_unenrolled_meanwhile(tmp_path: Path) -> None:
    env = {"CARTWISE_RECS_OPTIONS": json.dumps(RECS_OPTIONS), "OPENBLAS_NUM_THREADS": "1"}
    run = serve_shop(tmp_path, _shop, truth="truth.duckdb", env=env)
    with duckdb.connect(str(tmp_path / "truth.duckdb"), read_only=True) as con:
        users = [r[0] for r in con.execute("SELECT user_id FROM users ORDER BY user_id LIMIT 30").fetchall()]
    with run, run.client("admin") as admin, run.client("read") as api:
        created = admin.post("/api/v1/experiments", json={"key": "recs-ab", "variants": VARIANTS})
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 90
        while _recs(api, users[0])["experiment"] is None:
            assert time.monotonic() < deadline, admin.get("/api/v1/recommender").text
            time.sleep(0.2)
        before = api.get("/api/v1/recommender").json()["experiment_arm_details"]
        assert before["itemknn"]["serving"] and before["popularity"]["state"] == "ready"
        # The route retrains the hybrid: the itemknn arm is no longer the serving model, so it
        # is refitted too, on the same events, and both arms swap in with the new model.
        queued = admin.post("/api/v1/recommender/retrain")
        assert queued.status_code == 202, queued.text
        answers = []
        deadline = time.monotonic() + 240
        while (info := api.get("/api/v1/recommender").json())["retrain"].get("state") != "done":
            assert info["retrain"].get("state") in ("queued", "running"), info["retrain"]
            assert time.monotonic() < deadline, info
            answers += [_recs(api, u) for u in users[:6]]
        assert answers and all(a["experiment"] == "recs-ab" for a in answers)  # no unenrolled window
        after = info["experiment_arm_details"]
        assert info["model"] == "hybrid" and set(info["retrain"]["arms"]) == {"itemknn", "popularity"}
        for name in ("itemknn", "popularity"):
            arm = after[name]
            assert arm["state"] == "ready" and not arm["serving"] and arm["last_error"] is None
            assert arm["version"] == info["retrain"]["arms"][name] != before[name]["version"]
            assert arm["watermark"] == after["itemknn"]["watermark"]  # one snapshot for every arm
        served = {a["variant"]: a["model_version"] for a in (_recs(api, u) for u in users)}
        assert served == {"control": after["itemknn"]["version"], "popular": after["popularity"]["version"]}
