"""P(alive) on the full CDNOW log, loaded as a shop would load it (issue 27's targets).

Runs the CLI in a temporary store: `cartwise ingest transactions CDNOW_master.txt`,
`cartwise train`, then `cartwise churn evaluate --target purchase --horizon 90 --json`, and
reads the profiles back. Prints:

- the churn report's ranking of "an order in the next 90 days" by P(alive) (the P(alive)
  model, MBG/NBD or Pareto/NBD by holdout fit) beside BG/NBD's P(alive), the RFM score, BG/NBD's
  horizon probability and the supervised model (target: P(alive) ROC-AUC >= 0.78);
- P(alive) of one-time buyers in the profiles (target: none certainly alive) and the mean
  P(alive) per RFM segment (target: "Lost" below 0.5);
- with `--lifetimes` (needs the `bench` extra), the ROC-AUC of lifetimes 0.11.3's
  BetaGeoFitter, ModifiedBetaGeoFitter and ParetoNBDFitter P(alive) on the same split.

The CDNOW log is the one lifetimes ships (`lifetimes/datasets/CDNOW_master.txt`) unless
`--transactions` names another copy.

    OPENBLAS_NUM_THREADS=1 python bench/palive.py [--transactions CDNOW_master.txt] [--lifetimes]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from sklearn.metrics import roc_auc_score


def _cdnow_master() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        sys.exit(
            "lifetimes is not installed: pass --transactions CDNOW_master.txt or install the bench extra."
        )
    return Path(spec.origin).parent / "datasets" / "CDNOW_master.txt"


def _cartwise(*args: str) -> tuple[dict[str, Any], float]:
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "cartwise", *args, "--json"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    return json.loads(out.stdout), time.perf_counter() - began


def _lifetimes_aucs(db: Path, test_cutoff: str, horizon: int) -> dict[str, tuple[float, int]]:
    """ROC-AUC of lifetimes' P(alive) for an order in the horizon, on the churn report's test split,
    and the number of customers whose P(alive) lifetimes left NaN (left out of that ROC-AUC)."""
    import pandas as pd
    from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
    from lifetimes.utils import summary_data_from_transaction_data

    with duckdb.connect(str(db), read_only=True) as con:
        orders = con.execute("SELECT user_id, ts, amount FROM orders").fetchdf()
    orders["day"] = orders["ts"].dt.normalize()
    cutoff = pd.Timestamp(test_cutoff)
    before = orders[orders["day"] <= cutoff]
    summary = summary_data_from_transaction_data(
        before, "user_id", "day", observation_period_end=cutoff, freq="D"
    )
    window = orders[(orders["day"] > cutoff) & (orders["day"] <= cutoff + pd.Timedelta(days=horizon))]
    label = summary.index.isin(window["user_id"].unique())
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fitter in (
            ("BG/NBD", BetaGeoFitter()),
            ("MBG/NBD", ModifiedBetaGeoFitter()),
            ("Pareto/NBD", ParetoNBDFitter()),
        ):
            fitter.fit(summary["frequency"], summary["recency"], summary["T"])
            alive = np.asarray(
                fitter.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"]),
                dtype=float,
            )
            ok = np.isfinite(alive)
            out[name] = (float(roc_auc_score(label[ok], alive[ok])), int((~ok).sum()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--transactions", type=Path, default=None, help="The full CDNOW log (CDNOW_master.txt)."
    )
    parser.add_argument(
        "--horizon", type=int, default=90, help="Outcome window of the churn report, in days."
    )
    parser.add_argument(
        "--lifetimes", action="store_true", help="Also rank by lifetimes' P(alive) on the same split."
    )
    opts = parser.parse_args()
    source = opts.transactions or _cdnow_master()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "cdnow.duckdb"
        loaded, t_ingest = _cartwise("ingest", "transactions", str(source), "--db", str(db))
        trained, t_train = _cartwise("train", "--db", str(db))
        report, t_churn = _cartwise(
            "churn", "evaluate", "--target", "purchase", "--horizon", str(opts.horizon), "--db", str(db)
        )
        with duckdb.connect(str(db), read_only=True) as con:
            one_time = con.execute(
                """SELECT count(*), min(p_alive), avg(p_alive), max(p_alive), count_if(p_alive >= 1.0)
                   FROM profiles WHERE orders = 1"""
            ).fetchall()[0]
            segments = con.execute(
                "SELECT rfm_segment, count(*), avg(p_alive) FROM profiles GROUP BY 1 ORDER BY 3"
            ).fetchall()
        lifetimes = _lifetimes_aucs(db, report["test"]["cutoff"], opts.horizon) if opts.lifetimes else {}
        with duckdb.connect(str(db), read_only=True) as con:
            customers = con.execute("SELECT count(DISTINCT user_id) FROM orders").fetchall()[0][0]

    clv = trained["profiles"]["clv"]
    print(
        f"CDNOW: {loaded['loaded']:,} transactions, {trained['profiles']['customers']:,} customers. "
        f"Profiles' P(alive) model: {clv['model']} ({clv['selection']}; holdout MAE "
        + ", ".join(f"{k} {v['mae']:.4f}" for k, v in clv["holdout_by_model"].items())
        + ")."
    )
    print()
    test = report["test"]
    print(
        f"`churn evaluate --target purchase --horizon {opts.horizon}`: evaluated at {test['cutoff']} on "
        f"{test['customers']:,} customers (base rate {test['base_rate']:.3f}); P(alive) model there: "
        f"{report['p_alive_model']}."
    )
    print()
    print("| scorer | ROC-AUC | PR-AUC |")
    print("|---|---:|---:|")
    for name, scores in report["scores"].items():
        if "error" in scores:
            print(f"| {name} | {scores['error']} | |")
        else:
            print(f"| {name} | {scores['roc_auc']:.3f} | {scores['average_precision']:.3f} |")
    for name, (auc, missing) in lifetimes.items():
        note = f" ({missing:,} of {customers:,} NaN, left out)" if missing else ""
        print(f"| lifetimes 0.11.3 {name} P(alive){note} | {auc:.3f} | |")
    print()
    n, low, mean, high, certain = one_time
    print(
        f"One-time buyers: {n:,}; P(alive) min {low:.3f}, mean {mean:.3f}, max {high:.3f}; "
        f"certainly alive (P = 1): {certain}."
    )
    print()
    print("| RFM segment | customers | mean P(alive) |")
    print("|---|---:|---:|")
    for segment, count, alive in segments:
        print(f"| {segment} | {count:,} | {alive:.3f} |")
    print()
    print(
        f"Seconds: ingest {t_ingest:.1f}, train {t_train:.1f}, churn evaluate {t_churn:.1f} (each a CLI process)."
    )
    aucs = np.array([report["scores"]["p_alive"]["roc_auc"]])
    lost = dict((s, a) for s, _, a in segments).get("Lost")
    met = bool(aucs[0] >= 0.78 and certain == 0 and lost is not None and lost < 0.5)
    print(
        f"Targets (ROC-AUC >= 0.78, no one-time buyer at 1, Lost mean < 0.5): {'met' if met else 'NOT met'}."
    )


if __name__ == "__main__":
    main()
