"""Customers API against a real server over a simulated, profiled and churn-scored shop.

Every number is checked against SQL run directly on a copy of the store taken before the
server started (the server holds the store's write lock while it runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from service_support import Running, Shop, error_body, fuzz_operations, serve_shop

from cartwise.pipelines import churn
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.profiles import refresh_profiles
from cartwise.simulate import ShopConfig
from cartwise.store import Store

SHOP = ShopConfig(seed=11, users=1500, items=150, days=180)
TRUTH = "truth.duckdb"


def _profiled_shop(store: Store) -> None:
    build_demo(store, SHOP)
    refresh_profiles(store)
    churn.score_churn(store)


def start_shop(tmp: Path) -> Running:
    """Serve a simulated, profiled and churn-scored small shop, with a copy of its store at `tmp/truth.duckdb`."""
    return serve_shop(tmp, _profiled_shop, truth=TRUTH)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with (
        start_shop(tmp_path_factory.mktemp("customers")) as run,
        duckdb.connect(str(run.db.with_name(TRUTH)), read_only=True) as truth,
    ):
        yield Shop(run, truth)


# -- list and search --------------------------------------------------------------------------------
def test_list_sorted_by_clv_equals_sql(shop: Shop) -> None:
    body = shop.json("/api/v1/customers", sort="-clv_12m", limit=15)
    expected = shop.sql(
        "SELECT user_id, clv_12m, p_alive, orders, revenue, rfm_segment FROM profiles "
        "ORDER BY clv_12m DESC NULLS LAST, user_id LIMIT 15"
    )
    got = [
        (c["user_id"], c["clv_12m"], c["p_alive"], c["orders"], c["revenue"], c["rfm_segment"])
        for c in body["customers"]
    ]
    assert [g[0] for g in got] == [e[0] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[1] == pytest.approx(e[1], abs=0.005) and g[2] == pytest.approx(e[2])
        assert g[3:] == (e[3], pytest.approx(e[4], abs=0.005), e[5])
    assert body["total"] == shop.sql("SELECT count(*) FROM profiles")[0][0]
    assert body["buyers"] == shop.sql("SELECT count(*) FROM profiles WHERE orders >= 1")[0][0]
    assert body["visitors"] == body["total"] - body["buyers"] > 0
    assert body["ready"] is True


def test_search_segment_filter_and_pages(shop: Shop) -> None:
    body = shop.json("/api/v1/customers", q="U0012", segment="Champions", sort="user_id", limit=500)
    expected = shop.sql(
        "SELECT user_id FROM profiles WHERE contains(lower(user_id), 'u0012') AND rfm_segment = 'Champions' "
        "ORDER BY user_id"
    )
    assert [c["user_id"] for c in body["customers"]] == [r[0] for r in expected]
    assert body["total"] == len(expected) > 0
    first = shop.json("/api/v1/customers", sort="-revenue", limit=7)
    second = shop.json("/api/v1/customers", sort="-revenue", limit=7, offset=7)
    both = shop.json("/api/v1/customers", sort="-revenue", limit=14)
    assert [c["user_id"] for c in first["customers"] + second["customers"]] == [
        c["user_id"] for c in both["customers"]
    ]


def test_bad_list_parameters_are_4xx_naming_the_parameter(shop: Shop) -> None:
    with shop.run.client("read") as c:
        assert "`sort`" in error_body(c.get("/api/v1/customers", params={"sort": "password"}), 400)["message"]
        assert (
            "`segment`"
            in error_body(c.get("/api/v1/customers", params={"segment": "nobody"}), 400)["message"]
        )
        body = error_body(c.get("/api/v1/customers", params={"limit": 0}), 422)
        assert body["fields"][0]["field"].endswith("limit")
        body = error_body(c.get("/api/v1/customers/value", params={"holdout_days": 175}), 400)
        assert "`holdout_days`" in body["message"]
        body = error_body(c.get("/api/v1/customers/value", params={"bins": 1}), 422)
        assert body["fields"][0]["field"].endswith("bins")


def test_reading_needs_a_read_key(shop: Shop) -> None:
    with shop.run.client() as anonymous:
        error_body(anonymous.get("/api/v1/customers"), 401)
    with shop.run.client("collect") as collect:
        error_body(collect.get("/api/v1/segments/rfm"), 403)


# -- Customer 360 ------------------------------------------------------------------------------------
def test_customer_360_equals_sql(shop: Shop) -> None:
    user_id = shop.sql("SELECT user_id FROM profiles ORDER BY orders DESC, user_id LIMIT 1")[0][0]
    body = shop.json(f"/api/v1/customers/{user_id}", events=30)
    row = shop.sql(
        "SELECT orders, revenue, rfm_segment, recency_score, frequency_score, monetary_score, p_alive, "
        "expected_purchases_12m, clv_12m, cluster FROM profiles WHERE user_id = ?",
        [user_id],
    )[0]
    p = body["profile"]
    assert (p["orders"], p["rfm_segment"], p["cluster"]) == (row[0], row[2], row[9])
    assert p["revenue"] == pytest.approx(row[1], abs=0.005)
    assert body["rfm"] == {
        "recency_score": row[3],
        "frequency_score": row[4],
        "monetary_score": row[5],
        "segment": row[2],
    }
    assert body["predictions"]["p_alive"] == pytest.approx(row[6])
    assert body["predictions"]["expected_purchases_12m"] == pytest.approx(row[7])
    assert body["predictions"]["clv_12m"] == pytest.approx(row[8], abs=0.005)
    p_churn, p_purchase = shop.sql(
        "SELECT p_churn, p_purchase FROM churn_scores WHERE user_id = ?", [user_id]
    )[0]
    assert body["churn"]["p_churn"] == pytest.approx(p_churn)
    assert body["churn"]["p_purchase"] == pytest.approx(p_purchase)
    assert (
        body["cluster"]["description"]
        == shop.sql("SELECT description FROM clusters WHERE cluster = ?", [row[9]])[0][0]
    )
    n_events, last_ts = shop.sql("SELECT count(*), max(ts) FROM events WHERE user_id = ?", [user_id])[0]
    assert body["events_total"] == n_events and len(body["events"]) == min(30, n_events)
    assert body["events"][0]["ts"] == last_ts.isoformat() + "Z"
    assert [e["ts"] for e in body["events"]] == sorted((e["ts"] for e in body["events"]), reverse=True)
    orders = shop.sql(
        "SELECT order_id FROM orders WHERE user_id = ? ORDER BY ts DESC, order_id LIMIT 20", [user_id]
    )
    assert [o["order_id"] for o in body["orders"]] == [r[0] for r in orders]


def test_unknown_customer_is_404_naming_the_id(shop: Shop) -> None:
    with shop.run.client("read") as c:
        body = error_body(c.get("/api/v1/customers/no-such-shopper"), 404)
    assert "'no-such-shopper'" in body["message"]


# -- segments ---------------------------------------------------------------------------------------
def test_rfm_grid_equals_sql(shop: Shop) -> None:
    body = shop.json("/api/v1/segments/rfm")
    cells = {(c["recency_score"], c["frequency_score"]): c for c in body["cells"]}
    assert len(cells) == 25
    for r in range(1, 6):
        for f in range(1, 6):
            n, revenue = shop.sql(
                "SELECT count(*), coalesce(sum(revenue), 0) FROM profiles WHERE recency_score = ? AND frequency_score = ?",
                [r, f],
            )[0]
            assert cells[(r, f)]["customers"] == n, (r, f)
            assert cells[(r, f)]["revenue"] == pytest.approx(revenue, abs=0.01), (r, f)
    expected = dict(
        shop.sql("SELECT rfm_segment, count(*) FROM profiles WHERE rfm_segment IS NOT NULL GROUP BY ALL")
    )
    assert {s["segment"]: s["customers"] for s in body["segments"] if s["customers"]} == expected
    assert body["totals"]["buyers"] == shop.sql("SELECT count(*) FROM profiles WHERE orders > 0")[0][0]
    assert sum(c["customers"] for c in body["cells"]) == body["totals"]["buyers"]
    # Every cell carries the segment its customers were given.
    for (r, f), cell in cells.items():
        if cell["customers"]:
            assert shop.sql(
                "SELECT DISTINCT rfm_segment FROM profiles WHERE recency_score = ? AND frequency_score = ?",
                [r, f],
            ) == [(cell["segment"],)]


def test_clusters_equal_sql(shop: Shop) -> None:
    body = shop.json("/api/v1/segments/clusters")
    rows = shop.sql("SELECT cluster, size, description, revenue FROM clusters ORDER BY cluster")
    assert [(c["cluster"], c["size"], c["description"]) for c in body["clusters"]] == [r[:3] for r in rows]
    means = dict(
        shop.sql("SELECT cluster, avg(clv_12m) FROM profiles WHERE cluster IS NOT NULL GROUP BY ALL")
    )
    for c in body["clusters"]:
        assert c["avg_clv_12m"] == pytest.approx(means[c["cluster"]], abs=0.005)
        assert c["description"]


RULES = {
    "orders >= 3": "orders >= 3",
    'rfm_segment in ["At risk", "Can\'t lose them"] and email_consent == true': (
        "rfm_segment IN ('At risk', 'Can''t lose them') AND email_consent"
    ),
    'p_alive < 0.5 or country == "DE"': "p_alive < 0.5 OR country = 'DE'",
    "not (recency_score >= 4)": "NOT coalesce(recency_score >= 4, false)",
}


@pytest.mark.parametrize("rule", list(RULES))
def test_live_count_equals_sql(shop: Shop, rule: str) -> None:
    with shop.run.client("read") as c:
        response = c.post("/api/v1/segments/count", json={"rule": rule})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == shop.sql(f"SELECT count(*) FROM profiles WHERE {RULES[rule]}")[0][0]
    assert body["total"] == shop.sql("SELECT count(*) FROM profiles")[0][0]
    # Buyers (an order or more) and visitors (none) apart, each out of its own total.
    buyers = f"({RULES[rule]}) AND coalesce(orders, 0) >= 1"
    assert body["buyers"] == shop.sql(f"SELECT count(*) FROM profiles WHERE {buyers}")[0][0]
    assert body["visitors"] == body["count"] - body["buyers"]
    assert body["buyers_total"] == shop.sql("SELECT count(*) FROM profiles WHERE orders >= 1")[0][0]
    assert body["visitors_total"] == body["total"] - body["buyers_total"] > 0


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("orders >", "does not parse"),
        ("ordres > 2", "Did you mean `orders`?"),
        ('orders > "many"', "`orders` holds a number"),
        ('rfm_segment in ["Lost", 3]', "`rfm_segment` holds a quoted text"),
        ("orders", "is not a condition"),
        ("", "empty"),
    ],
)
def test_bad_rule_is_400_with_the_parsers_message(shop: Shop, rule: str, says: str) -> None:
    with shop.run.client("read") as c:
        body = error_body(c.post("/api/v1/segments/count", json={"rule": rule}), 400)
    assert says in body["message"]


def test_a_rule_with_a_lone_surrogate_escape_is_refused_naming_the_field(shop: Shop) -> None:
    # JSON may escape half a surrogate pair ("\ud800"); it decodes to no valid text, which the
    # request model refuses before any rule parser or store sees it.
    raw = b'{"rule": "country == \\"DE\\ud800\\""}'
    with shop.run.client("read") as c:
        for route in ("/api/v1/segments/count", "/api/v1/audiences/count"):
            answer = c.post(route, content=raw, headers={"Content-Type": "application/json"})
            assert answer.status_code == 422, (route, answer.text)
            assert answer.json()["fields"][0]["field"] == "rule"


def test_save_list_filter_and_delete_a_segment(shop: Shop) -> None:
    rule = "orders >= 4 and p_alive >= 0.5"
    size = shop.sql("SELECT count(*) FROM profiles WHERE orders >= 4 AND p_alive >= 0.5")[0][0]
    segment = {"name": "keen regulars", "rule": rule, "description": "worth a thank-you"}
    with shop.run.client("read") as reader:
        error_body(reader.post("/api/v1/segments", json=segment), 403)
    with shop.run.client("admin") as admin:
        saved = admin.post("/api/v1/segments", json=segment)
        assert saved.status_code == 201, saved.text
        assert saved.json() == {**segment, "size": size, "replaced": False}
        assert (
            "RFM segment"
            in error_body(admin.post("/api/v1/segments", json={**segment, "name": "Lost"}), 400)["message"]
        )
        listed = {s["name"]: s for s in admin.get("/api/v1/segments").json()["segments"]}
        assert listed["keen regulars"]["size"] == size
        assert [h["size"] for h in listed["keen regulars"]["history"]] == [size]
        members = admin.get("/api/v1/customers", params={"segment": "keen regulars", "limit": 500}).json()
        expected = shop.sql(
            "SELECT user_id FROM profiles WHERE orders >= 4 AND p_alive >= 0.5 ORDER BY revenue DESC, user_id"
        )
        assert [c["user_id"] for c in members["customers"]] == [r[0] for r in expected]
        detail = admin.get(f"/api/v1/customers/{expected[0][0]}").json()
        assert "keen regulars" in [s["name"] for s in detail["segments"]]
        assert admin.delete("/api/v1/segments/keen regulars").json() == {
            "name": "keen regulars",
            "deleted": True,
        }
        assert "'keen regulars'" in error_body(admin.delete("/api/v1/segments/keen regulars"), 404)["message"]


# -- lifetime value -----------------------------------------------------------------------------------
def test_lifetime_value_equals_sql(shop: Shop) -> None:
    body = shop.json("/api/v1/customers/value", bins=12, top=10)
    scored = shop.sql("SELECT count(*), sum(clv_12m) FROM profiles WHERE clv_12m IS NOT NULL")[0]
    assert body["summary"]["customers"] == scored[0]
    assert body["summary"]["total"] == pytest.approx(scored[1], abs=0.01)
    bins = body["histogram"]
    assert len(bins) == 12 and bins[-1]["upper"] is None
    assert sum(b["customers"] for b in bins) == scored[0]
    for b in bins:
        upper = b["upper"] if b["upper"] is not None else float("inf")
        n = shop.sql("SELECT count(*) FROM profiles WHERE clv_12m >= ? AND clv_12m < ?", [b["lower"], upper])[
            0
        ][0]
        assert b["customers"] == n, b
    top = shop.sql(
        "SELECT user_id, clv_12m FROM profiles WHERE clv_12m IS NOT NULL ORDER BY clv_12m DESC, user_id LIMIT 10"
    )
    assert [(c["user_id"], c["clv_12m"]) for c in body["top_customers"]] == [
        (u, pytest.approx(v, abs=0.005)) for u, v in top
    ]


def test_calibration_holdout_actuals_equal_sql_and_predictions_track_them(shop: Shop) -> None:
    calibration = shop.json("/api/v1/customers/value", holdout_days=60)["calibration"]
    end = calibration["calibration_end"]
    last = shop.sql("SELECT max(ts)::DATE FROM orders")[0][0]
    assert end == (last - timedelta(days=60)).isoformat()
    # Purchases are counted in calendar days: repeat days before the end, days after it.
    actual = shop.sql(
        """WITH days AS (SELECT DISTINCT user_id, ts::DATE AS day FROM orders),
           per AS (SELECT user_id, count(*) FILTER (WHERE day <= ?::DATE) - 1 AS x,
                          count(*) FILTER (WHERE day > ?::DATE) AS holdout
                   FROM days GROUP BY user_id HAVING count(*) FILTER (WHERE day <= ?::DATE) > 0)
           SELECT least(x, 7), count(*), avg(holdout) FROM per GROUP BY 1 ORDER BY 1""",
        [end, end, end],
    )
    got = [(g["frequency"], g["customers"], g["actual"]) for g in calibration["groups"]]
    assert got == [(x, n, pytest.approx(mean)) for x, n, mean in actual]
    assert calibration["groups"][-1]["label"] == "7+"
    # The simulator draws purchases from a BG/NBD process, so the fitted model should track it.
    assert calibration["total_predicted"] == pytest.approx(calibration["total_actual"], rel=0.2)
    # P(alive) bins: every calibration customer once, repeat rates as SQL counts them.
    assert calibration["model"] in ("mbgnbd", "pareto")
    bins = calibration["alive_bins"]
    assert sum(b["customers"] for b in bins) == calibration["customers"]
    assert all(b["lower"] <= b["mean_p_alive"] <= b["upper"] for b in bins)
    bought = shop.sql(
        """WITH days AS (SELECT DISTINCT user_id, ts::DATE AS day FROM orders),
           per AS (SELECT user_id, count_if(day > ?::DATE) > 0 AS again FROM days
                   GROUP BY user_id HAVING count_if(day <= ?::DATE) > 0)
           SELECT avg(again::INT) FROM per""",
        [end, end],
    )[0][0]
    overall = sum(b["repeat_rate"] * b["customers"] for b in bins) / calibration["customers"]
    assert overall == pytest.approx(bought)


def test_page_json_twin_serves_the_same_numbers(shop: Shop) -> None:
    page = shop.json("/api/v1/pages/customers")
    assert page["status"] == "ready" and page["title"] == "Customers"
    data = page["data"]
    assert data["rfm"]["cells"] == shop.json("/api/v1/segments/rfm")["cells"]
    assert data["clusters"] == shop.json("/api/v1/segments/clusters")
    value = shop.json("/api/v1/customers/value")
    assert data["value"]["top_customers"] == value["top_customers"]
    assert data["value"]["calibration"]["groups"] == value["calibration"]["groups"]
    assert data["customers"]["customers"] == shop.json("/api/v1/customers")["customers"]
    # Typed routes answer exactly what the page built: no key dropped, added or converted.
    assert data["rfm"] == shop.json("/api/v1/segments/rfm")
    assert data["customers"] == shop.json("/api/v1/customers")
    assert data["segments"] == shop.json("/api/v1/segments")["segments"]


# -- a store without profiles -------------------------------------------------------------------------
def test_before_profiles_are_built_the_answers_say_how_to_build_them(running: Running) -> None:
    with running.client("read") as c:
        listing = c.get("/api/v1/customers").json()
        assert listing["ready"] is False and listing["customers"] == []
        assert "cartwise profiles build" in listing["message"]
        assert c.get("/api/v1/segments/rfm").json()["ready"] is False
        assert c.get("/api/v1/customers/value").json()["ready"] is False
        assert "cartwise profiles build" in error_body(c.get("/api/v1/customers/u1"), 404)["message"]
        body = error_body(c.post("/api/v1/segments/count", json={"rule": "orders > 1"}), 404)
        assert "cartwise profiles build" in body["message"]
        page = c.get("/api/v1/pages/customers").json()
        assert page["data"]["ready"] is False


# -- generated requests -------------------------------------------------------------------------------
def test_generated_requests_never_get_a_servererror_body(shop: Shop) -> None:
    schemathesis = pytest.importorskip("schemathesis")

    schema = schemathesis.openapi.from_url(shop.run.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {shop.run.keys['admin']}"}
    checked = fuzz_operations(
        schema,
        headers,
        lambda path: path.startswith(("/api/v1/customers", "/api/v1/segments")),
        max_examples=10,
    )
    # 9 customer and segment routes, plus the privacy routes (export, erase) under /customers.
    assert len(checked) == 11, checked
