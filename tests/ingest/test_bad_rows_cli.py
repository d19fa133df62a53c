"""`cartwise ingest` names rejected rows by the line an editor shows, and `--strict` refuses a
file with one (issue 24 point 7: every command that reads a file treats bad rows the same way)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cartwise.cli import cli, main
from cartwise.core.errors import InputError

ROWS = [
    "ts,user_id,type,item_id,price",
    "2024-01-01T10:00:00Z,u1,view,i1,",
    "2024-01-02T10:00:00Z,u2,purchase,i2,abc",  # line 3: price is not a number
    "2024-01-03T10:00:00Z,u3,view,i1,",
    "2024-01-03T11:00:00Z,u4,view,i1,,extra",  # line 5: a field too many
    "2024-01-04T11:00:00Z,u4,purchase,i1,12",
]


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _events(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])


def test_rejected_rows_are_counted_and_named_by_editor_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.csv", ROWS)
    db = tmp_path / "s.duckdb"
    done = CliRunner().invoke(cli, ["ingest", "events", str(path), "--db", str(db), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["rejected"] == 2 and summary["loaded"] == 3
    by_column = {r["column"]: r for r in summary["rejections"]}
    assert by_column["price"]["lines"] == [3] and by_column["price"]["example"] == "abc"
    assert by_column[None]["lines"] == [5]
    assert by_column["price"]["rows"] == [2]  # the quarantine's record number stays as it was
    text = CliRunner().invoke(cli, ["ingest", "events", str(path), "--db", str(tmp_path / "t.duckdb")])
    assert "`price` is not a number (line 3, e.g. 'abc')" in text.stdout
    assert "the record on line 5 has 6 fields where the header has 5" in text.stdout


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code or 0), capsys.readouterr().err


def test_strict_refuses_the_file_naming_lines_and_loads_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "events.csv", ROWS)
    db = tmp_path / "s.duckdb"
    code, err = _main(capsys, "ingest", "events", str(path), "--db", str(db), "--strict")
    assert code == 2
    assert "2 of 5 records cannot be loaded" in err
    assert "whose `price` is not a number (line 3, e.g. 'abc')" in err and "(line 5," in err
    assert "drop --strict" in err  # the CLI's name for the option
    assert not (tmp_path / "events.csv.quarantine.csv").exists()
    good = _write(tmp_path / "good.csv", [ROWS[0], ROWS[1], ROWS[5]])
    code, _ = _main(capsys, "ingest", "events", str(good), str(path), "--db", str(db), "--strict")
    assert code == 2
    assert _events(db) == 2  # the clean file before it stays loaded; nothing of the bad one


def test_strict_errors_are_input_errors(tmp_path: Path) -> None:
    from cartwise.ingest import LoadOptions, ingest_file
    from cartwise.store import open_store

    path = _write(tmp_path / "events.csv", ROWS)
    with open_store(tmp_path / "s.duckdb") as store:
        try:
            ingest_file(store, "events", path, LoadOptions(), strict=True)
        except InputError as exc:
            assert "(line 3," in str(exc) and exc.mentions == ("strict",)
        else:
            raise AssertionError("strict did not refuse the file")
        assert store.con.execute("SELECT count(*) FROM events").fetchall()[0][0] == 0
