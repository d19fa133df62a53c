"""Small or awkward logs (issue 24.15): a stated fallback to regularisation, or a reason in words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner
from scipy.optimize import OptimizeResult

from cartwise.cli.clv import clv
from cartwise.predict._mle import optimiser_reason


def _log(path: Path, seed: int, drop: float) -> Path:
    """500 customers buying at Gamma-distributed rates for a year; each purchase ends the
    relationship with probability `drop` (so hardly anyone is seen to leave)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(500):
        lam, t = rng.gamma(2.0, 1 / 20), float(rng.integers(0, 100))
        while t < 365:
            day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(t))
            rows.append((f"c{c:04d}", day.strftime("%Y-%m-%d"), round(float(rng.gamma(5, 4)), 2)))
            t += rng.exponential(1 / lam)
            if rng.random() < drop:
                break
    pd.DataFrame(rows, columns=["customer", "date", "amount"]).to_csv(path, index=False)
    return path


def _fit(path: Path, model: str) -> dict:
    args = ["fit", "--transactions", str(path), "--customer-col", "customer", "--date-col", "date"]
    args += ["--amount-col", "amount", "--calibration-end", "2023-10-01", "--model", model, "--json"]
    done = CliRunner().invoke(clv, args)
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


def test_auto_on_a_small_log_falls_back_to_a_stated_penalty(tmp_path: Path) -> None:
    result = _fit(_log(tmp_path / "log.csv", seed=2, drop=0.005), "auto")
    note = result["regularisation"][result["model"]]
    assert note.startswith("fitted with penalizer 0.001") and "because the unpenalised fit failed: " in note
    assert "not identified" in note or "ran away" in note
    assert result["params"] and all(np.isfinite(v) for v in result["params"].values())


def test_an_empty_optimiser_message_becomes_a_reason_in_words() -> None:
    reason = optimiser_reason(OptimizeResult(message="ABNORMAL: ", jac=np.array([0.2, -0.01])))
    assert reason.startswith("the line search found no step") and "0.2" in reason
    assert (
        optimiser_reason(OptimizeResult(message="ABNORMAL: LINE SEARCH FAILED"))
        == "ABNORMAL: LINE SEARCH FAILED"
    )
