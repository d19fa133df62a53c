"""Experiment routes against a real server: assignment for storefront keys, CRUD for admins,
exposures written through the service's writer, results from the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from scipy import stats
from service_support import Running, error_body, serve_shop

from cartwise.experiments import assign, make_experiment, parse_variants
from cartwise.pipelines import experiments as px
from cartwise.store import Store

VARIANTS = "control:0.25,b:0.75"


def _prepare(store: Store) -> None:
    px.create_experiment(store, {"key": "hero", "variants": parse_variants(VARIANTS)})


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_shop(tmp_path_factory.mktemp("experiments"), _prepare) as running:
        yield running


def test_assign_is_stable_matches_the_library_and_the_weights(run: Running) -> None:
    exp = make_experiment(key="hero", variants=parse_variants(VARIANTS))
    with run.client("collect") as client:
        got = {}
        for i in range(2000):
            r = client.get("/api/v1/experiments/hero/assign", params={"user_id": f"s{i}"})
            assert r.status_code == 200, r.text
            assert set(r.json()) == {"experiment", "variant"}
            got[f"s{i}"] = r.json()["variant"]
        again = client.get("/api/v1/experiments/hero/assign", params={"user_id": "s7"}).json()
    assert again == {"experiment": "hero", "variant": got["s7"]}
    assert got == {u: assign(exp, u) for u in got}  # every process agrees with the hash
    observed = [sum(v == "control" for v in got.values()), sum(v == "b" for v in got.values())]
    assert stats.chisquare(observed, [500, 1500]).pvalue > 0.001


def test_assign_refuses_unknown_experiment_and_missing_user(run: Running) -> None:
    with run.client("collect") as client:
        assert (
            "experiments list"
            in error_body(client.get("/api/v1/experiments/nope/assign", params={"user_id": "u1"}), 404)[
                "message"
            ]
        )
        assert client.get("/api/v1/experiments/hero/assign").status_code == 422
        assert client.get("/api/v1/experiments").status_code == 403  # listing needs `read`
    with run.client() as anonymous:
        assert anonymous.get("/api/v1/experiments/hero/assign", params={"user_id": "u"}).status_code == 401


def test_crud_for_admins(run: Running) -> None:
    body = {"key": "footer", "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.4}]}
    with run.client("admin") as admin, run.client("read") as reader, run.client("collect") as shop:
        assert reader.post("/api/v1/experiments", json=body).status_code == 403
        bad = error_body(admin.post("/api/v1/experiments", json=body), 400)
        assert "weights sum to 0.9" in bad["message"]
        body["variants"][1]["weight"] = 0.5
        created = admin.post("/api/v1/experiments", json=body)
        assert created.status_code == 201, created.text
        assert shop.get("/api/v1/experiments/footer/assign", params={"user_id": "x"}).json()["variant"] in {
            "a",
            "b",
        }
        listed = reader.get("/api/v1/experiments").json()["experiments"]
        assert [e["key"] for e in listed] == ["hero", "footer"]
        shown = reader.get("/api/v1/experiments/footer").json()
        assert shown["exposed"] == {
            "a": int(assign_of("footer", "x") == "a"),
            "b": int(assign_of("footer", "x") == "b"),
        }
        assert admin.post("/api/v1/experiments/footer/stop").json()["status"] == "stopped"
        assert shop.get("/api/v1/experiments/footer/assign", params={"user_id": "x"}).status_code == 404


def assign_of(key: str, user: str) -> str | None:
    return assign(make_experiment(key=key, variants=parse_variants("a:0.5,b:0.5")), user)


def test_exposures_reach_the_store_once_per_user(run: Running, tmp_path: Path) -> None:
    with run.client("collect") as shop, run.client("read") as reader:
        for _ in range(3):
            shop.get("/api/v1/experiments/hero/assign", params={"user_id": "repeat-me"})
        info = reader.get("/api/v1/experiments/hero").json()  # flushes pending exposures
    assert sum(info["exposed"].values()) >= 1
    run.server.stop()
    with duckdb.connect(str(run.db), read_only=True) as con:
        rows = con.execute(
            "SELECT variant, source FROM exposures WHERE experiment = 'hero' AND user_id = 'repeat-me'"
        ).fetchall()
    exp = make_experiment(key="hero", variants=parse_variants(VARIANTS))
    assert rows == [(assign(exp, "repeat-me"), "api")]
