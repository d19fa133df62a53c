"""Churn and purchase propensity on the default demo shop: the model against the RFM and BG/NBD baselines.

Builds the demo shop (20,000 customers, 2,000 items, 365 days unless told otherwise) in a
temporary store, then for each target trains at the last day minus 2 x horizon and evaluates
at the last day minus the horizon (out of time), and finally scores every customer
(`churn_scores`). Prints the quality table (ROC-AUC, PR-AUC, Brier, expected calibration
error, lift of the top decile; "base rate" is the reference of always predicting it) and the
time of each step.

    OPENBLAS_NUM_THREADS=1 python bench/churn.py [--users 20000] [--days 365] [--horizon 30] [--seed 42]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from cartwise.core.settings import get_settings
from cartwise.pipelines.churn import evaluate_churn, score_churn
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import open_store

LABELS = {
    "model": "LightGBM, isotonic-calibrated",
    "rfm": "RFM quintiles (R+F)",
    "p_alive": "P(alive) (MBG/NBD or Pareto/NBD)",
    "bgnbd_p_alive": "BG/NBD P(alive)",
    "bgnbd_horizon": "BG/NBD P(outcome in horizon)",
}


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def quality_rows(report: dict[str, Any]) -> list[str]:
    rows = []
    for name, s in report["scores"].items():
        if "error" in s:
            rows.append(f"| {report['target']} | {LABELS[name]} | {s['error']} | | | | |")
            continue
        rows.append(
            f"| {report['target']} | {LABELS[name]} | {s['roc_auc']:.3f} | {s['average_precision']:.3f} | "
            f"{_cell(s['brier'])} | {_cell(s['expected_calibration_error'])} | {s['lift'][0]['lift']:.2f} |"
        )
    model = report["scores"]["model"]
    rows.append(
        f"| {report['target']} | base rate {model['base_rate']:.3f} | 0.500 | {model['base_rate']:.3f} | "
        f"{model['brier_reference']:.3f} | - | 1.00 |"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = ShopConfig()
    parser.add_argument("--users", type=int, default=defaults.users, help="Simulated customers.")
    parser.add_argument("--items", type=int, default=defaults.items, help="Catalogue items.")
    parser.add_argument("--days", type=int, default=defaults.days, help="Simulated days.")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="Random seed of the shop.")
    parser.add_argument("--horizon", type=int, default=30, help="Outcome window in days.")
    opts = parser.parse_args()

    timings: list[tuple[str, float]] = []
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shop.duckdb"
        with open_store(db, settings=get_settings(db=db, memory_limit="4GB")) as store:
            began = time.perf_counter()
            counts = build_demo(
                store, ShopConfig(seed=opts.seed, users=opts.users, items=opts.items, days=opts.days)
            )
            timings.append(("build the demo shop", time.perf_counter() - began))
            for target in ("churn", "purchase"):
                began = time.perf_counter()
                report = evaluate_churn(store, horizon=opts.horizon, target=target)
                total = time.perf_counter() - began
                reports.append(report)
                steps = ", ".join(f"{k} {v:.1f}" for k, v in report["seconds"].items())
                timings.append((f"evaluate {target} ({steps})", total))
            began = time.perf_counter()
            scored = score_churn(store, horizon=opts.horizon)
            timings.append((f"score {scored['customers']:,} customers (2 fits)", time.perf_counter() - began))

    first = reports[0]
    print(
        f"Demo shop: {opts.users:,} customers, {opts.items:,} items, {opts.days} days, seed {opts.seed}; "
        f"{counts['events']:,} events, {counts['orders']:,} orders. Horizon {opts.horizon} days; trained at "
        f"{first['train']['cutoff']} ({first['train']['customers']:,} buyers), evaluated at "
        f"{first['test']['cutoff']} ({first['test']['customers']:,} buyers)."
    )
    print()
    print("| target | scorer | ROC-AUC | PR-AUC | Brier | ECE | lift@10% |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for report in reports:
        print("\n".join(quality_rows(report)))
    print()
    top = ", ".join(f"{f['feature']} {f['share']:.0%}" for f in first["feature_importance"][:6])
    print(f"Churn model, top features by gain: {top}")
    print()
    print("| step | seconds |")
    print("|---|---:|")
    for step, seconds in timings:
        print(f"| {step} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
