"""A new user's first hour with ingestion (issue 24): what the summary says, what quarantine keeps."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cartwise.cli import cli

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
    assert "the record on row 3 has 4 fields where the header has 9" in line
