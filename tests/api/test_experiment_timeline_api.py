"""`GET /api/v1/experiments/{key}/timeline` against a real server: the points the Experiments
page plots are the pipeline's cumulative lift over the same store, for each metric."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from service_support import Running, error_body, serve_shop

from cartwise.experiments import assign, make_experiment, parse_variants
from cartwise.pipelines import experiments as px
from cartwise.store import Store, open_store

VARIANTS = "control:0.5,b:0.5"
T0 = datetime(2026, 3, 1, 9)


def _prepare(store: Store) -> None:
    px.create_experiment(store, {"key": "hero", "variants": parse_variants(VARIANTS)})
    exp = make_experiment(key="hero", variants=parse_variants(VARIANTS))
    exposures, purchases = [], []
    for i in range(400):
        user = f"u{i}"
        variant = assign(exp, user)
        seen = T0 + timedelta(hours=i % 240)  # exposures spread over ten days
        exposures.append(("hero", user, variant, seen, "api"))
        if i % (3 if variant == "b" else 4) == 0:  # b converts more often
            purchases.append((f"e{i}", seen + timedelta(hours=6), user, f"o{i}", 10.0 + i % 7, 1))
    px.write_exposures(store, exposures)
    frame = pd.DataFrame(
        purchases, columns=["event_id", "ts", "user_id", "order_id", "revenue", "quantity"]
    ).assign(type="purchase")
    store.append("events", pa.Table.from_pandas(frame, preserve_index=False))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_shop(tmp_path_factory.mktemp("timeline"), _prepare, truth="truth.duckdb") as running:
        yield running


@pytest.mark.parametrize("metric", ["conversion", "revenue", "revenue_per_order"])
def test_the_timeline_is_the_pipelines_cumulative_lift(run: Running, metric: str) -> None:
    with run.client("read") as reader:
        response = reader.get("/api/v1/experiments/hero/timeline", params={"metric": metric})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["experiment"], body["metric"]) == ("hero", metric)
    with open_store(run.db.with_name("truth.duckdb"), read_only=True) as store:
        want = px.cumulative_lift(store, "hero", metric=metric)
    assert len(body["points"]) == len(want) >= 4  # eight cuts, the first ones may lack users
    for got, expected in zip(body["points"], want, strict=True):
        assert datetime.fromisoformat(got["ts"].removesuffix("Z")) == expected["ts"]
        assert (got["variant"], got["users"]) == (expected["variant"], expected["users"])
        for field in ("lift", "lift_ci"):  # null while a variant has too few users
            if expected[field] is None:
                assert got[field] is None
            else:
                assert got[field] == pytest.approx(expected[field], rel=1e-12)
    assert any(p["lift_ci"] is not None for p in body["points"])
    assert [p["users"] for p in body["points"]] == sorted(p["users"] for p in body["points"])


def test_the_timeline_refuses_what_it_cannot_answer(run: Running) -> None:
    with run.client("read") as reader, run.client("collect") as shop:
        assert (
            "experiments list" in error_body(reader.get("/api/v1/experiments/nope/timeline"), 404)["message"]
        )
        assert reader.get("/api/v1/experiments/hero/timeline", params={"metric": "clicks"}).status_code == 422
        assert (
            shop.get("/api/v1/experiments/hero/timeline").status_code == 403
        )  # a storefront key reads nothing
