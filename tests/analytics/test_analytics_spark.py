"""The same analytics expressions give the same answers on DuckDB and on Spark (local mode)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cartwise.analytics import funnel, kpis, retention

pytest.importorskip("pyspark")
pytestmark = pytest.mark.slow


def shop_events(seed: int = 11) -> pa.Table:
    """~3,000 events of 300 users over 10 weeks, whole-second times (Spark's epoch resolution)."""
    rng = np.random.default_rng(seed)
    n = 3000
    user = rng.integers(0, 300, n)
    start = rng.integers(0, 50, 300)[user]
    seconds = (start + rng.exponential(6, n).clip(0, 20)) * 86_400 + rng.integers(0, 86_400, n)
    ts = np.datetime64("2026-03-02") + seconds.astype("int64").astype("timedelta64[s]")
    types = rng.choice(
        ["view", "add_to_cart", "begin_checkout", "purchase", "refund"], n, p=[0.55, 0.2, 0.1, 0.13, 0.02]
    )
    purchase = types == "purchase"
    price = np.round(rng.gamma(2, 10, n), 2)
    return pa.table(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "ts": pa.array(ts.astype("datetime64[us]")),
            "user_id": [f"u{u}" for u in user],
            "session_id": pa.array(
                [
                    f"s{u}-{d}" if d % 5 else None
                    for u, d in zip(user, (seconds // 86_400).astype(int), strict=True)
                ]
            ),
            "type": types,
            "quantity": pa.array(np.where(types == "refund", -1, rng.integers(1, 3, n))),
            "price": price,
            "order_id": pa.array([f"o{i // 2}" if p else None for i, p in enumerate(purchase)]),
            "revenue": pa.array(
                np.where(purchase, price, np.where(types == "refund", -price, np.nan)), from_pandas=True
            ),
            "device": rng.choice(["mobile", "desktop"], n),
        }
    )


@pytest.fixture(scope="module")
def engines() -> dict[str, ibis.Table]:
    from cartwise.pipelines.analytics import spark_tables

    data = shop_events()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("source", data)
    con.execute("CREATE TABLE events AS SELECT * FROM source")
    duck = ibis.duckdb.from_connection(con)
    return {"duckdb": duck.table("events"), "spark": spark_tables({"events": data})["events"]}


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False, rtol=1e-9
    )


def test_kpis_agree(engines: dict[str, ibis.Table]) -> None:
    duck, spark = (kpis(engines[e], "week") for e in ("duckdb", "spark"))
    assert duck.revenue.sum() > 0 and len(duck) >= 8
    same(duck, spark)


def test_funnel_agrees(engines: dict[str, ibis.Table]) -> None:
    args = ("view,add_to_cart,purchase", "1d")
    duck, spark = (
        funnel(engines[e], *args, breakdown="device", start=datetime(2026, 3, 9)) for e in ("duckdb", "spark")
    )
    assert duck.steps.users.iloc[-1] > 0
    same(duck.steps, spark.steps)
    same(duck.by_segment, spark.by_segment)
    assert duck.dropped == spark.dropped


def test_retention_agrees(engines: dict[str, ibis.Table]) -> None:
    duck, spark = (retention(engines[e], "week", cohort="first_seen") for e in ("duckdb", "spark"))
    assert duck.active_users.sum() > 0
    same(duck, spark)


def test_jobs_give_the_same_answer_with_engine_spark(tmp_path: Path) -> None:
    """The `--engine spark` path: a file loaded like `cartwise ingest`, then queried on Spark."""
    from cartwise.ingest import LoadOptions
    from cartwise.pipelines.analytics import Source, run_funnel

    path = tmp_path / "events.parquet"
    pq.write_table(shop_events().drop_columns(["device"]), path)
    answers = [
        run_funnel(
            Source(events_file=path, options=LoadOptions(), engine=engine),
            "view,add_to_cart,purchase",
            "1d",
        )
        for engine in ("duckdb", "spark")
    ]
    assert answers[0]["steps"][2]["users"] > 0
    assert answers[0] == answers[1]
