"""`cartwise clv fit` and `cartwise clv predict` end to end: file -> summary -> fit -> CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cartwise.cli.clv import clv
from cartwise.core.errors import InputError, ModelError
from cartwise.predict import BGNBD, GammaGamma

FIXTURES = Path(__file__).parent / "fixtures"
RAW = FIXTURES / "cdnow_transactions_250.txt"
NUMBERED = [
    "--transactions", str(RAW), "--customer-col", "0", "--date-col", "2", "--amount-col", "4",
    "--date-format", "%Y%m%d", "--calibration-end", "1997-09-30", "--observation-end", "1998-06-30",
]  # fmt: skip


def run(*args: str) -> dict:
    result = CliRunner().invoke(clv, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def summary_250() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "cdnow_sample_summary.csv", dtype={"customer_id": str}).head(250)


def test_fit_json_matches_the_library_on_the_same_customers(summary_250: pd.DataFrame) -> None:
    out = run("fit", *NUMBERED, "--json")
    assert out["model"] == "bgnbd" and out["customers"] == 250
    assert set(out["params"]) == {"r", "alpha", "a", "b"}
    assert set(out["gamma_gamma"]) == {"p", "q", "v"}
    direct = BGNBD().fit(summary_250["frequency"], summary_250["recency"], summary_250["T"])
    for name, value in direct.params_.items():
        assert out["params"][name] == pytest.approx(value, rel=1e-4)
    assert out["log_likelihood"] == pytest.approx(direct.log_likelihood_, rel=1e-6)
    repeat = summary_250[summary_250["frequency"] > 0]
    spend = GammaGamma().fit(repeat["frequency"], repeat["monetary_value"])
    for name, value in spend.params_.items():
        assert out["gamma_gamma"][name] == pytest.approx(value, rel=1e-4)
    assert set(out["standard_errors"]["params"]) == {"r", "alpha", "a", "b"}
    holdout = out["holdout"]
    assert holdout["total_actual"] == summary_250["frequency_holdout"].sum()
    assert holdout["mae"] > 0


def test_fit_auto_mbgnbd_and_pareto(summary_250: pd.DataFrame) -> None:
    pareto = run("fit", *NUMBERED, "--model", "pareto", "--json")
    assert pareto["model"] == "pareto" and set(pareto["params"]) == {"r", "alpha", "s", "beta"}
    mbgnbd = run("fit", *NUMBERED, "--model", "mbgnbd", "--json")
    assert mbgnbd["model"] == "mbgnbd" and set(mbgnbd["params"]) == {"r", "alpha", "a", "b"}
    auto = run("fit", *NUMBERED, "--model", "auto", "--json")
    maes = {name: h["mae"] for name, h in auto["holdout_by_model"].items()}
    assert set(maes) == {"bgnbd", "mbgnbd", "pareto"}
    assert auto["model"] == min(maes, key=lambda k: maes[k])
    assert auto["holdout_by_model"]["mbgnbd"] == mbgnbd["holdout"]


def test_predict_with_mbgnbd_leaves_no_one_time_buyer_certainly_alive(
    tmp_path: Path, summary_250: pd.DataFrame
) -> None:
    out_file = tmp_path / "preds.csv"
    run("predict", *NUMBERED, "--model", "mbgnbd", "--horizon", "39", "--out", str(out_file), "--json")
    preds = pd.read_csv(out_file, dtype={"customer_id": str}).merge(summary_250, on="customer_id")
    one_time = preds[preds["frequency"] == 0]
    assert len(one_time) > 100 and one_time["p_alive"].max() < 0.6


def test_predict_writes_one_row_per_customer(tmp_path: Path) -> None:
    out_file = tmp_path / "preds.csv"
    out = run("predict", *NUMBERED, "--horizon", "39", "--out", str(out_file), "--json")
    preds = pd.read_csv(out_file, dtype={"customer_id": str})
    assert list(preds.columns) == [
        "customer_id",
        "expected_purchases",
        "p_alive",
        "expected_avg_value",
        "clv",
    ]
    assert len(preds) == 250 == out["customers"] and preds["customer_id"].is_unique
    assert preds["customer_id"].iloc[0] == "00004"
    assert preds["p_alive"].between(0, 1).all()
    assert (preds["clv"] >= 0).all() and (preds["expected_avg_value"] > 0).all()
    # Discounted CLV is below undiscounted purchases x value, but not by more than a year's discount.
    undiscounted = preds["expected_purchases"] * preds["expected_avg_value"]
    assert np.all(preds["clv"] <= undiscounted + 1e-9)
    assert np.all(preds["clv"] >= undiscounted / 1.1 - 1e-9)
    assert out["clv"] == pytest.approx(preds["clv"].sum())


def test_named_columns_with_a_header_and_inferred_dates(tmp_path: Path) -> None:
    raw = pd.read_csv(RAW, sep=r"\s+", header=None, dtype=str)
    frame = pd.DataFrame(
        {"order_date": pd.to_datetime(raw[2]).dt.strftime("%Y-%m-%d"), "buyer": raw[0], "total": raw[4]}
    )
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    named = run(
        "fit", "--transactions", str(path), "--customer-col", "buyer", "--date-col", "order_date",
        "--amount-col", "total", "--calibration-end", "1997-09-30", "--observation-end", "1998-06-30", "--json",
    )  # fmt: skip
    numbered = run("fit", *NUMBERED, "--json")
    assert named["params"] == pytest.approx(numbered["params"])


def test_time_unit_day_rescales_alpha() -> None:
    weeks = run("fit", *NUMBERED, "--json")
    days = run("fit", *NUMBERED, "--time-unit", "day", "--json")
    assert days["params"]["alpha"] == pytest.approx(7 * weeks["params"]["alpha"], rel=1e-4)
    assert days["params"]["r"] == pytest.approx(weeks["params"]["r"], rel=1e-4)


def test_bad_input_gives_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    early = [*NUMBERED[:-4], "--calibration-end", "1996-12-31"]
    result = runner.invoke(clv, ["fit", *early])
    assert isinstance(result.exception, InputError)
    assert "before the first transaction (1997-01-01)" in str(result.exception)

    single = tmp_path / "single.txt"
    single.write_text("".join(f"{i:05d} 1 1997010{i % 9 + 1} 1 10.00\n" for i in range(20)))
    result = runner.invoke(
        clv,
        ["fit", "--transactions", str(single), "--customer-col", "0", "--date-col", "2", "--amount-col", "4",
         "--calibration-end", "1997-01-20"],
    )  # fmt: skip
    assert isinstance(result.exception, ModelError)
    assert "All 20 customers made a single purchase" in str(result.exception)

    result = runner.invoke(clv, ["fit", *NUMBERED[:1], str(tmp_path / "missing.csv"), *NUMBERED[2:]])
    assert isinstance(result.exception, InputError) and "does not exist" in str(result.exception)

    result = runner.invoke(clv, ["predict", *NUMBERED, "--horizon", "-3", "--out", str(tmp_path / "p.csv")])
    assert isinstance(result.exception, InputError) and result.exception.parameter == "horizon"


def test_after_observation_end_and_nonpositive_amounts_are_reported(tmp_path: Path) -> None:
    lines = RAW.read_text().splitlines()
    extra = ["00004 0001 19980815 1 12.00", "00004 0001 19970301 1 0.00", "00018 0003 19970305 1 -4.00"]
    path = tmp_path / "with_extras.txt"
    path.write_text("\n".join([*lines, *extra]) + "\n")
    base = run("fit", *NUMBERED, "--json")["summary"]["nonpositive_amount_rows"]
    args = ["fit", "--transactions", str(path), *NUMBERED[2:]]
    with pytest.warns(Warning, match="1 transactions after the observation end 1998-06-30"):
        result = CliRunner().invoke(clv, [*args, "--json"], catch_exceptions=False)
    out = json.loads(result.output)
    assert out["summary"]["excluded_after_observation_end"] == 1
    assert out["summary"]["nonpositive_amount_rows"] == base + 2


def test_without_a_holdout_auto_picks_the_higher_likelihood() -> None:
    args = [*NUMBERED[:-4], "--calibration-end", "1998-06-30"]
    out = run("fit", *args, "--model", "auto", "--json")
    assert out["summary"]["holdout_duration"] == 0
    assert out["holdout"] is None and out["holdout_by_model"] == {}
    assert "log-likelihood" in out["selection"]
    for name in {"bgnbd", "mbgnbd", "pareto"} - {out["model"]}:
        other = run("fit", *args, "--model", name, "--json")
        assert out["log_likelihood"] >= other["log_likelihood"]
