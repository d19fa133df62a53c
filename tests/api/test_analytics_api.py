"""The analytics routes on a real server over a simulated shop: every number equals the
analytics library's answer on the same store; bad input gets a 4xx naming the parameter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from service_support import Running, error_body, fuzz_operations, serve_shop

from cartwise.analytics import basket_rules, funnel, kpis, retention, suggest_min_support
from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.service import keys as keys_job
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store

SHOP = ShopConfig(seed=11, users=1500, items=150, days=120)
TILES = (
    "revenue",
    "orders",
    "aov",
    "visitors",
    "conversion_rate",
    "new_customers",
    "returning_customers",
    "repeat_purchase_rate",
)


@dataclass
class DemoShop:
    """A server over a simulated shop, and a read-only copy of the store taken before it started."""

    running: Running
    reference: Store

    @property
    def url(self) -> str:
        return self.running.url

    def get(self, path: str, scope: str = "read", **params: Any) -> httpx.Response:
        with self.running.client(scope) as client:
            return client.get(path, params=params)

    def ok(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def events(self) -> Any:
        return self.reference.ibis().table("events")

    # `with start_demo_shop(...) as shop:` stops the server and closes the copy when the block ends.
    def __enter__(self) -> DemoShop:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.running.server.stop()
        self.reference.close()


def start_demo_shop(tmp: Path) -> DemoShop:
    """Serve the simulated shop; answers are checked against an identical copy of its store."""
    running = serve_shop(tmp, lambda store: build_demo(store, SHOP), truth="reference.duckdb")
    settings = get_settings(db=running.db, memory_limit="512MB", threads=1)
    return DemoShop(running, open_store(tmp / "reference.duckdb", settings=settings, read_only=True))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoShop]:
    with start_demo_shop(tmp_path_factory.mktemp("analytics")) as demo:
        yield demo


def _same_steps(api_steps: list[dict[str, Any]], frame: Any) -> None:
    rows = frame.to_dict("records")
    assert [s["step"] for s in api_steps] == [r["step"] for r in rows]
    for got, want in zip(api_steps, rows, strict=True):
        assert got["users"] == want["users"]
        assert got["dropped"] == want["dropped"]
        assert got["conversion_from_previous"] == pytest.approx(want["conversion_from_previous"])
        assert got["conversion_from_first"] == pytest.approx(want["conversion_from_first"])
        if pd.isna(want["median_seconds_from_previous"]):
            assert got["median_seconds_from_previous"] is None
        else:
            assert got["median_seconds_from_previous"] == pytest.approx(want["median_seconds_from_previous"])


# -- KPIs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_kpis_equal_the_library(shop: DemoShop, grain: str) -> None:
    body = shop.ok("/api/v1/analytics/kpis", grain=grain)
    frame = kpis(shop.events(), grain)
    assert body["grain"] == grain
    assert [p["period_start"] for p in body["periods"]] == [d.isoformat() for d in frame.period_start]
    for got, want in zip(body["periods"], frame.to_dict("records"), strict=True):
        for column, value in want.items():
            if column in ("period", "period_start"):
                continue
            assert got[column] == pytest.approx(value), (grain, got["period_start"], column)


def test_kpi_tiles_compare_the_last_complete_period_with_the_one_before(shop: DemoShop) -> None:
    last_event = shop.reference.con.execute("SELECT max(ts) FROM events").fetchall()[0][0]
    cutoff = last_event.date() + timedelta(days=1)
    for grain in ("week", "month"):
        body = shop.ok("/api/v1/analytics/kpis", grain=grain)
        frame = kpis(shop.events(), grain)
        ends = [p["period_end"] for p in body["periods"]]
        complete = [i for i, end in enumerate(ends) if date.fromisoformat(end) <= cutoff]
        row = frame.iloc[complete[-1]]
        tiles = body["tiles"]
        assert tiles["period_start"] == row.period_start.isoformat() and tiles["partial"] is False
        assert [t["kpi"] for t in tiles["kpis"]] == list(TILES)
        for tile in tiles["kpis"]:
            value, previous = row[tile["kpi"]], row[f"{tile['kpi']}_prev"]
            assert tile["value"] == pytest.approx(value)
            assert tile["previous"] == pytest.approx(previous)
            assert tile["change"] == pytest.approx((value - previous) / previous)
    # The simulated data stop on a Wednesday: the last week is partial and not a tile.
    weeks = shop.ok("/api/v1/analytics/kpis", grain="week")
    assert weeks["periods"][-1]["partial"] is True
    assert weeks["tiles"]["period_start"] == weeks["periods"][-2]["period_start"]


def test_kpis_in_a_date_range(shop: DemoShop) -> None:
    body = shop.ok("/api/v1/analytics/kpis", grain="day", start="2025-02-01", end="2025-03-01")
    frame = kpis(shop.events(), "day", start="2025-02-01", end="2025-03-01")
    assert len(body["periods"]) == len(frame) == 28
    assert [p["revenue"] for p in body["periods"]] == pytest.approx(list(frame.revenue))
    assert [p["new_customers"] for p in body["periods"]] == list(frame.new_customers)
    # Every day of the range is complete: the tile is its last day.
    assert body["tiles"]["period_start"] == "2025-02-28"


# -- funnel ---------------------------------------------------------------------------------------
def test_default_funnel_equals_the_library(shop: DemoShop) -> None:
    body = shop.ok("/api/v1/analytics/funnel")
    users = shop.reference.ibis().table("users")
    expected = funnel(shop.events(), "view,add_to_cart,purchase", "1d", users=users, dropped=False)
    assert body["steps_param"] == "view,add_to_cart,purchase" and body["window_seconds"] == 86_400
    _same_steps(body["steps"], expected.steps)
    assert body["steps"][0]["users"] > body["steps"][2]["users"] > 0
    assert body["segments"] == []


def test_funnel_with_filters_window_range_and_breakdown(shop: DemoShop) -> None:
    params = {
        "steps": "view[device=mobile],begin_checkout,purchase",
        "window": "2h",
        "breakdown": "acquisition_channel",
        "start": "2025-02-01",
        "end": "2025-04-01T00:00:00Z",
    }
    body = shop.ok("/api/v1/analytics/funnel", **params)
    expected = funnel(
        shop.events(),
        params["steps"],
        "2h",
        start=datetime(2025, 2, 1),
        end=datetime(2025, 4, 1),
        breakdown="acquisition_channel",
        users=shop.reference.ibis().table("users"),
        dropped=False,
    )
    _same_steps(body["steps"], expected.steps)
    by_segment = expected.by_segment
    assert by_segment is not None
    got = {s["segment"]: s["steps"] for s in body["segments"]}
    want_segments = list(dict.fromkeys(None if v != v else v for v in by_segment.segment))
    assert set(got) == set(want_segments)
    for segment in want_segments:
        mask = by_segment.segment.isna() if segment is None else by_segment.segment == segment
        _same_steps(got[segment], by_segment[mask])
    firsts = [s["steps"][0]["users"] for s in body["segments"]]
    assert firsts == sorted(firsts, reverse=True)


def test_funnel_by_an_events_property(shop: DemoShop) -> None:
    body = shop.ok(
        "/api/v1/analytics/funnel", steps="search,view,add_to_cart", window="30m", breakdown="device"
    )
    expected = funnel(shop.events(), "search,view,add_to_cart", "30m", breakdown="device", dropped=False)
    _same_steps(body["steps"], expected.steps)
    assert {s["segment"] for s in body["segments"]} == set(expected.by_segment.segment)  # type: ignore[union-attr]


# -- retention ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("grain", "cohort", "activity"), [("week", "first_purchase", "any"), ("month", "first_seen", "purchase")]
)
def test_retention_equals_the_library(shop: DemoShop, grain: str, cohort: str, activity: str) -> None:
    body = shop.ok("/api/v1/analytics/retention", grain=grain, cohort=cohort, activity=activity)
    frame = retention(shop.events(), grain, cohort=cohort, activity=activity)  # type: ignore[arg-type]
    cohorts = sorted(frame.cohort.unique())
    assert len(body["cohorts"]) == len(cohorts) > 2
    assert body["periods"] == int(frame.period.max()) + 1
    for got, key in zip(body["cohorts"], cohorts, strict=True):
        rows = frame[frame.cohort == key].sort_values("period")
        assert got["cohort_start"] == rows.cohort_start.iloc[0].isoformat()
        assert got["cohort_users"] == rows.cohort_users.iloc[0]
        assert got["active_users"] == list(rows.active_users)
        for column in ("retention", "revenue", "revenue_retention", "ltv"):
            assert got[column] == pytest.approx(list(rows[column])), column
        assert got["ltv"][-1] == pytest.approx(rows.revenue.sum() / rows.cohort_users.iloc[0])


# -- rules ----------------------------------------------------------------------------------------
def _library_rules(shop: DemoShop, min_support: float, min_confidence: float) -> Any:
    lines = shop.reference.arrow("SELECT order_id, item_id FROM order_lines")
    return basket_rules(lines, min_support=min_support, min_confidence=min_confidence)


def test_rules_equal_the_library_sorted_by_lift(shop: DemoShop) -> None:
    body = shop.ok("/api/v1/analytics/rules", page_size=200, min_support=0.005)
    assert body["support_source"] == "given" and body["min_support"] == 0.005
    expected = _library_rules(shop, 0.005, 0.1)
    assert body["baskets"] == expected.baskets
    assert body["total_rules"] == body["matching"] == len(expected.rules) > 5
    got = [
        ([i["item_id"] for i in r["antecedents"]], [i["item_id"] for i in r["consequents"]])
        for r in body["rules"]
    ]
    want = [
        (list(a), list(c))
        for a, c in zip(expected.rules.antecedents, expected.rules.consequents, strict=True)
    ]
    assert got == want
    assert [r["lift"] for r in body["rules"]] == pytest.approx(list(expected.rules.lift))
    assert [r["confidence"] for r in body["rules"]] == pytest.approx(list(expected.rules.confidence))
    assert [r["support"] for r in body["rules"]] == pytest.approx(list(expected.rules.support))
    lifts = [r["lift"] for r in body["rules"]]
    assert lifts == sorted(lifts, reverse=True)
    titles = dict(shop.reference.con.execute("SELECT item_id, title FROM items").fetchall())
    assert all(i["title"] == titles[i["item_id"]] for r in body["rules"] for i in r["antecedents"])


def test_rules_support_is_picked_from_the_data_and_said(shop: DemoShop) -> None:
    """Without `min_support`, the support at which about 25 item pairs are held by 2+ orders."""
    body = shop.ok("/api/v1/analytics/rules", page_size=200)
    lines = shop.reference.arrow("SELECT order_id, item_id FROM order_lines")
    choice = suggest_min_support(lines, target_pairs=25)
    assert choice.min_support is not None
    assert body["support_source"] == "data" and body["target_pairs"] == 25
    assert body["min_support"] == choice.min_support
    assert body["support_orders"] == choice.min_baskets >= 2
    expected = basket_rules(lines, min_support=choice.min_support, min_confidence=0.1)
    assert body["total_rules"] == len(expected.rules) > 0
    assert choice.pairs >= 25


def test_rules_over_the_orders_of_a_date_range(shop: DemoShop) -> None:
    body = shop.ok(
        "/api/v1/analytics/rules", min_support=0.01, start="2025-03-01", end="2025-04-01", page_size=200
    )
    lines = shop.reference.arrow(
        "SELECT l.order_id, l.item_id FROM order_lines l JOIN orders o USING (order_id) "
        "WHERE o.ts >= '2025-03-01' AND o.ts < '2025-04-01'"
    )
    expected = basket_rules(lines, min_support=0.01, min_confidence=0.1)
    everything = shop.ok("/api/v1/analytics/rules", min_support=0.01, page_size=200)
    assert (body["start"], body["end"]) == ("2025-03-01T00:00:00", "2025-04-01T00:00:00")
    assert body["baskets"] == expected.baskets < everything["baskets"]
    assert body["total_rules"] == len(expected.rules) > 0
    assert [r["lift"] for r in body["rules"]] == pytest.approx(list(expected.rules.lift))
    assert [[i["item_id"] for i in r["antecedents"]] for r in body["rules"]] == [
        list(a) for a in expected.rules.antecedents
    ]


def test_rules_thresholds_pages_and_search(shop: DemoShop) -> None:
    expected = _library_rules(shop, 0.003, 0.2)
    everything = shop.ok("/api/v1/analytics/rules", min_support=0.003, min_confidence=0.2, page_size=200)
    assert everything["total_rules"] == len(expected.rules)
    page2 = shop.ok("/api/v1/analytics/rules", min_support=0.003, min_confidence=0.2, page=2, page_size=5)
    assert [r["rank"] for r in page2["rules"]] == [6, 7, 8, 9, 10]
    assert page2["rules"] == everything["rules"][5:10]
    assert page2["pages"] == -(-len(expected.rules) // 5)
    # Search by a word of an item's title, then by part of an item id, ignoring case.
    titles = dict(shop.reference.con.execute("SELECT item_id, title FROM items").fetchall())
    first_item = everything["rules"][0]["consequents"][0]["item_id"]
    word = max(titles[first_item].split(), key=len).upper()
    for q in (word, first_item.lower()):
        found = shop.ok("/api/v1/analytics/rules", min_support=0.003, min_confidence=0.2, q=q, page_size=200)
        needle = q.casefold()
        want = [
            r
            for r in everything["rules"]
            if any(
                needle in i["item_id"].casefold() or needle in (i["title"] or "").casefold()
                for i in r["antecedents"] + r["consequents"]
            )
        ]
        assert 0 < found["matching"] == len(want) == len(found["rules"]) < everything["total_rules"]
        assert [r["rank"] for r in found["rules"]] == list(range(1, len(want) + 1))
        assert [r["antecedents"] for r in found["rules"]] == [r["antecedents"] for r in want]
    nothing = shop.ok("/api/v1/analytics/rules", q="no such item anywhere")
    assert nothing["matching"] == 0 and nothing["rules"] == [] and nothing["total_rules"] > 0


def test_dropped_users_are_the_library_s_a_page_at_a_time_or_as_csv(shop: DemoShop) -> None:
    params = {
        "steps": "view[device=mobile],add_to_cart,purchase",
        "window": "2h",
        "start": "2025-02-01",
        "end": "2025-04-01",
    }
    expected = funnel(
        shop.events(), params["steps"], "2h", start=datetime(2025, 2, 1), end=datetime(2025, 4, 1)
    )
    counts = {s["step"]: s["dropped"] for s in shop.ok("/api/v1/analytics/funnel", **params)["steps"]}
    for step in ("add_to_cart", "purchase"):
        everyone = expected.dropped[step]
        assert counts[step] == len(everyone) > 60
        first = shop.ok("/api/v1/analytics/funnel/dropped", step=step, page_size=50, **params)
        assert first["step"] == step and first["total"] == len(everyone)
        assert first["pages"] == -(-len(everyone) // 50)
        assert first["users"] == everyone[:50]
        second = shop.ok("/api/v1/analytics/funnel/dropped", step=step, page_size=50, page=2, **params)
        assert second["users"] == everyone[50:100]
        response = shop.get("/api/v1/analytics/funnel/dropped", step=step, format="csv", **params)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == f'attachment; filename="dropped-at-{step}.csv"'
        assert response.text.splitlines() == ["user_id", *everyone]
    # A step with filters may be written with spaces; the first step has nobody dropped at it.
    spaced = shop.ok(
        "/api/v1/analytics/funnel/dropped",
        steps="view,add_to_cart[device=mobile]",
        step="add_to_cart[ device = mobile ]",
    )
    assert spaced["step"] == "add_to_cart[device=mobile]"
    assert spaced["total"] == len(
        funnel(shop.events(), "view,add_to_cart[device=mobile]").dropped[spaced["step"]]
    )
    for step in ("view[device=mobile]", "search", ""):
        body = error_body(shop.get("/api/v1/analytics/funnel/dropped", step=step, **params), 400)
        assert body["fields"][0]["field"] == "step"
        assert "add_to_cart, purchase" in body["message"], body["message"]


# -- the page's JSON twin -------------------------------------------------------------------------
def test_page_json_is_the_default_of_each_route(shop: DemoShop) -> None:
    page = shop.ok("/api/v1/pages/analytics")
    assert page["status"] == "ready" and page["title"] == "Analytics"
    data = page["data"]
    assert data["kpis"] == shop.ok("/api/v1/analytics/kpis")
    # The funnel: the last 30 days with data, the day of the last event included.
    last_day = date.fromisoformat(data["kpis"]["last_event"][:10])
    assert data["defaults"]["funnel_to"] == last_day.isoformat()
    assert data["defaults"]["funnel_from"] == (last_day - timedelta(days=29)).isoformat()
    assert data["funnel"] == shop.ok(
        "/api/v1/analytics/funnel",
        start=data["defaults"]["funnel_from"],
        end=(last_day + timedelta(days=1)).isoformat(),
    )
    assert data["retention"] == shop.ok("/api/v1/analytics/retention")
    assert data["rules"] == shop.ok("/api/v1/analytics/rules")
    assert data["options"]["event_types"][0] == "view"
    assert {"acquisition_channel", "country", "device", "item_id"} <= set(data["options"]["breakdowns"])


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "field", "mentions"),
    [
        ({"steps": "view,checkout_started"}, "steps", ["'checkout_started'", "add_to_cart", "purchase"]),
        ({"steps": "view"}, "steps", ["2 to 8", "view,add_to_cart,purchase"]),
        ({"steps": "view,view"}, "steps", ["repeats", "'view'"]),
        ({"steps": "view[device],purchase"}, "steps", ["column=value"]),
        ({"window": "a day"}, "window", ["'a day'", "30m", "1d", "7d"]),
        ({"window": "0m"}, "window", ["above 0"]),
        ({"window": "999999999999w"}, "window", ["not a duration"]),
        ({"window": "400d"}, "window", ["366d"]),
        ({"breakdown": "email"}, "breakdown", ["'email'", "acquisition_channel", "device"]),
        ({"start": "yesterday"}, "start", ["'yesterday'", "ISO"]),
        ({"start": "2025-03-01", "end": "2025-02-01"}, "end", ["after the start, 2025-03-01"]),
    ],
)
def test_bad_funnel_input_is_400_naming_the_parameter(
    shop: DemoShop, params: dict[str, str], field: str, mentions: list[str]
) -> None:
    body = error_body(shop.get("/api/v1/analytics/funnel", **params), 400)
    assert body["fields"][0]["field"] == field
    assert f"`{field}`" in body["message"] and body["parameter"] == field
    assert "--" not in body["message"]  # speaks of parameters, not of the CLI's flags
    for text in mentions:
        assert text in body["message"], body["message"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/analytics/kpis", {"grain": "year"}, "grain"),
        ("/api/v1/analytics/retention", {"grain": "day"}, "grain"),
        ("/api/v1/analytics/retention", {"cohort": "signup"}, "cohort"),
        ("/api/v1/analytics/retention", {"activity": "view"}, "activity"),
        ("/api/v1/analytics/rules", {"min_support": "0"}, "min_support"),
        ("/api/v1/analytics/rules", {"min_confidence": "1.5"}, "min_confidence"),
        ("/api/v1/analytics/rules", {"min_support": "nan"}, "min_support"),
        ("/api/v1/analytics/rules", {"page": "0"}, "page"),
        ("/api/v1/analytics/rules", {"page_size": "1000"}, "page_size"),
    ],
)
def test_bad_choices_are_422_naming_the_parameter(
    shop: DemoShop, path: str, params: dict[str, str], field: str
) -> None:
    body = error_body(shop.get(path, **params), 422)
    assert body["fields"][0]["field"] == f"query.{field}" and body["parameter"] == field


def test_bad_dates_are_400(shop: DemoShop) -> None:
    body = error_body(shop.get("/api/v1/analytics/kpis", start="2025-13-01"), 400)
    assert body["fields"][0]["field"] == "start" and "ISO" in body["message"]
    body = error_body(shop.get("/api/v1/analytics/retention", start="2025-03-01", end="2025-03-01"), 400)
    assert body["fields"][0]["field"] == "end"
    for path in ("kpis", "funnel", "retention"):
        # Far dates are fine; one that leaves the calendar once moved to UTC is not.
        assert shop.get(f"/api/v1/analytics/{path}", start="0001-01-01", end="9999-12-31").status_code == 200
        body = error_body(shop.get(f"/api/v1/analytics/{path}", start="9999-12-31T23:59-05:00"), 400)
        assert body["fields"][0]["field"] == "start" and "out of range" in body["message"], path


def test_credentials_and_scope(shop: DemoShop) -> None:
    with httpx.Client(base_url=shop.url) as anonymous:
        assert error_body(anonymous.get("/api/v1/analytics/kpis"), 401)["error"] == "unauthorized"
    assert error_body(shop.get("/api/v1/analytics/rules", scope="collect"), 403)["error"] == "forbidden"
    assert shop.get("/api/v1/analytics/kpis", scope="admin").status_code == 200


def test_generated_requests_never_fail_on_the_server(shop: DemoShop) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_url(shop.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {shop.running.keys['read']}"}
    checked = fuzz_operations(
        schema, headers, lambda path: path.startswith("/api/v1/analytics/"), max_examples=15
    )
    checked = [c.split(" ", 1)[1] for c in checked]
    assert sorted(checked) == [
        "/api/v1/analytics/funnel",
        "/api/v1/analytics/funnel/dropped",
        "/api/v1/analytics/kpis",
        "/api/v1/analytics/retention",
        "/api/v1/analytics/rules",
    ]


# Starlette warns that its test client will move to another HTTP package; nothing to act on here.
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_an_empty_shop_gets_empty_views_not_errors(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cartwise.api.app import create_app

    # The application in this process (its lifespan opens the store), over a store with no data.
    settings = get_settings(db=tmp_path / "empty.duckdb", memory_limit="256MB", threads=1)
    with open_store(settings.db, settings=settings) as store:
        _, key = keys_job.create_key(store, scope="read", name="test-read")
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {key}"}) as api:
        page = api.get("/api/v1/pages/analytics").json()["data"]
        assert page["kpis"]["periods"] == [] and page["kpis"]["tiles"] is None
        assert page["funnel"] is None
        assert page["retention"]["cohorts"] == [] and page["rules"]["rules"] == []
        assert page["options"]["event_types"] == []
        assert api.get("/api/v1/analytics/kpis", params={"grain": "day"}).json()["periods"] == []
        assert api.get("/api/v1/analytics/retention", params={"grain": "month"}).json()["cohorts"] == []
        assert api.get("/api/v1/analytics/rules", params={"q": "x"}).json()["baskets"] == 0
        body = error_body(api.get("/api/v1/analytics/funnel"), 400)
        assert body["fields"][0]["field"] == "steps" and "(no events yet)" in body["message"]
