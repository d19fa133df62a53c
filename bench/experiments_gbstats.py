"""Cartwise's experiment statistics against GrowthBook's gbstats on the same random summaries.

gbstats pins numpy<2 and pandas<2, so it runs in its own interpreter: give it with
`--gbstats-python` (or CARTWISE_GBSTATS_PYTHON); `--gbstats-path` (or CARTWISE_GBSTATS_PATH)
puts a gbstats source checkout first on that interpreter's path. Both the PyPI release's API
(`TTest(stat_a, stat_b)`) and the newer one on GitHub (`TTest([(stat_a, stat_b)])`) work.

    python -m venv GBVENV && GBVENV/bin/pip install gbstats
    python bench/experiments_gbstats.py --gbstats-python GBVENV/bin/python --cases 300

Prints, per quantity, the largest relative difference `|ours - theirs| / max(|theirs|, 1e-9)`
over the cases and the significant digits that leaves (`-log10`). Without a gbstats
interpreter it says how to get one and exits.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import DataWarning
from cartwise.experiments import (
    CupedStat,
    MeanStat,
    RatioStat,
    analyze_summary,
    bayesian,
    effect,
    srm_p_value,
    summarize,
    t_interval,
    t_p_value,
    welch_dof,
)

# Runs inside the gbstats interpreter: reads the cases as JSON on stdin, prints its answers.
WORKER = r"""
import inspect, json, sys
from gbstats.models.statistics import (
    SampleMeanStatistic, RegressionAdjustedStatistic, RatioStatistic)
from gbstats.frequentist.tests import (
    TwoSidedTTest, SequentialTwoSidedTTest, FrequentistConfig, SequentialConfig)
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.utils import check_srm

NEW_API = "stats" in inspect.signature(TwoSidedTTest.__init__).parameters

def run(cls, a, b, config):
    return cls([(a, b)], config) if NEW_API else cls(a, b, config)

def mean_stat(n, s, ss):
    return SampleMeanStatistic(n=n, sum=s, sum_squares=ss)

def stat(arm, kind):
    post = mean_stat(arm["n"], arm["sum"], arm["sum_squares"])
    if kind == "cuped":
        pre = mean_stat(arm["n"], arm["pre_sum"], arm["pre_sum_squares"])
        return RegressionAdjustedStatistic(n=arm["n"], post_statistic=post, pre_statistic=pre,
            post_pre_sum_of_products=arm["sum_product"], theta=None if NEW_API else 0)
    if kind == "ratio":
        den = mean_stat(arm["n"], arm["den_sum"], arm["den_sum_squares"])
        return RatioStatistic(n=arm["n"], m_statistic=post, d_statistic=den,
            m_d_sum_of_products=arm["den_sum_product"])
    return post

def fresh(case):
    return stat(case["a"], case["kind"]), stat(case["b"], case["kind"])

def get(res, *names):
    for name in names:
        if hasattr(res, name):
            return getattr(res, name)
    raise AttributeError(names)

out = []
for case in json.load(sys.stdin):
    row = {}
    for diff in ("relative", "absolute"):
        a, b = fresh(case)
        r = run(TwoSidedTTest, a, b, FrequentistConfig(difference_type=diff))
        res = r.compute_result()
        row[diff] = {"estimate": res.expected, "ci": list(res.ci), "p": get(res, "pValue", "p_value")}
    a, b = fresh(case)
    res = run(SequentialTwoSidedTTest, a, b, SequentialConfig()).compute_result()
    row["sequential"] = {"ci": list(res.ci), "p": get(res, "pValue", "p_value")}
    a, b = fresh(case)
    res = run(SequentialTwoSidedTTest, a, b, SequentialConfig(difference_type="absolute")).compute_result()
    row["sequential absolute p"] = get(res, "pValue", "p_value")
    a, b = fresh(case)
    res = run(EffectBayesianABTest, a, b, EffectBayesianConfig()).compute_result()
    row["bayes"] = {"ctw": get(res, "chanceToWin", "chance_to_win"), "risk": list(res.risk)}
    row["srm"] = float(check_srm([case["a"]["n"], case["b"]["n"]], [0.5, 0.5]))
    out.append(row)
print(json.dumps(out))
"""


def make_cases(count: int, seed: int) -> list[dict[str, Any]]:
    """Random two-arm summaries: a third each of plain means, CUPED metrics and ratio metrics.

    Each arm's sums come from simulated users (lognormal spend, correlated pre-period, orders),
    so every sum of squares and product is consistent.
    """
    rng = np.random.default_rng(seed)
    kinds = ("mean", "cuped", "ratio")
    cases = []
    for i in range(count):
        kind = kinds[i % 3]
        n_a = int(rng.integers(200, 20_000))
        n_b = int(n_a * rng.uniform(0.9, 1.1))
        lift = rng.uniform(-0.1, 0.15)
        arms = {}
        for arm, n, factor in (("a", n_a, 1.0), ("b", n_b, 1.0 + lift)):
            pre = rng.lognormal(1.0, 0.8, n)
            post = factor * (0.6 * pre + rng.lognormal(0.5, 0.9, n))
            orders = rng.poisson(2.0, n) + 1.0
            arms[arm] = {
                "n": n,
                "sum": float(post.sum()),
                "sum_squares": float((post**2).sum()),
                "pre_sum": float(pre.sum()),
                "pre_sum_squares": float((pre**2).sum()),
                "sum_product": float((post * pre).sum()),
                "den_sum": float(orders.sum()),
                "den_sum_squares": float((orders**2).sum()),
                "den_sum_product": float((post * orders).sum()),
            }
        cases.append({"kind": kind, **arms})
    return cases


def _stat(arm: dict[str, Any], kind: str) -> MeanStat | CupedStat | RatioStat:
    post = MeanStat(arm["n"], arm["sum"], arm["sum_squares"])
    if kind == "cuped":
        return CupedStat(post, MeanStat(arm["n"], arm["pre_sum"], arm["pre_sum_squares"]), arm["sum_product"])
    if kind == "ratio":
        den = MeanStat(arm["n"], arm["den_sum"], arm["den_sum_squares"])
        return RatioStat(post, den, arm["den_sum_product"])
    return post


def ours(case: dict[str, Any]) -> dict[str, Any]:
    """The same quantities from Cartwise: the `analyze_summary` path for relative results."""
    kind = case["kind"]
    rows = []
    for name in ("a", "b"):
        arm = case[name]
        row = {
            "variant": name,
            "metric": "m",
            "users": arm["n"],
            "sum": arm["sum"],
            "sum_squares": arm["sum_squares"],
        }
        if kind == "cuped":
            row |= {k: arm[k] for k in ("pre_sum", "pre_sum_squares", "sum_product")}
        if kind == "ratio":
            row |= {k: arm[k] for k in ("den_sum", "den_sum_squares", "den_sum_product")}
        rows.append(row)
    frame = pd.DataFrame(rows)
    plain = analyze_summary(frame, cuped=kind == "cuped").results[0]
    seq = analyze_summary(frame, cuped=kind == "cuped", sequential=True).results[0]
    out = {
        "relative": {"estimate": plain.lift, "ci": list(plain.lift_ci or ()), "p": plain.p_value},
        "absolute": {"estimate": plain.abs_lift, "ci": list(plain.abs_lift_ci or ()), "p": plain.abs_p_value},
        "sequential": {"ci": list(seq.lift_ci or ()), "p": seq.p_value},
        "srm": srm_p_value([case["a"]["n"], case["b"]["n"]]),
    }
    rel = effect(_theta(case, "a"), _theta(case, "b"), relative=True)
    post = bayesian(rel)
    out["bayes"] = {"ctw": post.chance_to_win, "risk": [post.risk_control, post.risk]}
    assert plain.chance_to_win is not None and abs(plain.chance_to_win - post.chance_to_win) < 1e-12
    # keep the lower-level functions honest too
    a, b = _theta(case, "a"), _theta(case, "b")
    dof = welch_dof(a, b)
    assert np.allclose(t_interval(rel, dof), out["relative"]["ci"], rtol=1e-12)
    assert math.isclose(t_p_value(rel, dof), out["relative"]["p"], rel_tol=1e-9)
    out["sequential absolute p"] = seq.abs_p_value
    return out


def _theta(case: dict[str, Any], arm: str) -> MeanStat | CupedStat | RatioStat:
    from cartwise.experiments import pooled_theta

    a, b = _stat(case["a"], case["kind"]), _stat(case["b"], case["kind"])
    if isinstance(a, CupedStat) and isinstance(b, CupedStat):
        theta = pooled_theta(a, b)
        a, b = CupedStat(a.post, a.pre, a.sum_product, theta), CupedStat(b.post, b.pre, b.sum_product, theta)
    return a if arm == "a" else b


def flatten(row: dict[str, Any]) -> dict[str, float]:
    flat = {}
    for diff in ("relative", "absolute"):
        flat[f"{diff} lift"] = row[diff]["estimate"]
        flat[f"{diff} CI low"], flat[f"{diff} CI high"] = row[diff]["ci"]
        flat[f"{diff} p-value"] = row[diff]["p"]
    flat["sequential CI low"], flat["sequential CI high"] = row["sequential"]["ci"]
    flat["sequential p-value"] = row["sequential"]["p"]
    flat["seq. absolute p-value"] = row["sequential absolute p"]
    flat["chance to win"] = row["bayes"]["ctw"]
    flat["risk (control)"], flat["risk (treatment)"] = row["bayes"]["risk"]
    flat["SRM p-value"] = row["srm"]
    return flat


def time_analysis(repeats: int = 50) -> float:
    """Best-of time of `analyze_summary` on 5 metrics x 3 variants (10 comparisons), in ms."""
    rng = np.random.default_rng(1)
    rows = []
    for metric in range(5):
        for variant in "ABC":
            values = rng.lognormal(1, 1, 5000)
            rows.append((variant, f"metric_{metric}", *summarize(values)))
    summary = pd.DataFrame(rows, columns=["variant", "metric", "users", "sum", "sum_squares"])
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        analyze_summary(summary)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gbstats-python", default=os.environ.get("CARTWISE_GBSTATS_PYTHON"))
    parser.add_argument("--gbstats-path", default=os.environ.get("CARTWISE_GBSTATS_PATH"))
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    # the random splits are uneven on purpose; their SRM warnings are not the point here
    warnings.simplefilter("ignore", DataWarning)
    print(f"analyze_summary, 5 metrics x 3 variants: {time_analysis():.1f} ms (best of 50)")
    if not args.gbstats_python:
        print(
            "No gbstats interpreter: pass --gbstats-python or set CARTWISE_GBSTATS_PYTHON (see the docstring)."
        )
        return
    cases = make_cases(args.cases, args.seed)
    env = dict(os.environ)
    if args.gbstats_path:
        env["PYTHONPATH"] = args.gbstats_path
    started = time.perf_counter()
    done = subprocess.run(
        [args.gbstats_python, "-c", WORKER],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode:
        sys.exit(f"gbstats failed:\n{done.stderr}")
    theirs = json.loads(done.stdout)
    gb_seconds = time.perf_counter() - started
    version = subprocess.run(
        [
            args.gbstats_python,
            "-c",
            "import gbstats, importlib.metadata as m; print(m.version('gbstats'), gbstats.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    ).stdout.strip()
    started = time.perf_counter()
    mine = [ours(case) for case in cases]
    our_seconds = time.perf_counter() - started

    print(f"gbstats {version}; {len(cases)} cases (seed {args.seed}), a third each mean / CUPED / ratio")
    print(f"gbstats {gb_seconds:.2f} s (with start-up), Cartwise {our_seconds:.2f} s\n")
    kinds = ("mean", "cuped", "ratio")
    worst: dict[tuple[str, str], float] = {}
    for case, ours_row, their_row in zip(cases, mine, theirs, strict=True):
        ours_flat, their_flat = flatten(ours_row), flatten(their_row)
        for key, value in their_flat.items():
            diff = abs(ours_flat[key] - value) / max(abs(value), 1e-9)
            worst[(key, case["kind"])] = max(worst.get((key, case["kind"]), 0.0), diff)
    keys = list(flatten(theirs[0]))
    print(
        f"{'quantity':<22}" + "".join(f"{k + ' max rel diff':>24}" for k in kinds) + f"{'digits (worst)':>16}"
    )
    for key in keys:
        values = [worst[(key, k)] for k in kinds]
        digits = -math.log10(max(max(values), 1e-16))
        print(f"{key:<22}" + "".join(f"{v:>24.2e}" for v in values) + f"{digits:>16.1f}")


if __name__ == "__main__":
    main()
