"""`--format shopify`: Shopify's orders CSV export into a real store (tests/fixtures/shopify)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cartwise.core.errors import InputError
from cartwise.ingest import LoadOptions, ingest_file
from cartwise.store import Store

FIXTURE = Path(__file__).parents[1] / "fixtures" / "shopify" / "orders_export.csv"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "shop.duckdb")


def _load(store: Store, path: Path) -> dict:
    return ingest_file(store, "events", path, LoadOptions(format="shopify")).to_dict()


def test_orders_lines_refunds_voids_and_the_email_link(store: Store, tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text("user_id,email\ncust-pat,Pat@Example.com\n")
    ingest_file(store, "users", users)
    path = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, path)
    summary = _load(store, path)
    # 8 CSV rows: 6 good line rows, 2 refunds as extra events, a row without Name, a bad price.
    assert (summary["read"], summary["loaded"], summary["rejected"]) == (10, 8, 2)
    orders = store.con.execute(
        "SELECT order_id, user_id, amount, lines, units FROM orders ORDER BY order_id"
    ).fetchall()
    assert orders == [
        ("#1001", "cust-pat", 15.0, 2, 3),
        ("#1002", "cust-pat", 24.5, 2, 3),
        ("#1003", "kim@example.com", 20.0, 1, 2),
    ]
    lines = store.con.execute(
        "SELECT item_id, quantity, price, revenue FROM order_lines WHERE order_id = '#1002' ORDER BY item_id"
    ).fetchall()
    assert lines == [("Laces", 1, 4.5, 4.5), ("SOCK-1", 2, 10.0, 20.0)]  # no sku: the line's name
    # The e-mail on Pat's orders links them to the known customer with that address.
    merges = store.con.execute("SELECT from_id, into_id, evidence, outcome FROM merges").fetchall()
    assert merges == [("pat@example.com", "cust-pat", "email", "merged")]
    # Refunds: minus the refunded amount, dated when the order was cancelled (else created).
    refunds = store.con.execute(
        "SELECT order_id, user_id, revenue, strftime(ts, '%Y-%m-%d %H:%M') FROM events WHERE type = 'refund' ORDER BY order_id"
    ).fetchall()
    assert refunds == [
        ("#1001", "cust-pat", -5.0, "2026-11-16 10:00"),
        ("#1003", "kim@example.com", -24.9, "2026-11-19 09:00"),
    ]
    # A voided order was never paid: kept as `purchase_voided`, in no order.
    voided = store.con.execute(
        "SELECT user_id, item_id, order_id FROM events WHERE type = 'purchase_voided'"
    ).fetchall()
    assert voided == [("shopify-guest:#1004", "HAT-1", None)]
    # Order-level columns from the order's first row reach every line; times are UTC.
    second_line = store.con.execute(
        "SELECT ts, properties FROM events WHERE event_id = 'shopify:#1002:2'"
    ).fetchone()
    assert second_line is not None and str(second_line[0]) == "2026-11-17 13:30:00"
    properties = json.loads(second_line[1])
    assert properties["financial_status"] == "paid" and properties["total"] == "29.40"
    assert properties["discount_code"] == "WELCOME" and properties["email"] == "pat@example.com"
    bad = store.con.execute('SELECT "row", "column", value, reason FROM quarantine ORDER BY "row"').fetchall()
    assert [(b[0], b[1]) for b in bad] == [(7, None), (8, "price")]
    assert "`Name`" in bad[0][3] and bad[1][2] == "N/A"
    again = _load(store, path)
    assert (again["loaded"], again["duplicates"]) == (0, 8)


def test_a_file_that_is_not_a_shopify_export_is_refused(store: Store, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("order,created,qty\n1,2026-11-01,2\n")
    with pytest.raises(InputError, match="lacks `Name`, `Created at`"):
        _load(store, other)


def test_one_command_loads_each_export(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cartwise.cli import cli

    db = tmp_path / "shop.duckdb"
    runner = CliRunner()
    ga4 = tmp_path / "events_20261120.jsonl"
    shutil.copy(Path(__file__).parents[1] / "fixtures" / "ga4" / ga4.name, ga4)
    shopify = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, shopify)
    for path, fmt, loaded in ((ga4, "ga4", 13), (shopify, "shopify", 8)):
        done = runner.invoke(cli, ["ingest", "events", str(path), "--format", fmt, "--db", str(db), "--json"])
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["loaded"] == loaded
    wrong = runner.invoke(
        cli, ["ingest", "transactions", str(shopify), "--format", "shopify", "--db", str(db)]
    )
    assert wrong.exit_code != 0 and "ingest events FILE --format shopify" in str(wrong.exception)
