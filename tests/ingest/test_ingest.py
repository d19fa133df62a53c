"""Ingestion: formats, mapping, idempotency, quarantine and every bad-input case, on real files."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cartwise.cli import cli
from cartwise.core.errors import ConfigError, InputError
from cartwise.ingest import (
    LoadOptions,
    StoredIds,
    derive_orders,
    ingest_file,
    prepare_events,
    read_file,
    store_events,
)
from cartwise.store import Store

HEADER = "event_id,timestamp,customer_id,session,event,product_id,qty,unit_price,order_id,device"
GOOD_ROWS = [
    "e1,2024-03-01T10:00:00Z,u1,s1,view,i1,,,,mobile",
    "e2,2024-03-01T10:01:00Z,u1,s1,add_to_cart,i1,1,9.99,,mobile",
    "e3,2024-03-01T10:02:00Z,u1,s1,purchase,i1,2,9.99,o1,mobile",
    "e4,2024-03-01T10:02:00Z,u1,s1,purchase,i2,1,5.00,o1,mobile",
    "e5,2024-03-02T08:00:00Z,u2,s2,view,i2,,,,desktop",
]


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def counts_add_up(summary) -> None:
    assert summary.read == summary.loaded + summary.duplicates + summary.rejected


def quarantine_rows(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_loads_with_synonyms_and_keeps_unmapped_columns(store: Store, tmp_path: Path) -> None:
    summary = ingest_file(store, "events", write(tmp_path / "events.csv", [HEADER, *GOOD_ROWS]))
    counts_add_up(summary)
    assert (summary.read, summary.loaded, summary.rejected) == (5, 5, 0)
    assert summary.mapping["user_id"] == "customer_id" and summary.mapping["type"] == "event"
    row = store.con.execute(
        "SELECT user_id, type, properties->>'device', ts FROM events WHERE event_id = 'e3'"
    ).fetchone()
    assert row[:3] == ("u1", "purchase", "mobile")
    assert str(row[3]) == "2024-03-01 10:02:00"


def test_properties_that_are_not_json_are_refused_beside_unmapped_columns(
    store: Store, tmp_path: Path
) -> None:
    # Unmapped columns merge into `properties`; a row whose own properties are not JSON is refused.
    header = "event_id,ts,user_id,type,properties,device"
    not_json = "e1,2024-03-01T10:00:00Z,u1,view,00,mobile"
    good = 'e2,2024-03-01T10:00:00Z,u1,view,"{""page"": ""/""}",desktop'
    summary = ingest_file(store, "events", write(tmp_path / "events.csv", [header, not_json, good]))
    counts_add_up(summary)
    refused = [(r["column"], r["rows"]) for r in summary.rejections]
    assert (summary.loaded, refused) == (1, [("properties", [1])])
    stored = store.con.execute("SELECT properties->>'page', properties->>'device' FROM events").fetchall()
    assert stored == [("/", "desktop")]


def test_columns_named_like_the_staging_query_own_columns_are_kept_apart(
    store: Store, tmp_path: Path
) -> None:
    # Validation adds columns of its own (`_cw_text0`, `_cw_value0`, ...) beside the input's.
    lines = [
        "event_id,ts,user_id,type,price,_cw_text0,_cw_value1",
        "e1,2024-03-01T10:00:00Z,u1,view,1.5,a,b",
        "e2,2024-03-01T10:00:00Z,u1,view,abc,c,d",
    ]
    summary = ingest_file(store, "events", write(tmp_path / "events.csv", lines))
    assert (summary.loaded, summary.rejected) == (1, 1)
    rows = quarantine_rows(summary.quarantine_file)
    assert [(r["row"], r["column"], r["value"]) for r in rows] == [("2", "price", "abc")]
    stored = store.con.execute(
        "SELECT price, properties->>'_cw_text0', properties->>'_cw_value1' FROM events"
    )
    assert stored.fetchall() == [(1.5, "a", "b")]


def test_values_lose_surrounding_spaces_of_any_script_but_keep_tabs(store: Store, tmp_path: Path) -> None:
    # Spaces (Unicode space separators, e.g. no-break and ideographic) around a value are
    # dropped; tabs and inner spaces are data; a value of spaces only is missing.
    rows = [
        "event_id,ts,user_id,type,item_id,price",
        "e1,2024-03-01T10:00:00Z, u1 ,view,\u00a0i1\u3000, 9.5 ",
        "e2,2024-03-01T10:00:00Z,é ,view,i\t2,9",
        "e3,2024-03-01T10:00:00Z,u 3,view,   ,9",
    ]
    summary = ingest_file(store, "events", write(tmp_path / "events.csv", rows))
    assert (summary.loaded, summary.rejected) == (3, 0)
    stored = store.con.execute("SELECT user_id, item_id, price FROM events ORDER BY event_id").fetchall()
    assert stored == [("u1", "i1", 9.5), ("é", "i\t2", 9.0), ("u 3", None, 9.0)]


def test_purchases_become_orders_with_lines(store: Store, tmp_path: Path) -> None:
    ingest_file(store, "events", write(tmp_path / "events.csv", [HEADER, *GOOD_ROWS]))
    order = store.con.execute(
        "SELECT user_id, amount, lines, units FROM orders WHERE order_id = 'o1'"
    ).fetchone()
    assert order == ("u1", pytest.approx(2 * 9.99 + 5.00), 2, 3)
    assert store.count("order_lines") == 2


def test_reingesting_the_same_file_adds_nothing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", [HEADER, *GOOD_ROWS])
    ingest_file(store, "events", path)
    again = ingest_file(store, "events", path)
    counts_add_up(again)
    assert (again.loaded, again.duplicates) == (0, 5)
    assert store.count("events") == 5 and store.count("orders") == 1


def test_derived_event_ids_make_files_without_ids_idempotent(store: Store, tmp_path: Path) -> None:
    lines = [
        "ts,user_id,type,item_id",
        "2024-01-01T00:00:00Z,u1,view,i1",
        "2024-01-01T00:00:00Z,u1,view,i1",
        "2024-01-01T00:05:00Z,u1,view,i2",
    ]
    path = write(tmp_path / "noid.csv", lines)
    first = ingest_file(store, "events", path)
    assert first.loaded == 3  # identical rows are distinct occurrences
    assert ingest_file(store, "events", path).duplicates == 3
    assert store.count("events") == 3


def test_duplicate_ids_within_the_file_and_the_store(store: Store, tmp_path: Path) -> None:
    ingest_file(store, "events", write(tmp_path / "a.csv", [HEADER, GOOD_ROWS[0]]))
    summary = ingest_file(
        store, "events", write(tmp_path / "b.csv", [HEADER, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[1]])
    )
    counts_add_up(summary)
    assert (summary.loaded, summary.duplicates) == (1, 2)


@pytest.mark.parametrize("fmt", ["tsv", "parquet", "jsonl", "csv.gz"])
def test_other_formats_load_the_same_events(store: Store, tmp_path: Path, fmt: str) -> None:
    rows = [dict(zip(HEADER.split(","), line.split(","), strict=True)) for line in GOOD_ROWS]
    path = tmp_path / f"events.{fmt}"
    if fmt == "tsv":
        write(path, ["\t".join(HEADER.split(","))] + ["\t".join(line.split(",")) for line in GOOD_ROWS])
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif fmt == "jsonl":
        write(path, [json.dumps({k: v for k, v in r.items() if v}) for r in rows])
    else:
        path.write_bytes(gzip.compress(("\n".join([HEADER, *GOOD_ROWS]) + "\n").encode()))
    summary = ingest_file(store, "events", path)
    assert (summary.loaded, summary.rejected) == (5, 0)
    assert store.con.execute("SELECT sum(revenue) FROM events WHERE type = 'purchase'").fetchone()[
        0
    ] == pytest.approx(24.98)


def test_semicolon_csv_is_sniffed(store: Store, tmp_path: Path) -> None:
    lines = [line.replace(",", ";") for line in [HEADER, *GOOD_ROWS]]
    assert ingest_file(store, "events", write(tmp_path / "semi.csv", lines)).loaded == 5


def test_recbole_atomic_file_with_epoch_seconds(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "ml.inter",
        [
            "user_id:token\titem_id:token\trating:float\ttimestamp:float",
            "196\t242\t3\t881250949",
            "186\t302\t3\t891717742",
        ],
    )
    summary = ingest_file(store, "events", path, LoadOptions(mapping={"type": "rating"}))
    assert summary.format == "recbole" and summary.loaded == 2
    assert (
        str(store.con.execute("SELECT ts FROM events WHERE user_id = '196'").fetchone()[0])
        == "1997-12-04 15:55:49"
    )


def test_epoch_milliseconds_and_time_zones(store: Store, tmp_path: Path) -> None:
    write(tmp_path / "ms.csv", ["ts,user_id,type", "1709287200000,u1,view"])
    write(
        tmp_path / "local.csv",
        ["ts,user_id,type", "2024-07-01 12:00:00,u2,view", "2024-07-01T12:00:00+00:00,u3,view"],
    )
    ingest_file(store, "events", tmp_path / "ms.csv")
    ingest_file(store, "events", tmp_path / "local.csv", LoadOptions(timezone="Europe/Paris"))
    times = dict(store.con.execute("SELECT user_id, CAST(ts AS VARCHAR) FROM events").fetchall())
    assert times == {"u1": "2024-03-01 10:00:00", "u2": "2024-07-01 10:00:00", "u3": "2024-07-01 12:00:00"}


def test_epoch_times_outside_years_1_to_9999_are_refused_not_fatal(store: Store, tmp_path: Path) -> None:
    text = write(
        tmp_path / "epoch.csv",
        ["ts,user_id,type", "1709287200,u1,view", "-9223372022401,u2,view", "1709287260,u1,view"],
    )
    typed = tmp_path / "epoch.parquet"
    seconds = pa.array([1709287200.0, float("nan"), 1e300, -1e15])
    pq.write_table(
        pa.table({"ts": seconds, "user_id": ["u3", "u4", "u5", "u6"], "type": ["view"] * 4}), typed
    )
    for path, refused in ((text, [2]), (typed, [2, 3, 4])):
        summary = ingest_file(store, "events", path)
        counts_add_up(summary)
        assert [(r["column"], r["rows"]) for r in summary.rejections] == [("ts", refused)]
        assert "years 1 to 9999" in summary.rejections[0]["reason"]
    stored = store.con.execute("SELECT user_id, CAST(ts AS VARCHAR) FROM events ORDER BY ALL").fetchall()
    assert stored == [
        ("u1", "2024-03-01 10:00:00"),
        ("u1", "2024-03-01 10:01:00"),
        ("u3", "2024-03-01 10:00:00"),
    ]


def test_an_unknown_time_zone_is_a_clear_error_and_the_store_stays_usable(
    store: Store, tmp_path: Path
) -> None:
    text = write(tmp_path / "local.csv", ["ts,user_id,type", "2024-07-01 12:00:00,u1,view"])
    typed = tmp_path / "local.parquet"
    pq.write_table(pacsv.read_csv(text), typed)
    for path in (text, typed):
        with pytest.raises(ConfigError, match="`timezone`: 'Mars/Olympus' is not a time zone name"):
            ingest_file(store, "events", path, LoadOptions(timezone="Mars/Olympus"))
    assert ingest_file(store, "events", typed, LoadOptions(timezone="europe/paris")).loaded == 1
    assert str(store.con.execute("SELECT ts FROM events").fetchone()[0]) == "2024-07-01 10:00:00"


def test_explicit_map_and_ts_format(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "odd.csv", ["when,who,what", "01/03/2024 10:00,u1,view"])
    summary = ingest_file(
        store,
        "events",
        path,
        LoadOptions(mapping={"ts": "when", "user_id": "who", "type": "what"}, ts_format="%d/%m/%Y %H:%M"),
    )
    assert summary.loaded == 1
    assert str(store.con.execute("SELECT ts FROM events").fetchone()[0]) == "2024-03-01 10:00:00"


def test_cdnow_transaction_log(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "cdnow.txt",
        [
            "00001   0001 19970101  1  11.77",
            "00002   0002 19970112  1  12.00",
            "00002   0002 19970112  5  77.00",
            "00003   0003 19970102  2  20.76",
        ],
    )
    summary = ingest_file(store, "transactions", path, LoadOptions(format="cdnow"))
    counts_add_up(summary)
    assert summary.loaded == 4 and store.count("orders") == 4
    assert store.con.execute(
        "SELECT sum(amount), sum(units) FROM orders WHERE user_id = '00002'"
    ).fetchone() == (pytest.approx(89.0), 6)
    assert ingest_file(store, "transactions", path, LoadOptions(format="cdnow")).duplicates == 4


def test_items_upsert_replaces_changed_rows(store: Store, tmp_path: Path) -> None:
    header = "sku,name,category,brand,price,stock,active"
    ingest_file(
        store,
        "items",
        write(
            tmp_path / "items.csv",
            [
                header,
                "i1,Knife,Home > Kitchen > Knives,Acme,20,5,yes",
                "i2,Pan,Home > Kitchen > Pans,Acme,30,0,no",
            ],
        ),
    )
    summary = ingest_file(
        store,
        "items",
        write(
            tmp_path / "items2.csv",
            [
                header,
                "i1,Knife,Home > Kitchen > Knives,Acme,18,5,yes",
                "i2,Pan,Home > Kitchen > Pans,Acme,30,0,no",
            ],
        ),
    )
    counts_add_up(summary)
    assert (summary.loaded, summary.updated, summary.duplicates) == (1, 1, 1)
    assert store.con.execute("SELECT price, active FROM items WHERE item_id = 'i1'").fetchone() == (
        18.0,
        True,
    )


def test_users_with_consent_and_bad_email(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "users.csv",
        ["customer_id,email,email_consent,country", "u1,a@shop.example,yes,FR", "u2,not-an-email,no,DE"],
    )
    summary = ingest_file(store, "users", path)
    assert (summary.loaded, summary.rejected) == (1, 1)
    assert summary.rejections[0]["column"] == "email" and summary.rejections[0]["rows"] == [2]
    assert store.con.execute("SELECT email_consent FROM users").fetchone() == (True,)


# -- bad input -------------------------------------------------------------------------------------


def test_wrong_delimiter_is_explained(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "events.tsv", [HEADER, *GOOD_ROWS])  # commas in a .tsv
    with pytest.raises(InputError) as error:
        ingest_file(store, "events", path)
    message = str(error.value)
    assert "events.tsv" in message and "`delimiter` ','" in message and "Columns found" in message
    # The CLI words the hint with its own flags.
    assert "--delimiter ','" in error.value.render(lambda p: "--" + p.replace("_", "-"))


def test_missing_required_column_lists_columns_and_suggests_map(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", ["when,customer_id,event", "2024-01-01,u1,view"])
    with pytest.raises(InputError) as error:
        ingest_file(store, "events", path)
    message = str(error.value)
    assert "`ts`" in message and "`map` ts=" in message and "when, customer_id, event" in message
    assert store.count("events") == 0


@pytest.mark.parametrize(
    ("bad_row", "column", "reason"),
    [
        ("e9,2024-03-01T10:00:00Z,u1,s1,purchase,i1,1,N/A,o9,web", "price", "is not a number"),
        ("e9,2024-03-01T10:00:00Z,u1,s1,purchase,i1,two,1.0,o9,web", "quantity", "is not a whole number"),
        ("e9,yesterday,u1,s1,view,i1,,,,web", "ts", "is not a timestamp"),
        ("e9,2024-03-01T10:00:00Z,u1,s1,view,i1,-2,,,web", "quantity", "only refund and remove_from_cart"),
        ("e9,2024-03-01T10:00:00Z,,s1,view,i1,,,,web", "user_id", "is required"),
    ],
)
def test_bad_values_are_quarantined_with_row_column_value_and_reason(
    store: Store, tmp_path: Path, bad_row: str, column: str, reason: str
) -> None:
    path = write(tmp_path / "events.csv", [HEADER, GOOD_ROWS[0], bad_row, GOOD_ROWS[1]])
    summary = ingest_file(store, "events", path)
    counts_add_up(summary)
    assert (summary.loaded, summary.rejected) == (2, 1)
    assert summary.rejections[0]["column"] == column and reason in summary.rejections[0]["reason"]
    assert summary.rejections[0]["rows"] == [2]
    rows = quarantine_rows(summary.quarantine_file)
    assert [(r["row"], r["column"]) for r in rows] == [("2", column)] and reason in rows[0]["reason"]
    assert json.loads(rows[0]["record"])["event_id"] == "e9"
    assert (
        store.con.execute('SELECT count(*) FROM quarantine WHERE "column" = ?', [column]).fetchone()[0] == 1
    )


def test_refunds_may_be_negative(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "refund.csv", [HEADER, "r1,2024-03-03T10:00:00Z,u1,s3,refund,i1,-1,9.99,o1,web"])
    assert ingest_file(store, "events", path).loaded == 1


def test_future_timestamps_load_with_a_warning(store: Store, tmp_path: Path) -> None:
    # Within the default allowance (366 days ahead): loaded, with a warning. Beyond it: rejected.
    soon = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = write(
        tmp_path / "events.csv",
        [
            HEADER,
            GOOD_ROWS[0],
            f"e8,{soon},u1,s1,view,i1,,,,web",
            "e9,2099-01-01T00:00:00Z,u1,s1,view,i1,,,,web",
        ],
    )
    summary = ingest_file(store, "events", path)
    assert summary.loaded == 2 and summary.warnings[0]["rows"] == [2]
    assert "future" in summary.warnings[0]["message"]
    assert summary.rejected == 1 and summary.rejections[0]["rows"] == [3]
    assert "`load_max_ahead_days`" in summary.rejections[0]["reason"]


def test_empty_and_header_only_files(store: Store, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        ingest_file(store, "events", tmp_path / "empty.csv")
    with pytest.raises(InputError, match="no data rows"):
        ingest_file(store, "events", write(tmp_path / "header.csv", [HEADER]))
    (tmp_path / "blank.csv").write_bytes(b"\n \r\n\t\n")
    (tmp_path / "blank.csv.gz").write_bytes(gzip.compress(b"\n\n"))
    (tmp_path / "nothing.csv.gz").write_bytes(gzip.compress(b""))
    for name in ("blank.csv", "blank.csv.gz", "nothing.csv.gz"):
        with pytest.raises(InputError, match="only blank lines"):
            ingest_file(store, "events", tmp_path / name)


def test_a_byte_order_mark_does_not_hide_the_first_column(store: Store, tmp_path: Path) -> None:
    bom = "\ufeff"  # spreadsheets start their UTF-8 exports with it
    write(tmp_path / "excel.csv", [bom + "event_id,ts,user_id,type", "e1,2024-03-01T10:00:00Z,u1,view"])
    first = {"event_id": "e2", "ts": "2024-03-01T10:00:00Z", "user_id": "u1", "type": "view"}
    (tmp_path / "lines.jsonl").write_text(bom + json.dumps(first) + "\n", encoding="utf-8")
    for name in ("excel.csv", "lines.jsonl"):
        summary = ingest_file(store, "events", tmp_path / name)
        assert (summary.loaded, summary.mapping["event_id"]) == (1, "event_id")
    assert sorted(r[0] for r in store.con.execute("SELECT event_id FROM events").fetchall()) == ["e1", "e2"]


def test_non_utf8_rows_are_quarantined_and_encoding_option_loads_them(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        ("\n".join([HEADER, GOOD_ROWS[0], "e7,2024-03-01T10:00:00Z,u1,s1,view,i1,,,,caf\xe9"]) + "\n").encode(
            "latin-1"
        )
    )
    summary = ingest_file(store, "events", path)
    counts_add_up(summary)
    assert (summary.loaded, summary.rejected) == (1, 1)
    rows = quarantine_rows(summary.quarantine_file)
    assert rows[0]["row"] == "2" and "`encoding` latin-1" in rows[0]["reason"]
    # the CLI words the load option as its flag
    shown = CliRunner().invoke(cli, ["ingest", "events", str(path), "--db", str(tmp_path / "cli.duckdb")])
    assert shown.exit_code == 0, shown.output
    assert "Pass --encoding latin-1 (or the file's real encoding)" in shown.output
    fixed = ingest_file(store, "events", path, LoadOptions(encoding="latin-1"))
    assert (fixed.loaded, fixed.duplicates) == (1, 1)
    assert store.con.execute("SELECT properties->>'device' FROM events WHERE event_id = 'e7'").fetchone() == (
        "café",
    )


def test_truncated_gzip_loads_nothing(store: Store, tmp_path: Path) -> None:
    body = gzip.compress(
        (
            "\n".join([HEADER] + [f"x{i},2024-03-01T10:00:00Z,u{i},s,view,i1,,,,web" for i in range(20000)])
            + "\n"
        ).encode()
    )
    path = tmp_path / "events.csv.gz"
    path.write_bytes(body[: len(body) // 2])
    with pytest.raises(InputError, match="truncated or damaged gzip"):
        ingest_file(store, "events", path)
    assert store.count("events") == 0 and store.count("loads") == 0


def test_a_line_of_several_megabytes_is_quarantined_not_fatal(store: Store, tmp_path: Path) -> None:
    huge = "e6,2024-03-01T10:00:00Z,u1,s1,view,i1,,,," + "x" * 3_000_000
    summary = ingest_file(
        store, "events", write(tmp_path / "events.csv", [HEADER, GOOD_ROWS[0], huge, GOOD_ROWS[1]])
    )
    counts_add_up(summary)
    assert (summary.loaded, summary.rejected) == (2, 1)
    assert "bytes long" in summary.rejections[0]["reason"] and summary.rejections[0]["rows"] == [2]


def test_rows_with_the_wrong_number_of_fields_are_quarantined(store: Store, tmp_path: Path) -> None:
    summary = ingest_file(
        store,
        "events",
        write(tmp_path / "events.csv", [HEADER, GOOD_ROWS[0], "e7,2024-03-01T10:00:00Z,u1", GOOD_ROWS[1]]),
    )
    counts_add_up(summary)
    assert (summary.loaded, summary.rejected) == (2, 1)
    assert quarantine_rows(summary.quarantine_file)[0]["row"] == "2"


def test_bad_json_lines_are_quarantined(store: Store, tmp_path: Path) -> None:
    lines = [
        '{"ts": "2024-01-01T00:00:00Z", "user_id": "u1", "type": "view", "properties": {"page": "/"}}',
        "{not json",
        '["a list"]',
    ]
    summary = ingest_file(store, "events", write(tmp_path / "events.jsonl", lines))
    counts_add_up(summary)
    assert (summary.loaded, summary.rejected) == (1, 2)
    assert store.con.execute("SELECT properties->>'page' FROM events").fetchone() == ("/",)


def test_a_failure_mid_load_leaves_the_store_as_before(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_file(store, "events", write(tmp_path / "a.csv", [HEADER, GOOD_ROWS[0]]))
    import cartwise.ingest.insert as insert

    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(insert, "write_orders", interrupted)  # after the events went in
    with pytest.raises(KeyboardInterrupt):
        ingest_file(store, "events", write(tmp_path / "b.csv", [HEADER, *GOOD_ROWS[1:]]))
    assert store.count("events") == 1 and store.count("loads") == 1 and store.count("orders") == 0


def test_unknown_map_target_and_missing_source_column(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", [HEADER, GOOD_ROWS[0]])
    with pytest.raises(ConfigError, match="canonical columns are"):
        ingest_file(store, "events", path, LoadOptions(mapping={"timestamp": "ts"}))
    with pytest.raises(InputError, match="Did you mean 'timestamp'"):
        ingest_file(store, "events", path, LoadOptions(mapping={"ts": "timestap"}))


def test_read_file_raises_on_malformed_records(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", ["a,b", "1,2", "3"])
    with pytest.raises(InputError, match="row 2"):
        read_file(tmp_path / "t.csv")
    assert read_file(write(tmp_path / "ok.txt", ["1 2", "3 4"]), header=False).column_names == ["0", "1"]


# -- batches (the collector's path) ----------------------------------------------------------------


def test_prepare_and_store_events_share_the_file_rules(store: Store) -> None:
    records = [
        {"ts": "2024-03-01T10:00:00Z", "user_id": "u1", "type": "view", "item_id": "i1"},
        {"ts": "2024-03-01T10:00:00Z", "user_id": "u1", "type": "purchase", "item_id": "i1", "price": "x"},
        {
            "ts": "2024-03-01T10:01:00Z",
            "user_id": "u1",
            "type": "purchase",
            "item_id": "i1",
            "price": 5,
            "quantity": 2,
            "properties": {"coupon": "A"},
        },
    ]
    prepared = prepare_events(records)
    assert [r["index"] for r in prepared.rejected] == [1] and "price" in prepared.rejected[0]["reason"]
    assert prepared.table.num_rows == 2
    assert store_events(store, prepared.table) == {"loaded": 2, "duplicates": 0}
    assert store_events(store, prepare_events(records).table) == {"loaded": 0, "duplicates": 2}
    assert store.con.execute("SELECT amount FROM orders").fetchone() == (10.0,)


def _batch(*ids: str) -> pa.Table:
    records = [{"event_id": i, "ts": "2024-03-01T10:00:00Z", "user_id": "u1", "type": "view"} for i in ids]
    return prepare_events(records).table


def test_events_without_fields_are_each_refused() -> None:
    reason = "missing `ts`, `user_id`, `type`; every event needs `ts`, `user_id` and `type`"
    assert prepare_events([{}, {}]).rejected == [
        {"index": 0, "reason": reason},
        {"index": 1, "reason": reason},
    ]
    prepared = prepare_events(
        [{}, {"event_id": "e1", "ts": "2024-03-01T10:00:00Z", "user_id": "u1", "type": "view"}]
    )
    assert prepared.table.column("event_id").to_pylist() == ["e1"]
    assert prepared.rejected == [{"index": 0, "reason": "ts: is required but empty"}]


def test_a_writer_index_of_stored_ids_keeps_every_duplicate_and_follows_other_writes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cartwise.ingest.insert as insert

    ids = StoredIds()
    assert store_events(store, _batch("a", "b"), ids) == {"loaded": 2, "duplicates": 0}
    assert store_events(store, _batch("b", "c"), ids) == {"loaded": 1, "duplicates": 1}
    assert ids.rebuilds == 0  # the store was empty: the writer's own inserts are the index
    # A file load is another writer: the index notices and rebuilds, so its ids count too.
    ingest_file(
        store, "events", write(tmp_path / "more.csv", ["event_id,ts,user_id,type", "d,2024-03-01,u2,view"])
    )
    assert store_events(store, _batch("d", "e"), ids) == {"loaded": 1, "duplicates": 1}
    assert ids.rebuilds == 1
    # A rolled-back commit leaves the index describing rows that are not there: it rebuilds.
    purchase = {"event_id": "f", "ts": "2024-03-01T10:00:00Z", "user_id": "u1", "type": "purchase"}
    with monkeypatch.context() as patch:
        patch.setattr(
            insert, "write_orders", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full"))
        )
        with pytest.raises(RuntimeError):
            store_events(store, prepare_events([purchase]).table, ids)
    assert store_events(store, _batch("f", "a"), ids) == {"loaded": 1, "duplicates": 1}
    assert ids.rebuilds == 2
    assert store.con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall() == [(6, 6)]


def test_orders_written_batch_by_batch_equal_a_rebuild_from_all_events(store: Store) -> None:
    def purchase(event_id: str, order: str | None, item: str, qty: int, price: float, minute: int, **extra):
        return dict(
            event_id=event_id,
            ts=f"2024-03-01T10:{minute:02d}:00Z",
            user_id="u1",
            type="purchase",
            item_id=item,
            quantity=qty,
            price=price,
            order_id=order,
            **extra,
        )

    def batch(*records: dict) -> pa.Table:
        return prepare_events(list(records)).table

    ids = StoredIds()
    store_events(store, _batch("x1"), ids)  # a view whose id a purchase below reuses
    # New orders only: o1 with two lines (one item twice), a purchase without an order id,
    # one without revenue (price x quantity) and one with it.
    new_orders = batch(
        purchase("p1", "o1", "i1", 1, 10.0, 1),
        purchase("p2", "o1", "i1", 2, 10.0, 2),
        purchase("p3", "o1", "i2", 1, 4.0, 3),
        purchase("p4", None, "i3", 3, 2.0, 4),
        purchase("p5", "o2", "i1", 1, 10.0, 5, revenue=8.0),
    )
    stored_repeat = batch(purchase("p1", "o1", "i1", 1, 10.0, 1), purchase("p7", "o3", "i2", 1, 4.0, 6))
    id_of_a_view = batch(purchase("x1", "o4", "i9", 1, 99.0, 7), purchase("p8", "o5", "i2", 2, 4.0, 8))
    repeated_inside = batch(purchase("p9", "o6", "i1", 1, 10.0, 9), purchase("p9", "o6", "i1", 1, 10.0, 9))
    stored_order = batch(purchase("p6", "o1", "i3", 1, 2.0, 0))  # o1 again, before its first line
    for table in (new_orders, stored_repeat, id_of_a_view, repeated_inside, stored_order):
        store_events(store, table, ids)

    def snapshot() -> tuple[list, list]:
        orders = store.con.execute("SELECT * FROM orders ORDER BY order_id").fetchall()
        lines = store.con.execute("SELECT * FROM order_lines ORDER BY order_id, item_id").fetchall()
        return orders, lines

    written = snapshot()
    amounts = [(o[0], o[3]) for o in written[0]]
    assert amounts == [("o1", 36.0), ("o2", 8.0), ("o3", 4.0), ("o5", 8.0), ("o6", 10.0), ("p4", 6.0)]
    derive_orders(store)  # every order rebuilt from all stored purchases
    assert snapshot() == written


def test_a_hash_match_only_triggers_the_exact_check(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    ids = StoredIds()
    store_events(store, _batch("a"), ids)
    # Every id hashes alike: each batch "may" be stored, and the exact anti-join decides.
    monkeypatch.setattr(StoredIds, "hashes", staticmethod(lambda con, source: np.zeros(1, np.uint64)))
    assert store_events(store, _batch("b"), ids) == {"loaded": 1, "duplicates": 0}
    assert store_events(store, _batch("a"), ids) == {"loaded": 0, "duplicates": 1}


def test_ids_merged_into_the_writers_sorted_hashes_are_still_found(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StoredIds, "MERGE_AT", 3)
    ids = StoredIds()
    assert store_events(store, _batch("a", "b"), ids) == {"loaded": 2, "duplicates": 0}
    assert store_events(store, _batch("c", "d"), ids) == {"loaded": 2, "duplicates": 0}  # merged
    assert not ids._recent and len(ids._sorted) == 4
    assert store_events(store, _batch("e", "f", "g"), ids) == {"loaded": 3, "duplicates": 0}  # merged
    assert store_events(store, _batch("a", "d", "g", "h"), ids) == {"loaded": 1, "duplicates": 3}
    assert ids.rebuilds == 0  # found in the merged hashes, not by rebuilding from the store
    assert store.con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall() == [(8, 8)]


def test_batches_of_repeats_do_not_pile_up_in_the_writers_recent_hashes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    monkeypatch.setattr(StoredIds, "MERGE_AT", 4)
    ids = StoredIds()
    store_events(store, _batch("a", "b"), ids)
    for _ in range(20):  # the same two ids again and again: the dict stays at two
        assert store_events(store, _batch("a", "b"), ids) == {"loaded": 0, "duplicates": 2}
    assert sorted(np.concatenate(ids._recent_arrays).tolist()) == sorted(ids._recent)  # a and b, once
    assert store_events(store, _batch("a", "c"), ids) == {"loaded": 1, "duplicates": 1}


def test_the_writers_recent_hashes_are_nothing_the_garbage_collector_walks(store: Store) -> None:
    import gc

    # A set of up to 262,144 hashes cost every full collection of the server tens of milliseconds.
    ids = StoredIds()
    store_events(store, _batch("a"), ids)
    store_events(store, _batch("b"), ids)
    assert ids._recent and not gc.is_tracked(ids._recent)


# -- CLI contracts ---------------------------------------------------------------------------------


def test_cli_ingest_and_db_info_json_contracts(tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", [HEADER, *GOOD_ROWS, "e9,never,u1,s1,view,i1,,,,web"])
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", "events", str(path), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {k: summary[k] for k in ("read", "loaded", "duplicates", "rejected")} == {
        "read": 6,
        "loaded": 5,
        "duplicates": 0,
        "rejected": 1,
    }
    assert summary["quarantine_file"].endswith("events.csv.quarantine.csv")
    info = json.loads(runner.invoke(cli, ["db", "info", "--db", db, "--json"]).output)
    assert info["tables"]["events"] == 5 and info["tables"]["orders"] == 1
    for table in ("items", "users", "order_lines", "quarantine"):
        assert table in info["tables"]


def test_cli_reports_errors_with_exit_code_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path / "events.csv", ["when,who", "x,y"])
    done = subprocess.run(
        [sys.executable, "-m", "cartwise", "ingest", "events", str(path), "--db", str(tmp_path / "x.duckdb")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Error:" in done.stderr and "--map ts=" in done.stderr


@pytest.mark.parametrize("when", ["second file", "rollup"])
def test_ctrl_c_after_a_committed_file_says_what_was_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], when: str
) -> None:
    import cartwise.analytics
    import cartwise.pipelines.ingest as ingest_pipeline
    from cartwise.cli import main

    first = write(tmp_path / "first.csv", [HEADER, *GOOD_ROWS])
    second = write(tmp_path / "second.csv", [HEADER, "e9,2024-03-03T10:00:00Z,u3,s3,view,i1,,,,mobile"])
    db = tmp_path / "shop.duckdb"
    real_ingest = ingest_pipeline.ingest_file

    def interrupted_at_second(store, kind, path, options, **flags):  # Ctrl-C as the second file starts
        if Path(path) == second:
            raise KeyboardInterrupt
        return real_ingest(store, kind, path, options, **flags)

    def interrupted_rollup(store):
        raise RuntimeError("Query interrupted")  # DuckDB's form of Ctrl-C during a query

    if when == "second file":
        monkeypatch.setattr(ingest_pipeline, "ingest_file", interrupted_at_second)
    else:
        monkeypatch.setattr(cartwise.analytics, "refresh_rollup", interrupted_rollup)
    with pytest.raises(SystemExit) as stopped:
        main(["ingest", "events", str(first), str(second), "--db", str(db)])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 130
    assert "first.csv (5 rows loaded)" in stderr and "nothing was changed" not in stderr
    with Store(db) as store:
        stored = {r[0] for r in store.con.execute("SELECT event_id FROM events").fetchall()}
    if when == "second file":
        assert "the other 1 file(s) were not loaded" in stderr and stored == {"e1", "e2", "e3", "e4", "e5"}
    else:
        assert "every file was loaded" in stderr and "second.csv (1 rows loaded)" in stderr
        assert "e9" in stored


def test_ctrl_c_before_any_commit_says_nothing_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cartwise.pipelines.ingest as ingest_pipeline
    from cartwise.cli import main

    def interrupted(store, kind, path, options, **flags):
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest_pipeline, "ingest_file", interrupted)
    with pytest.raises(SystemExit) as stopped:
        main(
            [
                "ingest",
                "events",
                str(write(tmp_path / "e.csv", [HEADER, *GOOD_ROWS])),
                "--db",
                str(tmp_path / "x.duckdb"),
            ]
        )
    assert stopped.value.code == 130 and "nothing was changed" in capsys.readouterr().err


def test_db_export_import_round_trip(store: Store, tmp_path: Path) -> None:
    ingest_file(store, "events", write(tmp_path / "events.csv", [HEADER, *GOOD_ROWS]))
    store.export(tmp_path / "export")
    target = Store(tmp_path / "copy.duckdb", settings=store.settings)
    added = target.import_(tmp_path / "export")
    assert added["events"] == 5 and added["orders"] == 1
    assert target.import_(tmp_path / "export")["events"] == 0
    target.close()


def test_large_files_load_in_slices_with_the_same_ids_and_counts(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cartwise.ingest.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 3)  # seven rows: slices of 3, 3 and 1
    lines = (
        ["ts,user_id,type,item_id"]
        + ["2024-01-01T00:00:00Z,u1,view,i1"] * 4
        + [
            "2024-01-01T00:05:00Z,u2,view,i2",
            "bad,u3,view,i3",
            f"{(datetime.now(UTC) + timedelta(days=30)):%Y-%m-%dT%H:%M:%SZ},u4,view,i4",
        ]
    )
    path = write(tmp_path / "slices.csv", lines)
    first = ingest_file(store, "events", path)
    counts_add_up(first)
    assert (first.loaded, first.duplicates, first.rejected) == (6, 0, 1)
    assert first.rejections[0]["rows"] == [6] and first.warnings[0]["rows"] == [7]
    again = ingest_file(store, "events", path)
    assert (again.loaded, again.duplicates, again.rejected) == (0, 6, 1)
    monkeypatch.setattr(load, "CHUNK_ROWS", 1000)
    whole = ingest_file(store, "events", path)  # same ids whether sliced or not
    assert (whole.loaded, whole.duplicates) == (0, 6)


def test_an_order_split_across_slices_becomes_one_whole_order(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cartwise.ingest.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 2)  # order o1's three lines land in slices 1, 2 and 3
    lines = [
        "event_id,ts,user_id,type,item_id,quantity,price,order_id",
        "p1,2024-01-01T00:03:00Z,u1,purchase,i1,1,10,o1",
        "v1,2024-01-01T00:00:00Z,u1,view,i1,,,",
        "p2,2024-01-01T00:02:00Z,u1,purchase,i2,2,5,o1",
        "p3,2024-01-01T00:04:00Z,u2,purchase,i3,1,7,o2",
        "p4,2024-01-01T00:05:00Z,u1,purchase,i1,3,10,o1",
    ]
    summary = ingest_file(store, "events", write(tmp_path / "orders.csv", lines))
    assert summary.loaded == 5
    orders = store.con.execute(
        "SELECT order_id, user_id, ts, amount, lines, units FROM orders ORDER BY 1"
    ).fetchall()
    assert [(o[0], o[1], str(o[2]), o[3], o[4], o[5]) for o in orders] == [
        ("o1", "u1", "2024-01-01 00:02:00", 10 + 2 * 5 + 3 * 10, 3, 6),
        ("o2", "u2", "2024-01-01 00:04:00", 7, 1, 1),
    ]
    lines_of_o1 = store.con.execute(
        "SELECT item_id, quantity, revenue FROM order_lines WHERE order_id = 'o1' ORDER BY 1"
    ).fetchall()
    assert lines_of_o1 == [("i1", 4, 40.0), ("i2", 2, 10.0)]


def test_parquet_loads_in_slices_like_the_same_rows_in_csv(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cartwise.ingest.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 3)  # DuckDB reads the Parquet file three rows at a time
    lines = [
        "ts,user_id,type,item_id,price",
        *["2024-01-01T00:00:00Z,u1,view,i1,2.5"] * 4,
        "2024-01-01T00:05:00Z,u2,view,i2,-1",
        "2024-01-01T00:06:00Z,u3,view,i3,",
        "2024-01-01T00:07:00Z,,view,i4,1",
    ]
    csv_path = write(tmp_path / "slices.csv", lines)
    table = pacsv.read_csv(
        csv_path, convert_options=pacsv.ConvertOptions(column_types={"price": pa.float64()})
    )
    pq.write_table(table, tmp_path / "slices.parquet", row_group_size=2)
    summary = ingest_file(store, "events", tmp_path / "slices.parquet")
    counts_add_up(summary)
    assert (summary.read, summary.loaded, summary.rejected) == (7, 5, 2)
    assert sorted((r["column"], r["rows"]) for r in summary.rejections) == [("price", [5]), ("user_id", [7])]
    assert [r["row"] for r in quarantine_rows(summary.quarantine_file)] == ["5", "7"]
    # The CSV holds the same records: the derived ids match, so all of its valid rows are duplicates.
    again = ingest_file(store, "events", csv_path)
    assert (again.loaded, again.duplicates, again.rejected) == (0, 5, 2)


def test_a_damaged_parquet_file_loads_nothing_and_says_so(store: Store, tmp_path: Path) -> None:
    rows = 20_000
    table = pa.table(
        {
            "event_id": [f"e{i}" for i in range(rows)],
            "ts": ["2024-03-01T10:00:00Z"] * rows,
            "user_id": [f"u{i % 50}" for i in range(rows)],
            "type": ["view"] * rows,
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path, compression="none", row_group_size=5_000)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4_000] = b"\xff" * 4_000  # a scrambled page; the footer is intact
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"events\.parquet has a damaged part"):
        ingest_file(store, "events", path, LoadOptions(timezone="Europe/Paris"))
    assert store.count("events") == 0 and store.count("loads") == 0
    assert store.con.execute("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]


def test_orders_built_from_batches_equal_orders_rebuilt_from_all_events(store: Store) -> None:
    def purchase(event_id: str, order: str | None, price: float, qty: int = 1) -> dict[str, object]:
        return {
            "event_id": event_id,
            "ts": f"2024-03-01T10:0{len(event_id) % 10}:00Z",
            "user_id": "u1",
            "type": "purchase",
            "item_id": f"i-{event_id}",
            "price": price,
            "quantity": qty,
            **({"order_id": order} if order else {}),
        }

    def from_all_events() -> list[tuple[object, ...]]:
        return store.con.execute(
            """SELECT order_id, user_id, min(ts), sum(revenue), count(item_id), sum(quantity), 'events'
               FROM events WHERE type = 'purchase' GROUP BY ALL ORDER BY order_id"""
        ).fetchall()

    ids = StoredIds()
    batches = [
        [purchase("p1", "o1", 10.0, 2), purchase("p2", "o1", 5.0), purchase("p3", None, 7.0)],  # new orders
        [purchase("p4", "o1", 1.5)],  # a late line of a stored order
        [purchase("p5", "o2", 3.0), purchase("p5", "o2", 3.0), purchase("p6", "o3", 2.0)],  # a repeat
        [purchase("p1", "o1", 10.0, 2), purchase("p7", "o4", 4.0)],  # a stored event again
    ]
    for records in batches:
        store_events(store, prepare_events(records).table, ids)
        assert store.con.execute("SELECT * FROM orders ORDER BY order_id").fetchall() == from_all_events()
    lines = store.con.execute("SELECT * FROM order_lines ORDER BY order_id, item_id").fetchall()
    with store.transaction():
        derive_orders(store)  # every order again, from all the events
    assert store.con.execute("SELECT * FROM order_lines ORDER BY order_id, item_id").fetchall() == lines
    amounts = {row[0]: row[3] for row in from_all_events()}
    assert amounts == {"o1": 26.5, "p3": 7.0, "o2": 3.0, "o3": 2.0, "o4": 4.0}
