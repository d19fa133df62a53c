"""Demand forecasting benchmark: speed of automatic selection, and backtest accuracy.

Generates a shop's weekly demand with known structure (seasonal, trending, intermittent and
promotion-driven series; promotions multiply demand by 1 + UPLIFT) and prints three tables:

1. speed: automatic choice on every series vs statsforecast AutoETS on the same series;
2. accuracy without covariates: rolling-origin backtest of the automatic choice, seasonal
   naive, naive and statsforecast AutoETS (MASE, sMAPE, interval coverage);
3. accuracy with covariates (promotion flag, price): the promotion-aware model and the
   automatic choice given covariates, beside the same references, and the recovered uplift.

Run: OPENBLAS_NUM_THREADS=1 python bench/forecast.py [--series 1000] [--weeks 120] [--horizon 12]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from cartwise.evaluation.forecast import summarize_backtest
from cartwise.forecast import (
    GradientBoosting,
    attach_covariates,
    backtest_histories,
    build_panel,
    forecast_panel,
)
from cartwise.pipelines.forecast import PEER_AUTOETS, backtest_panel

UPLIFT = 0.8
KINDS = ("seasonal", "trending", "intermittent", "promotion")


def make_shop(n_series: int, n_weeks: int, horizon: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History (`id, week, units`) and covariates (`id, week, promo, price`, future rows included)."""
    rng = np.random.default_rng(seed)
    total = n_weeks + horizon
    t = np.arange(total)
    hist, cov = [], []
    for i in range(n_series):
        kind = KINDS[i % len(KINDS)]
        level = rng.uniform(5, 80)
        promo = (rng.random(total) < 0.15).astype(float)
        price = np.round(rng.uniform(5, 50) * (1 - 0.2 * promo), 2)
        season = 1 + rng.uniform(0.2, 0.5) * np.sin(2 * np.pi * (t + rng.integers(52)) / 52)
        if kind == "seasonal":
            units = rng.poisson(level * season)
        elif kind == "trending":
            units = rng.poisson(level * (1 + rng.uniform(-0.4, 1.0) * t / total))
        elif kind == "intermittent":
            # Demand in 10-40% of weeks, 1 + Poisson units when it occurs.
            occurs = rng.random(total) < rng.uniform(0.1, 0.4)
            units = occurs * (1 + rng.poisson(rng.uniform(0, 5), total))
        else:
            units = rng.poisson(level * (1 + 0.5 * (season - 1)) * (1 + UPLIFT * promo))
        hist.append(pd.DataFrame({"id": f"{kind}{i:04d}", "week": t[:n_weeks] + 1, "units": units[:n_weeks]}))
        cov.append(pd.DataFrame({"id": f"{kind}{i:04d}", "week": t + 1, "promo": promo, "price": price}))
    return pd.concat(hist, ignore_index=True), pd.concat(cov, ignore_index=True)


def peer_autoets_forecast(panel, horizon: int) -> float:
    """Seconds statsforecast AutoETS takes to forecast every series of the panel (same season rule)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    df = pd.concat(
        [
            pd.DataFrame({"unique_id": sid, "ds": np.arange(y.size), "y": y})
            for sid, y in zip(panel.ids, panel.ys, strict=True)
        ]
    )
    start = time.perf_counter()
    StatsForecast(models=[AutoETS(season_length=1)], freq=1, n_jobs=1).forecast(
        df=df, h=horizon, level=[80, 95]
    )
    return time.perf_counter() - start


def table(rows: list[dict], columns: list[str]) -> str:
    widths = {
        c: max(len(c), *(len(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c])) for r in rows))
        for c in columns
    }
    fmt = lambda c, v: (f"{v:.3f}" if isinstance(v, float) else str(v)).rjust(widths[c])  # noqa: E731
    lines = ["  ".join(c.rjust(widths[c]) for c in columns)]
    lines += ["  ".join(fmt(c, r[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=120)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument(
        "--backtest-series", type=int, default=400, help="Series used in the accuracy tables."
    )
    parser.add_argument("--windows", type=int, default=2)
    args = parser.parse_args()
    h = args.horizon
    history, covariates = make_shop(args.series, args.weeks, h)
    panel = build_panel(history, "id", "week", "units", season_length=52)

    # Warm-up: numba compiles statsforecast's models on first use; time steady state only.
    warm = build_panel(history[history["id"].isin(panel.ids[:8])], "id", "week", "units", season_length=52)
    forecast_panel(warm, h, "auto")
    peer_autoets_forecast(warm, h)

    start, cpu = time.perf_counter(), time.process_time()
    result = forecast_panel(panel, h, "auto")
    ours, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    cpu = time.process_time()
    peer = peer_autoets_forecast(panel, h)
    peer_cpu = time.process_time() - cpu
    print(f"## Speed: {args.series} weekly series x {args.weeks} weeks, horizon {h} (2-core machine)\n")
    print(
        table(
            [
                {"method": "cartwise auto (backtest choice + conformal intervals)", "wall s": ours, "CPU s": ours_cpu, "CPU vs AutoETS": ours_cpu / peer_cpu},
                {"method": "statsforecast AutoETS (one model, own intervals)", "wall s": peer, "CPU s": peer_cpu, "CPU vs AutoETS": 1.0},
            ],
            ["method", "wall s", "CPU s", "CPU vs AutoETS"],
        )
    )  # fmt: skip
    print(f"\nmodels chosen: {result.model_counts()}\n")

    # Every k-th series, so that each kind keeps its share.
    ids = set(panel.ids[:: max(1, len(panel.ids) // args.backtest_series)][: args.backtest_series])
    sub_hist = history[history["id"].isin(ids)]
    sub_cov = covariates[covariates["id"].isin(ids)]
    plain = build_panel(sub_hist, "id", "week", "units", season_length=52)
    summary, frame = backtest_panel(plain, h, ["auto", "seasonal_naive"], n_windows=args.windows)
    best_ref = summary.set_index("model").loc[["naive", PEER_AUTOETS], "mase"].min()
    summary["MASE / best of naive, AutoETS"] = summary["mase"] / best_ref
    print(f"## Backtest without covariates: {len(plain.ids)} series, {args.windows} windows of {h} weeks\n")
    print(table(summary.to_dict("records"), [*summary.columns]))

    with_cov = attach_covariates(
        build_panel(sub_hist, "id", "week", "units", season_length=52), sub_cov, "id", "week", h
    )
    summary_cov, frame_cov = backtest_panel(
        with_cov, h, ["auto", "lightgbm"], n_windows=args.windows, peer=False
    )
    summary_cov["model"] = summary_cov["model"].map(lambda m: m if m == "naive" else f"{m} + covariates")
    both = pd.concat([summary_cov, summary[summary["model"].isin(["auto", PEER_AUTOETS])]], ignore_index=True)
    both["MASE / best of naive, AutoETS"] = both["mase"] / best_ref
    print("\n## Backtest with covariates (promotion flag, price): same series and windows\n")
    print(table(both.to_dict("records"), [*both.columns]))

    frame_cov["model"] = frame_cov["model"].map(lambda m: m if m == "naive" else f"{m} + covariates")
    every = pd.concat([frame, frame_cov[frame_cov["model"] != "naive"]], ignore_index=True)
    per_kind = {}
    for kind in KINDS:
        part = every[every["id"].str.startswith(kind)]
        per_kind[kind] = summarize_backtest(part, backtest_histories(plain, h, args.windows), 52).set_index(
            "model"
        )["mase"]
    kinds = pd.DataFrame(per_kind).reset_index().rename(columns={"index": "model"})
    print("\n## MASE per kind of series (same backtest)\n")
    print(table(kinds.to_dict("records"), [*kinds.columns]))

    # Recovered uplift: forecast the promotion series with the promotion on and off.
    promo_ids = [i for i, sid in enumerate(with_cov.ids) if sid.startswith("promotion")]
    gbm = GradientBoosting(horizon=h, season_length=52).fit_panel(
        [with_cov.ys[i] for i in promo_ids], [with_cov.Xs[i][: with_cov.ys[i].size] for i in promo_ids]
    )
    k = with_cov.covariate_names.index("promo")
    on, off = [], []
    for i in promo_ids:
        future = with_cov.Xs[i][with_cov.ys[i].size :].copy()
        future[:, k] = 1
        on.append(future.copy())
        future[:, k] = 0
        off.append(future)
    ratio = np.mean(
        [
            a["mean"].sum() / b["mean"].sum()
            for a, b in zip(gbm.predict_panel(h, on), gbm.predict_panel(h, off), strict=True)
        ]
    )
    print(
        f"\npromotion uplift: true {UPLIFT:.2f}, recovered {ratio - 1:.2f} ({len(promo_ids)} promotion-driven series)"
    )


if __name__ == "__main__":
    main()
