"""The panel runner and `cartwise forecast` on generated files with known structure."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cartwise.cli import main
from cartwise.cli.forecast import forecast
from cartwise.core.errors import ConfigError, DataWarning, InputError
from cartwise.forecast import (
    attach_covariates,
    backtest_histories,
    build_panel,
    cross_validate,
    forecast_panel,
)

H = 6


def make_files(tmp: Path, dates: bool = True) -> tuple[Path, Path]:
    """16 series over 60 periods: half driven by a promotion (x1.8), half seasonal (period 6)."""
    rng = np.random.default_rng(21)
    hist, cov = [], []
    for i in range(16):
        promo = (rng.random(60 + H) < 0.25).astype(int)
        t = np.arange(60 + H)
        if i % 2:
            y = rng.poisson(15 * (1 + 0.8 * promo))
        else:
            y = np.round(20 + 8 * np.sin(2 * np.pi * t / 6) + rng.normal(0, 1, t.size))
        label = (
            [(pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=int(k))).date().isoformat() for k in t]
            if dates
            else t + 1
        )
        hist += [(f"sku{i}", label[k], int(y[k])) for k in range(60)]
        cov += [(f"sku{i}", label[k], "yes" if promo[k] else "no") for k in range(60 + H)]
    h_path, c_path = tmp / "history.csv", tmp / "covariates.csv"
    pd.DataFrame(hist, columns=["sku", "week", "units"]).to_csv(h_path, index=False)
    pd.DataFrame(cov, columns=["sku", "week", "promo"]).to_csv(c_path, index=False)
    return h_path, c_path


def run(args: list[str]):
    return CliRunner().invoke(forecast, [str(a) for a in args])


BASE = ["--id-col", "sku", "--date-col", "week", "--value-col", "units", "--horizon", H]


def test_forecast_writes_the_contract_columns_and_keeps_dates(tmp_path: Path) -> None:
    hist, _ = make_files(tmp_path)
    out = tmp_path / "fc.csv"
    result = run(["--history", hist, *BASE, "--out", out, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["series"] == 16 and summary["rows"] == 16 * H and summary["freq"] == "W"
    fc = pd.read_csv(out)
    assert list(fc.columns) == ["id", "date", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
    first = fc[fc["id"] == "sku0"]["date"].tolist()
    last_week = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=59)
    assert first == [(last_week + pd.Timedelta(weeks=k)).date().isoformat() for k in range(1, H + 1)]
    assert (fc["lo_95"] <= fc["forecast"]).all() and (fc["forecast"] <= fc["hi_95"]).all()


def test_integer_periods_stay_integers(tmp_path: Path) -> None:
    hist, _ = make_files(tmp_path, dates=False)
    out = tmp_path / "fc.csv"
    result = run(["--history", hist, *BASE, "--model", "naive", "--out", out])
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(out)
    assert fc["date"].dtype.kind == "i"
    assert fc[fc["id"] == "sku3"]["date"].tolist() == list(range(61, 61 + H))


@pytest.fixture(scope="module")
def promo_backtest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    hist, cov = make_files(tmp_path_factory.mktemp("bt"))
    args = [
        "backtest",
        "--history",
        hist,
        *BASE,
        "--covariates",
        cov,
        "--model",
        "auto",
        "--model",
        "lightgbm",
    ]
    result = run([*args, "--windows", 1, "--json"])
    assert result.exit_code == 0, result.output
    return {row["model"]: row for row in json.loads(result.output)["metrics"]}


def test_backtest_reports_references_computed_in_the_same_run(promo_backtest: dict) -> None:
    assert set(promo_backtest) == {"auto", "lightgbm", "naive", "statsforecast_autoets"}
    for row in promo_backtest.values():
        assert row["n_series"] == 16
        assert 0 <= row["coverage_80"] <= row["coverage_95"] <= 1
        assert row["mase"] > 0 and 0 <= row["smape"] <= 200


def test_promotion_aware_choice_beats_naive_and_autoets(promo_backtest: dict) -> None:
    best_reference = min(promo_backtest["naive"]["mase"], promo_backtest["statsforecast_autoets"]["mase"])
    assert promo_backtest["auto"]["mase"] < 0.8 * best_reference
    assert promo_backtest["lightgbm"]["mase"] < 0.8 * best_reference


def test_covariate_gaps_never_fail_the_run_and_are_reported(tmp_path: Path) -> None:
    hist, cov = make_files(tmp_path)
    frame = pd.read_csv(cov)
    future = frame["week"] > "2025-02-17"
    # sku0 lost its whole future, sku1 two weeks in the middle, sku2 every covariate row.
    gone = (future & (frame["sku"] == "sku0")) | (frame["sku"] == "sku2")
    gone |= (frame["sku"] == "sku1") & frame["week"].isin(["2025-03-03", "2025-03-10"])
    frame[~gone].to_csv(cov, index=False)
    out = tmp_path / "fc.csv"
    result = run(["--history", hist, *BASE, "--covariates", cov, "--out", out, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    fill = summary["covariates_fill"]
    assert fill["policy"] == "last" and fill["series"] == 2 and fill["periods"] == H + 2
    assert fill["filled"]["sku1"] == ["2025-03-03", "2025-03-10"]
    assert len(fill["filled"]["sku0"]) == H and fill["without_covariates"] == ["sku2"]
    assert any("lack covariates" in w for w in summary["warnings"])
    fc = pd.read_csv(out)
    assert summary["rows"] == 16 * H and fc.groupby("id").size().eq(H).all()
    assert fc["forecast"].notna().all()

    dropped = run(["--history", hist, *BASE, "--covariates", cov, "--covariates-fill", "drop", "--out", out])
    assert dropped.exit_code == 0, dropped.output
    assert "left out (--covariates-fill drop)" in dropped.output
    fc = pd.read_csv(out)
    assert "sku0" not in set(fc["id"]) and set(fc[fc["id"] == "sku1"]["date"]).isdisjoint(
        fill["filled"]["sku1"]
    )
    assert len(fc) == 16 * H - H - 2

    refused = run(["--history", hist, *BASE, "--covariates", cov, "--covariates-fill", "error", "--out", out])
    assert isinstance(refused.exception, InputError)
    assert "lacks values for some of the 6 future periods of 2 series" in str(refused.exception)
    assert refused.exception.parameter == "covariates_fill" and "policy last" in str(refused.exception)


def test_duplicate_rows_and_missing_options_fail_clearly(tmp_path: Path) -> None:
    hist, _ = make_files(tmp_path)
    frame = pd.read_csv(hist)
    pd.concat([frame, frame.iloc[[5]]]).to_csv(hist, index=False)
    result = run(["--history", hist, *BASE, "--out", tmp_path / "x.csv"])
    assert isinstance(result.exception, InputError) and "duplicate (sku, week) rows" in str(result.exception)
    result = run(["--history", hist, "--id-col", "sku"])
    assert result.exit_code == 2 and "--date-col" in result.output and "--out" in result.output


def test_runner_falls_back_on_short_series_and_says_so() -> None:
    frame = pd.DataFrame(
        {
            "id": ["long"] * 40 + ["short"] * 3,
            "t": [*range(1, 41), 38, 39, 40],
            "y": [5.0] * 40 + [1.0, 2.0, 3.0],
        }
    )
    panel = build_panel(frame, "id", "t", "y")
    with pytest.warns(DataWarning, match="1 series used a simpler model"):
        result = forecast_panel(panel, 4, model="ets")
    assert result.models == {"long": "ets", "short": "naive"}
    assert "fewer than the 10 ETS needs" in result.notes["short"]
    assert result.frame[result.frame["id"] == "short"]["forecast"].tolist() == [3.0] * 4


def test_cross_validate_holds_out_each_window() -> None:
    frame = pd.DataFrame({"id": ["a"] * 30, "t": range(30), "y": np.arange(30.0)})
    cv = cross_validate(build_panel(frame, "id", "t", "y"), 5, ["naive"], n_windows=2)
    assert len(cv) == 10
    w1 = cv[cv["window"] == 1]
    np.testing.assert_array_equal(w1["actual"], np.arange(25.0, 30.0))
    np.testing.assert_array_equal(w1["forecast"], [24.0] * 5)
    panel = build_panel(frame, "id", "t", "y")
    assert backtest_histories(panel, 5, 2)[(2, "a")].tolist() == list(range(20))


def test_unknown_model_is_refused_before_reading(tmp_path: Path) -> None:
    hist, _ = make_files(tmp_path)
    result = run(["--history", hist, *BASE, "--model", "prophet", "--out", tmp_path / "x.csv"])
    assert isinstance(result.exception, ConfigError)
    assert "`model`: 'prophet' is unknown; choose one of: auto, naive" in str(result.exception)


def test_the_cli_names_the_option_and_json_errors_are_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hist, _ = make_files(tmp_path)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    args = [
        "forecast",
        "--history",
        str(hist),
        *map(str, BASE),
        "--model",
        "prophet",
        "--out",
        str(tmp_path / "x.csv"),
    ]
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    assert done.value.code == 2 and out == ""
    assert err.startswith("Error: --model: 'prophet' is unknown; choose one of: auto, naive")
    with pytest.raises(SystemExit) as done:
        main([*args, "--json"])
    out, err = capsys.readouterr()
    assert done.value.code == 2 and err == ""
    body = json.loads(out)
    assert body["error"] == "config_error" and body["parameter"] == "model"
    assert body["message"].startswith("--model: 'prophet' is unknown")


def test_reorder_plan_from_a_forecast_file(tmp_path: Path) -> None:
    hist, _ = make_files(tmp_path)
    fc = tmp_path / "fc.csv"
    assert run(["--history", hist, *BASE, "--model", "moving_average", "--out", fc]).exit_code == 0
    pd.DataFrame({"id": ["sku0", "sku1"], "stock": [0, 10_000]}).to_csv(tmp_path / "stock.csv", index=False)
    plan_path = tmp_path / "plan.csv"
    result = run(["reorder", "--forecast", fc, "--stock", tmp_path / "stock.csv", "--lead-time", 2,
                  "--out", plan_path, "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["items"] == 2 and summary["to_order"] == 1
    plan = pd.read_csv(plan_path)
    assert plan["id"].tolist() == ["sku0", "sku1"]  # the empty shelf is the riskiest
    assert plan.loc[0, "stockout_risk"] > 0.99 and plan.loc[1, "stockout_risk"] < 0.01


def test_global_model_handles_series_of_mixed_lengths() -> None:
    rng = np.random.default_rng(3)
    lengths = {"long": 80, "mid": 20, "short": 5}
    frame = pd.concat(
        [
            pd.DataFrame({"id": sid, "t": np.arange(100 - n, 100), "y": rng.poisson(10, n).astype(float)})
            for sid, n in lengths.items()
        ]
    )
    panel = build_panel(frame, "id", "t", "y")
    cov = pd.DataFrame(
        [(sid, t, t % 3 == 0) for sid in lengths for t in range(0, 112)], columns=["id", "t", "flag"]
    )
    attach_covariates(panel, cov, "id", "t", 12)
    with pytest.warns(DataWarning, match="simpler model"):
        result = forecast_panel(panel, 12, model="lightgbm")
    assert result.models["long"] == "lightgbm" and result.models["short"] != "lightgbm"
    assert "too short for the global model" in result.notes["short"]
    assert len(result.frame) == 36 and np.isfinite(result.frame["forecast"]).all()
    with pytest.warns(DataWarning, match="'short': 5 points are too few for a backtest"):
        auto = forecast_panel(panel, 12, model="auto")
    assert len(auto.frame) == 36 and np.isfinite(auto.frame["forecast"]).all()


def test_intermittent_series_keep_their_per_series_model_beside_the_global_one() -> None:
    rng = np.random.default_rng(8)
    rows, cov = [], []
    for i in range(12):
        promo = rng.random(72) < 0.25
        # Even ids sell every week (x1.8 on promotion); odd ids sell in about one week in five.
        y = rng.poisson(20 * (1 + 0.8 * promo)) if i % 2 == 0 else (rng.random(72) < 0.2) * 3
        rows += [(f"s{i}", t, float(y[t])) for t in range(60)]
        cov += [(f"s{i}", t, float(promo[t])) for t in range(72)]
    panel = build_panel(pd.DataFrame(rows, columns=["id", "t", "y"]), "id", "t", "y")
    attach_covariates(panel, pd.DataFrame(cov, columns=["id", "t", "promo"]), "id", "t", 12)
    result = forecast_panel(panel, 12, model="auto")
    sparse = {sid: m for sid, m in result.models.items() if int(sid[1:]) % 2}
    assert "lightgbm" not in sparse.values()
    assert "lightgbm" in result.models.values()


def test_bad_history_records_are_set_aside_by_editor_line_and_strict_fails(tmp_path: Path) -> None:
    """Issue 24.7: one bad row no longer rejects the history; it is set aside and named by the
    line an editor shows (the header is line 1); an empty value stays a missing period."""
    hist, _ = make_files(tmp_path)
    lines = [line.split(",") for line in hist.read_text().splitlines()]
    lines[9][2] = "N/A"  # editor line 10
    lines[20][1] = "2024-5-99"  # editor line 21: not a date
    lines[30][0] = ""  # editor line 31: no series id
    lines[40][2] = ""  # editor line 41: empty, a missing period (kept)
    lines = [",".join(line) for line in lines]
    hist.write_text("\n".join(lines) + "\n")
    result = run([*BASE, "--history", hist, "--out", tmp_path / "f.csv", "--model", "naive", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["set_aside"]
    assert report["set_aside"] == 3
    reasons = {r["lines"][0]: r for r in report["reasons"]}
    assert reasons[10]["reason"] == "record whose value (column `units`) is not a number"
    assert reasons[10]["example"] == "N/A"
    assert reasons[21]["reason"].startswith("record whose period (column `week`) is neither a date")
    assert reasons[31]["reason"] == "record with no series id (column `sku`)"
    # The data warning under --json names the option, as the text's line does (issue 20 point 3).
    (warned,) = [w for w in json.loads(result.stdout)["warnings"] if "set aside" in w]
    assert "pass --strict to fail instead" in warned and "`strict`" not in warned
    text = run([*BASE, "--history", hist, "--out", tmp_path / "f.csv", "--model", "naive"]).output
    assert "Set aside 3 unusable history records" in text and "(line 10, e.g. 'N/A')" in text
    strict = run(["backtest", *BASE, "--history", hist, "--model", "naive", "--windows", "1", "--strict"])
    assert isinstance(strict.exception, InputError)
    assert "3 of 960 records cannot be used" in str(strict.exception)


def test_a_history_whose_every_record_is_unusable_is_one_whole_file_error(tmp_path: Path) -> None:
    hist, _ = make_files(tmp_path)
    args = ["--id-col", "sku", "--date-col", "units", "--value-col", "week", "--horizon", H]  # swapped
    result = run([*args, "--history", hist, "--out", tmp_path / "f.csv"])
    assert isinstance(result.exception, InputError)
    assert "none of its 960 records can be used" in str(result.exception)


def test_a_duplicate_after_set_aside_rows_names_the_editor_lines(tmp_path: Path) -> None:
    hist, _ = make_files(tmp_path)
    lines = hist.read_text().splitlines()
    lines[2] = "sku0,2024-01-08,oops"  # editor line 3: set aside
    lines[5] = lines[4]  # editor line 6 repeats line 5
    hist.write_text("\n".join(lines) + "\n")
    result = run([*BASE, "--history", hist, "--out", tmp_path / "f.csv"])
    assert isinstance(result.exception, InputError)
    assert "(lines 5, 6," in str(result.exception)


def test_bad_covariate_records_are_set_aside_too(tmp_path: Path) -> None:
    hist, cov = make_files(tmp_path)
    lines = cov.read_text().splitlines()
    lines[3] = "sku0,not-a-week,yes"  # editor line 4
    lines[7] = "sku0,2024-02-12,yes,extra"  # editor line 8: a field too many
    cov.write_text("\n".join(lines) + "\n")
    args = [*BASE, "--history", hist, "--covariates", cov, "--out", tmp_path / "f.csv", "--model", "naive"]
    result = run([*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["set_aside"]
    assert report["set_aside"] == 0 and report["covariates"]["set_aside"] == 2
    assert sorted(r["lines"][0] for r in report["covariates"]["reasons"]) == [4, 8]
    assert "Set aside 2 unusable covariate records" in run(args).output
    strict = run([*args, "--strict"])
    assert isinstance(strict.exception, InputError) and "2 of 1,056 records cannot be used" in str(
        strict.exception
    )
