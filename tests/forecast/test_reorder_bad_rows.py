"""`cartwise forecast reorder` sets unusable forecast and stock records aside by the line an
editor shows, and `--strict` fails naming it (issue 24 point 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from cartwise.cli.forecast import forecast
from cartwise.core.errors import InputError

FORECAST = [
    "id,date,forecast,lo_80,hi_80",
    "a,2024-01-01,10,8,12",
    "a,2024-01-08,10,8,12",
    "b,2024-01-01,5,4,6",
    "b,2024-01-08,N/A,4,6",  # line 5: series b loses a step, so it is left out whole
    "c,2024-01-01,3,2,4",
    "c,2024-01-08,3,2,4",
]
STOCK = ["id,stock", "a,5", "b,100", "c,lots"]  # line 4: not a number


def _args(tmp_path: Path) -> list[str]:
    (tmp_path / "fc.csv").write_text("\n".join(FORECAST) + "\n", encoding="utf-8")
    (tmp_path / "stock.csv").write_text("\n".join(STOCK) + "\n", encoding="utf-8")
    return ["reorder", "--forecast", str(tmp_path / "fc.csv"), "--stock", str(tmp_path / "stock.csv"),
            "--lead-time", "1", "--out", str(tmp_path / "plan.csv")]  # fmt: skip


def test_bad_forecast_and_stock_rows_are_set_aside_by_line(tmp_path: Path) -> None:
    args = _args(tmp_path)
    done = CliRunner().invoke(forecast, [*args, "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    report = result["set_aside"]
    assert report["set_aside"] == 1 and report["reasons"][0]["lines"] == [5]
    assert report["reasons"][0]["example"] == "N/A" and report["series_left_out"] == ["b"]
    assert report["stock"]["set_aside"] == 1 and report["stock"]["reasons"][0]["lines"] == [4]
    assert "stock on hand (column `stock`) is not a number" in report["stock"]["reasons"][0]["reason"]
    # a's plan only: b lost a forecast step, c's stock is unusable; a's numbers are as written
    assert result["items"] == 1
    assert pd.read_csv(tmp_path / "plan.csv")[["id", "stock"]].values.tolist() == [["a", 5.0]]
    text = CliRunner().invoke(forecast, args).stdout
    assert "Set aside 1 unusable forecast records" in text and "(line 5, e.g. 'N/A')" in text
    assert "Set aside 1 unusable stock records" in text and "(line 4, e.g. 'lots')" in text
    assert "1 series left out, a forecast row set aside: b" in text


def test_strict_fails_naming_the_line(tmp_path: Path) -> None:
    done = CliRunner().invoke(forecast, [*_args(tmp_path), "--strict"])
    assert done.exit_code != 0 and isinstance(done.exception, InputError)
    assert "1 of 6 records cannot be used" in str(done.exception)
    assert "(column `forecast`) is not a number (line 5, e.g. 'N/A')" in str(done.exception)
    assert not (tmp_path / "plan.csv").exists()
