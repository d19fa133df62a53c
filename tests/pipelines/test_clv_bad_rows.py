"""`cartwise clv` treats bad rows like ingestion (issue 24.7): set aside, counted, reported by
the line an editor shows; `--strict` fails instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from cartwise.cli.clv import clv

FIXTURE = Path(__file__).resolve().parents[1] / "predict" / "fixtures" / "cdnow_transactions_250.txt"
ARGS = ["--customer-col", "0", "--date-col", "2", "--amount-col", "4", "--calibration-end", "1997-09-30"]


def _damaged(tmp_path: Path) -> Path:
    """The CDNOW fixture (no header) with a bad date on editor line 3 and a short record on line 5."""
    path = tmp_path / "log.txt"
    shutil.copy(FIXTURE, path)
    lines = path.read_text().splitlines()
    lines[2] = "00009 0009 1997x101 1 11.77"
    lines[4] = "00009 0009 19970101 1"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_sets_bad_records_aside_and_names_their_editor_lines(tmp_path: Path) -> None:
    done = CliRunner().invoke(clv, ["fit", "--transactions", str(_damaged(tmp_path)), *ARGS, "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)["set_aside"]
    assert report["set_aside"] == 2
    by_line = {r["lines"][0]: r for r in report["reasons"]}
    assert (
        by_line[3]["reason"] == "record whose date (column `2`) is not a date"
        and by_line[3]["example"] == "1997x101"
    )
    assert by_line[5]["reason"].startswith("record has 4 fields where 5 were expected")


def test_predict_also_sets_aside_and_strict_fails_naming_the_lines(tmp_path: Path) -> None:
    path = _damaged(tmp_path)
    out = tmp_path / "clv.csv"
    done = CliRunner().invoke(
        clv, ["predict", "--transactions", str(path), *ARGS, "--horizon", "52", "--out", str(out), "--json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["set_aside"]["set_aside"] == 2
    strict = CliRunner().invoke(clv, ["fit", "--transactions", str(path), *ARGS, "--strict"])
    assert strict.exit_code != 0
    message = str(strict.exception)
    assert "records cannot be used" in message
    assert "(line 3, e.g. '1997x101')" in message and "(line 5," in message


def test_with_a_header_line_the_lines_count_it(tmp_path: Path) -> None:
    rows = [line.split() for line in FIXTURE.read_text().splitlines()]
    body = [f"{r[0]},{r[2]},{r[4]}" for r in rows]
    body[9] = "00042,19970105,N/A"  # editor line 11: the header is line 1
    path = tmp_path / "log.csv"
    path.write_text("\n".join(["customer,date,amount", *body]) + "\n")
    args = ["fit", "--transactions", str(path), "--customer-col", "customer", "--date-col", "date"]
    args += ["--amount-col", "amount", "--calibration-end", "1997-09-30", "--strict"]
    done = CliRunner().invoke(clv, args)
    assert done.exit_code != 0
    assert "1 record whose amount (column `amount`) is not a number (line 11, e.g. 'N/A')" in str(
        done.exception
    )
