"""A new user's first hour with ingestion (issue 24): what the summary says, what quarantine keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cartwise.cli import cli
from cartwise.core.errors import ConfigError, InputError
from cartwise.ingest import LoadOptions, ingest_file, load_mapping_file
from cartwise.ingest.mapping import MissingColumns
from cartwise.store import Store, open_store

HEADER = "event_id,timestamp,customer_id,session,event,product_id,qty,unit_price,order_id"
GOOD = [
    "e1,2024-03-01T10:00:00Z,u1,s1,view,i1,,,",
    "e2,2024-03-01T10:01:00Z,u1,s1,add_to_cart,i1,1,9.99,",
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_summary_names_the_row_of_a_short_record_not_none(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.csv", [HEADER, *GOOD, "e3,2024-03-01T10:02:00Z,u1,s1"])
    result = CliRunner().invoke(cli, ["ingest", "events", str(path), "--db", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "rejected 1:" in x)
    assert "None" not in line
    assert "the record on line 4 has 4 fields where the header has 9" in line  # header = line 1


def test_reingesting_a_file_keeps_each_rejected_row_once_in_quarantine(store: Store, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "events.csv",
        [
            HEADER,
            *GOOD,
            "e3,never,u1,s1,view,i1,,,",
            "e4,2024-03-01T10:02:00Z,u1,s1",
            "e5,2024-03-01T10:03:00Z,,s1,view,i1,,,",
        ],
    )
    first = ingest_file(store, "events", path)
    again = ingest_file(store, "events", path)
    assert first.rejected == again.rejected == 3
    # The second load still reports what it refused ...
    assert sum(r["count"] for r in again.rejections) == 3
    # ... and the quarantine holds each refused row once, under the latest load.
    rows = store.con.execute('SELECT "row", load_id FROM quarantine ORDER BY "row"').fetchall()
    assert [r[0] for r in rows] == [3, 4, 5]
    assert {r[1] for r in rows} == {again.load_id}


def test_another_file_with_the_same_bad_row_keeps_its_own_quarantine_rows(
    store: Store, tmp_path: Path
) -> None:
    lines = [HEADER, *GOOD, "e3,never,u1,s1,view,i1,,,"]
    ingest_file(store, "events", _write(tmp_path / "a.csv", lines))
    ingest_file(store, "events", _write(tmp_path / "b.csv", lines))
    assert store.count("quarantine") == 2


INTER = [
    "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    "196\t242\t3\t881250949",
    "186\t302\t3\t891717742",
    "22\t377\t1\t878887116",
]


def test_a_ratings_export_without_a_type_column_names_the_set_option(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path / "ml-100k.inter", INTER)
    with pytest.raises(MissingColumns, match=r"`set` type=VALUE"):
        ingest_file(store, "events", path)


def test_constants_fill_a_canonical_column_and_are_saved_with_the_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path / "ml-100k.inter", INTER)
    db, saved = str(tmp_path / "s.duckdb"), tmp_path / "ml.toml"
    runner = CliRunner()
    done = runner.invoke(
        cli,
        [
            "ingest",
            "events",
            str(path),
            "--set",
            "type=rating",
            "--save-mapping",
            str(saved),
            "--db",
            db,
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert (summary["loaded"], summary["rejected"]) == (3, 0)
    assert summary["constants"] == {"type": "rating"} and "type" not in summary["mapping"]
    assert load_mapping_file(saved)["set"] == {"type": "rating"}
    # The saved mapping alone loads a second export the same way.
    other = _write(tmp_path / "more.inter", [INTER[0], "7\t9\t5\t881250950"])
    done = runner.invoke(cli, ["ingest", "events", str(other), "--mapping", str(saved), "--db", db, "--json"])
    assert done.exit_code == 0, done.output
    with open_store(Path(db)) as opened:
        types = opened.con.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall()
        assert types == [("rating", 4)]
        assert opened.con.execute(
            "SELECT properties->>'rating' FROM events WHERE user_id = '7'"
        ).fetchone() == ("5",)


def test_a_constant_for_an_unknown_column_or_beside_a_map_is_refused(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path / "ml-100k.inter", INTER)
    with pytest.raises(ConfigError, match=r"names 'kind'.*canonical columns are"):
        ingest_file(store, "events", path, LoadOptions(constants={"kind": "rating"}))
    with pytest.raises(ConfigError, match=r"both a column \(`map`\) and a constant"):
        ingest_file(
            store, "events", path, LoadOptions(mapping={"type": "rating"}, constants={"type": "rating"})
        )


MASTER = [
    "00001 19970101  1  11.77",
    "00002 19970112  1  12.00",
    "00002 19970112  5  77.00",
    "00003 19970102  2  20.76",
]


def test_cdnow_master_form_with_four_columns_loads(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path / "CDNOW_master.txt", MASTER)
    summary = ingest_file(store, "transactions", path, LoadOptions(format="cdnow"))
    assert (summary.loaded, summary.rejected) == (4, 0)
    assert store.con.execute(
        "SELECT sum(amount), sum(units), min(ts)::DATE::VARCHAR FROM orders WHERE user_id = '00002'"
    ).fetchone() == (pytest.approx(89.0), 6, "1997-01-12")


def test_a_file_whose_every_record_fails_for_one_reason_is_a_whole_file_error(
    store: Store, tmp_path: Path
) -> None:
    # A header of 9 fields over records of 4: the layout is wrong, not the rows.
    path = _write(
        tmp_path / "events.csv", [HEADER, "e1,2024-03-01T10:00:00Z,u1,s1", "e2,2024-03-01T10:00:00Z,u2,s1"]
    )
    with pytest.raises(
        InputError, match=r"every one of its 2 records has 4 fields where the header has 9.*`delimiter`"
    ):
        ingest_file(store, "events", path)
    assert store.count("quarantine") == 0 and store.count("events") == 0
    odd = _write(tmp_path / "odd.txt", ["00001 19970101 1", "00002 19970112 1"])
    with pytest.raises(
        InputError, match=r"not a CDNOW log: its first line has 3 fields.*4-column master form"
    ):
        ingest_file(store, "transactions", odd, LoadOptions(format="cdnow"))


def test_a_headerless_file_gets_the_no_header_hint(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path / "CDNOW_master.txt", MASTER)
    with pytest.raises(
        MissingColumns, match=r"looks like data, not a header: .*`no_header` and map columns by number"
    ):
        ingest_file(store, "transactions", path)
    # With --no-header and columns by number, it loads.
    options = LoadOptions(header=False, mapping={"user_id": "0", "ts": "1", "quantity": "2", "amount": "3"})
    assert ingest_file(store, "transactions", path, options).loaded == 4
