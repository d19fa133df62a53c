"""`cartwise analytics ...` and `cartwise basket rules` through click, on files and on a store."""

from __future__ import annotations

import csv
import gzip
import json
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cartwise.cli import main
from cartwise.cli.analytics import analytics
from cartwise.cli.basket import basket
from cartwise.core.errors import ConfigError, InputError
from cartwise.ingest import LoadOptions, ingest_file
from cartwise.store import Store

EVENTS = [
    # visitor, timestamp, event, product, order, price
    ("u1", "2026-02-02T10:00:00", "product_view", "p1", "", ""),
    ("u1", "2026-02-02T10:05:00", "add_to_cart", "p1", "", ""),
    ("u1", "2026-02-02T10:20:00", "purchase", "p1", "o1", "12.5"),
    ("u1", "2026-02-02T10:20:00", "purchase", "p2", "o1", "7.5"),
    ("u2", "2026-02-02T11:00:00", "product_view", "p2", "", ""),
    ("u2", "2026-02-04T11:00:00", "add_to_cart", "p2", "", ""),  # 2 days later: outside 1d
    ("u3", "2026-02-03T09:00:00", "product_view", "p1", "", ""),
    ("u3", "2026-02-03T09:30:00", "add_to_cart", "p1", "", ""),
    ("u3", "2026-02-10T09:00:00", "purchase", "p1", "o2", "12.5"),
    ("u3", "2026-02-10T09:00:00", "purchase", "p2", "o2", "7.5"),
]
MAPS = [
    "--map",
    "type=event",
    "--map",
    "ts=timestamp",
    "--map",
    "user_id=visitor",
    "--map",
    "item_id=product",
]


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv.gz"
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["visitor", "timestamp", "event", "product", "order_id", "price"])
        writer.writerows(EVENTS)
    return path


def invoke(command: click.Command, args: list[str]) -> Result:
    return CliRunner().invoke(command, args)


def test_funnel_on_a_file_prints_the_contract(events_file: Path) -> None:
    result = invoke(
        analytics,
        [
            "funnel",
            "--events",
            str(events_file),
            *MAPS,
            "--steps",
            "product_view,add_to_cart,purchase",
            "--window",
            "1d",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [(s["step"], s["users"]) for s in out["steps"]] == [
        ("product_view", 3),
        ("add_to_cart", 2),
        ("purchase", 1),
    ]
    assert out["steps"][1]["median_seconds_from_previous"] == 17.5 * 60  # u1: 5 min, u3: 30 min


def test_rows_a_file_loses_to_validation_are_announced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.csv"
    rows = [
        "user_id,ts,type",
        "u1,2025-01-01T10:00:00Z,view",
        "u2,yesterday,view",
        "u1,2025-01-01T11:00:00Z,buy",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    with pytest.raises(SystemExit) as done:
        main(["analytics", "funnel", "--events", str(path), "--steps", "view,buy", "--json"])
    assert done.value.code == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["steps"][0]["users"] == 1
    # the line an editor shows: the header is line 1, so the second record is line 3
    assert err.startswith("Warning: 1 of 3 rows of ") and "ts is not a timestamp" in err and "(line 3," in err
    assert f"listed in {path}.quarantine.csv" in err and (tmp_path / "events.csv.quarantine.csv").exists()


def test_funnel_dropped_users_and_text_output(events_file: Path) -> None:
    args = [
        "funnel",
        "--events",
        str(events_file),
        *MAPS,
        "--steps",
        "product_view,add_to_cart,purchase",
        "--window",
        "7d",
    ]
    out = json.loads(invoke(analytics, [*args, "--dropped-users", "--json"]).output)
    # u3 buys exactly 7 days after the view: the window bound is inclusive.
    assert [s["users"] for s in out["steps"]] == [3, 3, 2]
    assert out["steps"][2]["dropped_users"] == ["u2"]
    text = invoke(analytics, args).output
    assert "product_view" in text and "66.7%" in text


def test_kpis_and_retention_on_a_file(events_file: Path) -> None:
    out = json.loads(
        invoke(analytics, ["kpis", "--events", str(events_file), *MAPS, "--by", "week", "--json"]).output
    )
    assert [(p["period_start"], p["revenue"], p["orders"]) for p in out["periods"]] == [
        ("2026-02-02", 20.0, 1),
        ("2026-02-09", 20.0, 1),
    ]
    assert out["periods"][1]["revenue_prev"] == 20.0
    out = json.loads(
        invoke(
            analytics, ["retention", "--events", str(events_file), *MAPS, "--cohort", "first_seen", "--json"]
        ).output
    )
    first = out["cells"][0]
    assert (first["cohort_start"], first["period"], first["cohort_users"], first["active_users"]) == (
        "2026-02-02",
        0,
        3,
        3,
    )
    assert out["cells"][1]["active_users"] == 1 and out["cells"][1]["ltv"] == pytest.approx(40 / 3)


def test_commands_run_on_a_store(events_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with Store(db) as store:
        ingest_file(
            store,
            "events",
            events_file,
            LoadOptions(
                mapping={"type": "event", "ts": "timestamp", "user_id": "visitor", "item_id": "product"}
            ),
        )
    out = json.loads(
        invoke(
            analytics,
            ["funnel", "--db", str(db), "--steps", "product_view,add_to_cart", "--window", "1h", "--json"],
        ).output
    )
    assert [s["users"] for s in out["steps"]] == [3, 2]
    rules = invoke(
        basket, ["rules", "--db", str(db), "--min-support", "0.5", "--min-confidence", "0.5", "--json"]
    )
    assert json.loads(rules.output) == {"baskets": 2, "itemsets": 3, "rules": 2, "skipped_rows": 0}


def test_basket_rules_on_a_file_writes_csv(tmp_path: Path) -> None:
    baskets = tmp_path / "lines.tsv"
    baskets.write_text("invoice\tsku\n1\tA\n1\tB\n2\tA\n2\tB\n3\tA\n4\tC\n")
    out_csv = tmp_path / "rules.csv"
    result = invoke(
        basket,
        [
            "rules",
            "--baskets",
            str(baskets),
            "--basket-col",
            "invoice",
            "--item-col",
            "sku",
            "--min-support",
            "0.25",
            "--min-confidence",
            "0.2",
            "--out",
            str(out_csv),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "baskets": 4,
        "itemsets": 4,
        "rules": 2,
        "skipped_rows": 0,
        "set_aside": {"set_aside": 0, "reasons": []},
        "out": str(out_csv),
    }
    with out_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["antecedents"], r["consequents"], float(r["confidence"]), float(r["lift"])) for r in rows] == [
        ("B", "A", 1.0, pytest.approx(4 / 3)),
        ("A", "B", pytest.approx(2 / 3), pytest.approx(4 / 3)),
    ]


def test_one_item_baskets_give_zero_rules(tmp_path: Path) -> None:
    baskets = tmp_path / "single.csv"
    baskets.write_text("order_id,product_id\n1,A\n2,B\n3,A\n")
    result = invoke(
        basket,
        ["rules", "--baskets", str(baskets), "--item-col", "product_id", "--min-support", "0.1", "--json"],
    )
    assert json.loads(result.output) == {
        "baskets": 3,
        "itemsets": 2,
        "rules": 0,
        "skipped_rows": 0,
        "set_aside": {"set_aside": 0, "reasons": []},
    }


@pytest.mark.parametrize(
    ("command", "args", "fragment"),
    [
        (
            analytics,
            ["funnel", "--steps", "product_view,checkout"],
            "types present: add_to_cart, product_view, purchase",
        ),
        (
            analytics,
            ["funnel", "--steps", "product_view,purchase", "--window", "soon"],
            "--window: 'soon' is not a duration",
        ),
        (
            analytics,
            ["funnel", "--steps", "product_view,purchase", "--breakdown", "planet"],
            "--breakdown: 'planet'",
        ),
        (
            basket,
            ["rules", "--item-col", "product", "--min-support", "0"],
            "--min-support: 0.0 is outside (0, 1]",
        ),
        (
            basket,
            ["rules", "--item-col", "product", "--min-confidence", "2"],
            "--min-confidence: 2.0 is outside (0, 1]",
        ),
        (basket, ["rules", "--item-col", "sku"], "--item-col: The baskets have no column 'sku'"),
        (
            analytics,
            ["funnel", "--steps", "product_view,purchase", "--start", "2024-03-02", "--end", "2024-03-01"],
            "--end: 2024-03-01T00:00:00 must be after the start, 2024-03-02T00:00:00",
        ),
        (
            analytics,
            ["kpis", "--start", "2024-03-02", "--end", "2024-03-02"],
            "--end: 2024-03-02T00:00:00 must be after the start",
        ),
        (
            analytics,
            ["retention", "--start", "2024-03-05", "--end", "2024-03-02"],
            "--end: 2024-03-02T00:00:00 must be after the start",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    events_file: Path,
    command: click.Command,
    args: list[str],
    fragment: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = ["--baskets", str(events_file)] if command is basket else ["--events", str(events_file), *MAPS]
    argv = [str(command.name), *args, *source]
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    # `cartwise.cli.main` prints CartwiseErrors, naming the parameter as the option, and exits 2.
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    assert done.value.code == 2 and out == ""
    assert err.startswith("Error: ") and fragment in err, err
    # Under --json the same error is one JSON document on stdout, with the same exit code.
    with pytest.raises(SystemExit) as done:
        main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert done.value.code == 2 and err == ""
    body = json.loads(out)
    assert set(body) == {"error", "message", "parameter"}
    assert body["error"] in ("config_error", "input_error") and fragment in body["message"]
    # `parameter` is the Python name of the option the message starts with.
    assert body["parameter"] is not None
    assert body["message"].startswith("--" + body["parameter"].replace("_", "-") + ": ")


def test_json_errors_without_a_parameter_and_from_click(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    missing = tmp_path / "none.duckdb"
    with pytest.raises(SystemExit) as done:
        main(["analytics", "kpis", "--db", str(missing), "--json"])
    out, err = capsys.readouterr()
    assert done.value.code == 2 and err == ""
    body = json.loads(out)
    assert body["error"] == "store_error" and body["parameter"] is None
    assert body["message"].startswith(f"No store at {missing}")
    # click's usage errors too: a bad choice names its parameter.
    with pytest.raises(SystemExit) as done:
        main(["analytics", "kpis", "--by", "year", "--json"])
    out, err = capsys.readouterr()
    assert done.value.code == 2 and err == ""
    body = json.loads(out)
    assert body == {
        "error": "usage_error",
        "message": "Invalid value for '--by': 'year' is not one of 'day', 'week', 'month'.",
        "parameter": "by",
    }
    # Without --json, click's own wording on stderr, as before.
    with pytest.raises(SystemExit) as done:
        main(["analytics", "kpis", "--by", "year"])
    out, err = capsys.readouterr()
    assert done.value.code == 2 and out == "" and "Invalid value for '--by'" in err


def test_unknown_engine_is_refused_by_click(events_file: Path) -> None:
    result = invoke(analytics, ["kpis", "--events", str(events_file), *MAPS, "--engine", "presto"])
    assert result.exit_code == 2 and "presto" in result.output
    assert not isinstance(result.exception, ConfigError)


def test_funnel_text_prints_the_breakdown_and_gaps_in_a_fitting_unit(events_file: Path) -> None:
    """Issue 24.5: the text output shows every segment's rows, and 17.5 minutes is not `0.29 h`."""
    args = ["funnel", "--events", str(events_file), *MAPS, "--steps", "product_view,add_to_cart,purchase"]
    args += ["--window", "1d", "--breakdown", "item_id"]
    as_json = json.loads(invoke(analytics, [*args, "--json"]).output)
    segments = {(row["segment"], row["step"]): row["users"] for row in as_json["segments"]}
    assert segments[("p1", "add_to_cart")] == 2 and segments[("p2", "add_to_cart")] == 0
    result = invoke(analytics, args)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "By item_id:" in text
    p1 = text[text.index("item_id = p1") :]
    p2 = text[text.index("item_id = p2") :]
    assert "product_view" in p1 and "product_view" in p2
    # overall: u1 reaches the cart after 5 minutes, u3 after 30; the median is 17.5 minutes
    overall = text[: text.index("By item_id:")]
    cart = next(line for line in overall.splitlines() if line.startswith("add_to_cart"))
    assert cart.endswith("17.5 min") and " h" not in cart
    purchase = next(line for line in overall.splitlines() if line.startswith("purchase"))
    assert purchase.endswith("15 min")


def test_basket_lines_with_a_wrong_number_of_fields_are_set_aside_by_editor_line(tmp_path: Path) -> None:
    """Issue 24.7: one malformed line no longer rejects the whole basket file; --strict does."""
    baskets = tmp_path / "lines.csv"
    baskets.write_text("order_id,product_id\n1,A\n1,B\n2,A,extra\n2,B\n3,A\n3,B\n,C\n")
    args = ["rules", "--baskets", str(baskets), "--item-col", "product_id", "--min-support", "0.5"]
    args += ["--min-confidence", "0.5"]
    done = invoke(basket, [*args, "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["baskets"] == 3 and summary["skipped_rows"] == 1  # the line without an order id
    assert summary["set_aside"]["set_aside"] == 1
    assert summary["set_aside"]["reasons"][0]["lines"] == [4]
    text = invoke(basket, args).output
    assert "Set aside 1 unusable basket records" in text and "line 4" in text
    strict = invoke(basket, [*args, "--strict"])
    assert isinstance(strict.exception, InputError)
    assert "1 of 7 records cannot be used" in str(strict.exception) and "(line 4," in str(strict.exception)


BAD_EVENTS = [
    "user_id,ts,type,item_id,price,order_id",
    "u1,2025-01-01T10:00:00Z,view,p1,,",
    "u2,yesterday,view,p1,,",  # line 3: not a timestamp
    "u1,2025-01-01T11:00:00Z,purchase,p1,10,o1",
    "u3,2025-01-02T11:00:00Z,purchase,p1,10,o2,extra",  # line 5: a field too many
    "u4,2025-01-08T11:00:00Z,view,p1,,",
]


@pytest.mark.parametrize(
    "command",
    [
        ["kpis", "--by", "week"],
        ["funnel", "--steps", "view,purchase"],
        ["retention", "--by", "week", "--cohort", "first_seen"],
    ],
)
def test_analytics_on_a_file_set_bad_rows_aside_by_editor_line(tmp_path: Path, command: list[str]) -> None:
    """Issue 24.7: every command that reads a file counts the rows it sets aside, by line, and
    --strict fails naming the line."""
    path = tmp_path / "events.csv"
    path.write_text("\n".join(BAD_EVENTS) + "\n", encoding="utf-8")
    args = [*command, "--events", str(path)]
    done = invoke(analytics, [*args, "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)["set_aside"]
    assert report["set_aside"] == 2
    assert sorted(line for r in report["reasons"] for line in r["lines"]) == [3, 5]
    ts = next(r for r in report["reasons"] if r["lines"] == [3])
    assert ts["reason"].startswith("record whose ts is not a timestamp") and ts["example"] == "yesterday"
    text = invoke(analytics, args).stdout
    assert (
        "Set aside 2 unusable event records (--strict fails instead):" in text
        and "(line 3, e.g. 'yesterday')" in text
    )
    strict = invoke(analytics, [*args, "--strict"])
    assert strict.exit_code != 0 and isinstance(strict.exception, InputError)
    assert "2 of 5 records cannot be used" in str(strict.exception) and "(line 3," in str(strict.exception)


def test_a_clean_file_adds_no_key_and_strict_needs_a_file(events_file: Path, tmp_path: Path) -> None:
    done = invoke(analytics, ["kpis", "--events", str(events_file), *MAPS, "--strict", "--json"])
    assert done.exit_code == 0, done.output
    assert list(json.loads(done.stdout)) == ["by", "periods", "needs_events"]
    store = invoke(analytics, ["kpis", "--db", str(tmp_path / "none.duckdb"), "--strict"])
    assert isinstance(store.exception, ConfigError) and "--strict applies to --events" in str(store.exception)
