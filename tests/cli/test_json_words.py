"""Under `--json` the CLI words the messages of a result as its text does (issue 20 point 3).

Ingestion stores its rejection reasons and warnings in the library's words, naming a load option
as `map` or `timezone`; the API serves them so. The CLI says `--map` and `--timezone` in its
text and in its JSON, and the JSON keeps the parameter beside each message (`mentions`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from cartwise.cli import cli
from cartwise.store import open_store

# A transaction without an amount or a price is rejected with "map one with `map` amount=...";
# a time a month ahead loads with the warning "Check the time zone (`timezone`) ...".
AHEAD = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
TRANSACTIONS = [
    "order_id,customer,date,price,quantity",
    "o1,u1,2024-03-01T10:00:00Z,9.99,1",
    "o2,u2,2024-03-02T10:00:00Z,,1",
    f"o3,u3,{AHEAD},5.00,2",
]


def _ingest(tmp_path: Path, *extra: str) -> tuple[str, Path]:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(TRANSACTIONS) + "\n", encoding="utf-8")
    db = tmp_path / "s.duckdb"
    done = CliRunner().invoke(cli, ["ingest", "transactions", str(path), "--db", str(db), *extra])
    assert done.exit_code == 0, done.output
    return done.output, db


def test_ingest_json_words_reasons_and_warnings_as_options_with_their_parameters(tmp_path: Path) -> None:
    output, db = _ingest(tmp_path, "--json")
    summary = json.loads(output)
    (rejection,) = summary["rejections"]
    assert "map one with --map amount=<column>" in rejection["reason"]
    assert "`map`" not in rejection["reason"]
    assert rejection["mentions"] == ["map"]
    (warning,) = summary["warnings"]
    assert "Check the time zone (--timezone)" in warning["message"]
    assert warning["mentions"] == ["timezone"]
    assert (summary["rejected"], summary["loaded"]) == (1, 2)
    # The store keeps the library's words: the API serves them, naming the parameter `map`.
    with open_store(db) as store:
        (stored,) = store.con.execute("SELECT reason FROM quarantine").fetchall()[0]
    assert "map one with `map` amount=<column>" in stored


def test_text_and_json_say_the_same_words(tmp_path: Path) -> None:
    text, _ = _ingest(tmp_path / "text")
    summary = json.loads(_ingest(tmp_path / "json", "--json")[0])
    assert summary["rejections"][0]["reason"] in text
    assert summary["warnings"][0]["message"] in text


def test_several_files_word_each_file_s_messages(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("\n".join(TRANSACTIONS[:3]) + "\n", encoding="utf-8")
    second.write_text("\n".join([TRANSACTIONS[0], TRANSACTIONS[3]]) + "\n", encoding="utf-8")
    done = CliRunner().invoke(
        cli, ["ingest", "transactions", str(first), str(second), "--db", str(tmp_path / "s.duckdb"), "--json"]
    )
    assert done.exit_code == 0, done.output
    a, b = json.loads(done.output)["files"]
    assert a["rejections"][0]["mentions"] == ["map"] and "--map amount" in a["rejections"][0]["reason"]
    assert b["warnings"][0]["mentions"] == ["timezone"] and "(--timezone)" in b["warnings"][0]["message"]
    assert a["warnings"] == [] and b["rejections"] == []


def test_analytics_json_words_the_reasons_of_event_rows_set_aside(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,timestamp,customer_id,event,product_id,qty,unit_price,order_id\n"
        "e1,2024-03-01T10:00:00Z,u1,view,i1,,,\n"
        "e2,2024-03-01T10:01:00Z,u1,purchase,i1,1,-9.99,o1\n",
        encoding="utf-8",
    )
    done = CliRunner().invoke(cli, ["analytics", "kpis", "--events", str(events), "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output.splitlines()[-1])["set_aside"]
    assert report["set_aside"] == 1
    (reason,) = report["reasons"]
    assert reason["mentions"] == [] and "negative" in reason["reason"]
