"""Line numbers of set-aside records are the lines an editor shows, whatever the format: a CSV's
header is line 1; JSON lines have no header line (issue 24 point 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartwise.core.errors import DataWarning
from cartwise.ingest import LoadOptions, ingest_file
from cartwise.pipelines.bad_rows import read_checked
from cartwise.store import Store

COLUMNS = {"customer": "customer", "date": "day", "amount": "amount"}


def test_json_lines_are_numbered_without_a_header_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"customer": "a", "day": "2024-01-01", "amount": 1}\n'
        '{"customer": "b", "day": "nope", "amount": 2}\n'  # line 2
        '{"customer": "c", "day": "2024-01-03", "amount": 3}\n',
        encoding="utf-8",
    )
    with pytest.warns(DataWarning, match=r"line 2\b"):
        kept, report = read_checked(path, True, COLUMNS)
    assert report["reasons"][0]["lines"] == [2] and len(kept) == 2


def test_csv_lines_count_the_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("customer,day,amount\na,2024-01-01,1\nb,nope,2\n", encoding="utf-8")
    with pytest.warns(DataWarning):
        _, report = read_checked(path, True, COLUMNS)
    assert report["reasons"][0]["lines"] == [3]


def test_ingest_names_json_lines_by_their_line(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"ts": "2024-01-01T00:00:00Z", "user_id": "u1", "type": "view"}\n'
        '{"ts": "yesterday", "user_id": "u2", "type": "view"}\n',  # line 2
        encoding="utf-8",
    )
    summary = ingest_file(store, "events", path, LoadOptions())
    assert summary.rejections[0]["lines"] == [2]


def test_blank_lines_count_as_in_an_editor(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    # line 1 header, 2 a record, 3 and 4 blank (one with a CR), 5 a bad date, 6 blank, 7 a short record
    path.write_bytes(b"customer,day,amount\na,2024-01-01,1\n\n\r\nb,nope,2\n\nc,2024-01-02\n")
    with pytest.warns(DataWarning):
        kept, report = read_checked(path, True, COLUMNS)
    assert sorted(line for r in report["reasons"] for line in r["lines"]) == [5, 7]
    assert len(kept) == 1


def test_ingest_counts_blank_lines_too(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "ts,user_id,type\n2024-01-01T00:00:00Z,u1,view\n\n\nyesterday,u2,view\n", encoding="utf-8"
    )
    summary = ingest_file(store, "events", path, LoadOptions())
    assert summary.rejections[0]["rows"] == [2] and summary.rejections[0]["lines"] == [5]
