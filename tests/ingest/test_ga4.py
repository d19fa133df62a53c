"""`--format ga4`: GA4's BigQuery export (JSON lines and Parquet) into a real store.

The fixture (tests/fixtures/ga4) follows the published export schema: one row per event,
`event_timestamp` in microseconds, nested `event_params` and `items`, `ecommerce`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cartwise.core.errors import ConfigError
from cartwise.ingest import LoadOptions, ingest_file
from cartwise.ingest.ga4 import convert_row
from cartwise.store import Store

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ga4" / "events_20261120.jsonl"
BROWSER = "1234567890.1763632800"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "shop.duckdb")


def _load(store: Store, path: Path) -> dict:
    return ingest_file(store, "events", path, LoadOptions(format="ga4")).to_dict()


def test_events_orders_identity_and_quarantine_from_a_json_export(store: Store, tmp_path: Path) -> None:
    path = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, path)
    summary = _load(store, path)
    # 16 export rows: 12 good ones (the purchase gives two lines: 13 events) and 4 bad ones.
    assert (summary["read"], summary["loaded"], summary["rejected"]) == (17, 13, 4)
    events = store.con.execute(
        "SELECT type, user_id, anonymous_id, item_id, quantity, price, order_id, revenue, properties "
        "FROM events ORDER BY ts, item_id"
    ).fetchall()
    kinds = [e[0] for e in events]
    assert kinds == [
        "session_start",
        "page",
        "view_item_list",
        "view",
        "add_to_cart",
        "search",
        "login",
        "begin_checkout",
        "purchase",
        "purchase",
        "wishlist_share",
        "refund",
        "view",
    ]
    # The browser's anonymous events follow the customer it signed in as (user_id on `login`).
    assert {e[1] for e in events[:12]} == {"cust-9"}
    assert {e[2] for e in events[:12]} == {BROWSER}
    assert events[12][1] == events[12][2] == "555.1763632900"  # never signed in: stays anonymous
    assert store.con.execute("SELECT from_id, into_id, evidence FROM merges").fetchall() == [
        (BROWSER, "cust-9", "identify")
    ]
    view = events[3]
    assert view[3:6] == ("SKU-1", 1, 10.0)
    assert json.loads(view[8])["item_category"] == "Socks"
    assert json.loads(view[8])["country"] == "United Kingdom"
    assert json.loads(events[4][8])["size"] == "M"  # the item's item_params, flattened
    # Purchase: one line per item, order id from ecommerce.transaction_id, item_revenue per line.
    assert store.con.execute("SELECT order_id, user_id, amount, lines, units FROM orders").fetchall() == [
        ("T-1001", "cust-9", 24.5, 2, 3)
    ]
    assert store.con.execute(
        "SELECT item_id, quantity, price, revenue FROM order_lines ORDER BY item_id"
    ).fetchall() == [("SKU-1", 2, 10.0, 20.0), ("SKU-3", 1, 4.5, 4.5)]
    purchase = json.loads(events[8][8])
    assert purchase["purchase_revenue"] == 24.5 and purchase["shipping_value"] == 3.5
    assert events[11][6:8] == ("T-1001", -4.5)  # a refund without items: minus refund_value
    # Unknown parameters and names are kept: a custom type with its parameters in properties.
    custom = json.loads(events[10][8])
    assert custom["share_channel"] == "whatsapp" and custom["wishlist_size"] == 3
    assert custom["user_properties"] == {"plan": "gold"}
    assert json.loads(events[5][8])["query"] == "wool socks"
    assert [i["item_id"] for i in json.loads(events[2][8])["items"]] == ["SKU-1", "SKU-2"]
    sessions = store.con.execute("SELECT DISTINCT session_id FROM events WHERE user_id = 'cust-9'").fetchall()
    assert sessions == [(f"{BROWSER}-1763632800",)]
    # Bad rows are quarantined with their line numbers and the reason.
    bad = store.con.execute('SELECT "row", "column", value, reason FROM quarantine ORDER BY "row"').fetchall()
    assert [(b[0], b[1]) for b in bad] == [(13, None), (14, None), (15, None), (16, "price")]
    assert "event_timestamp" in bad[0][3] and "not valid JSON" in bad[1][3] and "`items`" in bad[2][3]
    assert bad[3][2] == "N/A"
    # Loading the same export again adds nothing.
    again = _load(store, path)
    assert (again["loaded"], again["duplicates"]) == (0, 13)


def test_parquet_export_loads_the_same_events(store: Store, tmp_path: Path) -> None:
    rows = []
    for line in FIXTURE.read_text().splitlines()[:12]:  # the well-formed rows
        record = json.loads(line)
        record["event_timestamp"] = int(record["event_timestamp"])
        rows.append(record)
    parquet = tmp_path / "events_20261120.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    assert _load(store, parquet)["loaded"] == 13
    from_json = Store(tmp_path / "json.duckdb")
    head = tmp_path / "head.jsonl"
    head.write_text("\n".join(FIXTURE.read_text().splitlines()[:12]) + "\n")
    _load(from_json, head)
    query = "SELECT * EXCLUDE (event_id) FROM events ORDER BY ts, item_id"
    assert store.con.execute(query).fetchall() == from_json.con.execute(query).fetchall()


def test_ga4_format_loads_events_only(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ingest events FILE --format ga4"):
        ingest_file(store, "users", FIXTURE, LoadOptions(format="ga4"))


def test_a_refund_with_items_is_minus_each_line() -> None:
    row = {
        "event_name": "refund",
        "event_timestamp": "1795168800000000",  # INT64 as text, as JSON exports write it
        "user_pseudo_id": "p-1",
        "ecommerce": {"transaction_id": "T-9", "refund_value": 25.0},
        "items": [
            {"item_id": "A", "price": 10.0, "quantity": "2"},
            {"item_id": "B", "price": 5.0, "quantity": 1, "item_refund": 4.0},
        ],
    }
    lines = convert_row(row)
    assert [(e["item_id"], e["quantity"], e["order_id"], e["revenue"]) for e in lines] == [
        ("A", 2, "T-9", -20.0),
        ("B", 1, "T-9", -4.0),
    ]
    assert lines[0]["ts"] == "2026-11-20T10:00:00.000000Z"
    assert lines[0]["user_id"] == lines[0]["anonymous_id"] == "p-1"
