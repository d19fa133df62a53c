"""Uplift targeting on the demo shop's past e-mail campaign, against propensity and random targeting.

For each seed, builds the demo shop (20,000 customers, 2,000 items, 365 days unless told
otherwise; the campaign goes out 35 days before the end to the consenting customers who had
bought, with the demo's holdout share and window unless `--holdout` and `--window` say
otherwise) in a temporary store and runs `evaluate_uplift`: 5-fold
cross-fitted scores for the whole campaign audience from the X-learner, the T-learner and a
purchase-propensity classifier (LightGBM on the same send-time features and outcome), then the
top 30% by each score. Prints, per seed and strategy, the true incremental purchasers captured
(sum of the simulator's per-customer uplift over the targeted), the realised ones
((sent rate - held-out rate among the targeted) x targeted), the Qini coefficient and AUUC,
and the time of each step; then `fit_uplift` (fit on everything, score every customer).

Two reference rows use the simulator's truth and are not strategies a shop could run: "oracle"
targets the top `k` by the true per-customer uplift (which includes each customer's latent
response type: the best any targeting could do), and "truth fitted on the features" targets
by a LightGBM regressor fitted (5-fold cross-fitted) to the true uplift on the same send-time
features: what a model could do with these features were it trained on every customer's true uplift
instead of noisy purchases.

    OPENBLAS_NUM_THREADS=1 python bench/uplift.py [--users 20000] [--days 365] [--seeds 42 7 11] [--k 0.3]
        [--holdout SHARE] [--window DAYS]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo, demo_config
from cartwise.pipelines.uplift import (
    PAST_CAMPAIGN,
    campaign_assignments,
    evaluate_uplift,
    fit_uplift,
    uplift_features,
)
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store

LABELS = {
    "x_learner": "uplift, X-learner",
    "t_learner": "uplift, T-learner",
    "propensity": "purchase propensity",
    "random": "random (expected)",
    "oracle": "oracle: true uplift (reference)",
    "ceiling": "truth fitted on the features (reference)",
}


def references(store: Store, k: float) -> dict[str, float]:
    """True incremental purchasers in the top `k` of the campaign's audience by the true uplift
    ("oracle") and by a cross-fitted LightGBM regression of the true uplift on the send-time
    features ("ceiling")."""
    from lightgbm import LGBMRegressor
    from sklearn.model_selection import KFold

    found = campaign_assignments(store, PAST_CAMPAIGN)
    users = pd.Index(found.assignments["user_id"], name="user_id")
    truth = store.arrow("SELECT user_id, uplift FROM truth_campaign").to_pandas().set_index("user_id")
    true = truth["uplift"].reindex(users).to_numpy(np.float64)
    features = uplift_features(store, found.sent_at.date() - pd.Timedelta(days=1), users).reset_index(
        drop=True
    )
    for column in ("acquisition_channel", "country"):
        features[column] = features[column].astype("category")
    fitted = np.zeros(true.size)
    for train, test in KFold(5, shuffle=True, random_state=0).split(features):
        model = LGBMRegressor(
            n_estimators=300, learning_rate=0.03, num_leaves=4, min_child_samples=50, verbose=-1
        )
        fitted[test] = model.fit(features.iloc[train], true[train]).predict(features.iloc[test])
    n_top = int(np.ceil(k * true.size))
    return {
        name: float(true[np.argsort(-score, kind="stable")[:n_top]].sum())
        for name, score in (("oracle", true), ("ceiling", fitted))
    }


def add_shop_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo shop's size and seeds, its past campaign's design (`--holdout`, `--window`) and
    the share of the audience targeted (`--k`)."""
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 11])
    parser.add_argument("--k", type=float, default=0.3)
    parser.add_argument(
        "--holdout",
        type=float,
        default=None,
        help="share of the past campaign's audience held out (default: the demo's)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="days after the send in which the campaign counts (default: the demo's)",
    )


def shop_config(args: argparse.Namespace, seed: int) -> ShopConfig:
    """The demo's config for `seed` with the shop arguments of `add_shop_arguments`."""
    return demo_config(
        seed=seed,
        users=args.users,
        items=args.items,
        days=args.days,
        campaign_holdout=args.holdout,
        campaign_window_days=args.window,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_shop_arguments(parser)
    args = parser.parse_args()
    rows = [
        "| seed | audience (sent / held out) | strategy | true incremental | vs random | realised incremental "
        "| Qini | AUUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    timings = []
    versus = []
    design = ""
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "shop.duckdb"
            with open_store(db, settings=get_settings(db=db, memory_limit="4GB", threads=2)) as store:
                began = time.perf_counter()
                config = shop_config(args, seed)
                design = f"{config.campaign_holdout:.0%} held out, {config.campaign_window_days}-day window"
                build_demo(store, config)
                built = time.perf_counter() - began
                report = evaluate_uplift(store, PAST_CAMPAIGN, k=args.k)
                reference = references(store, args.k)
                began = time.perf_counter()
                fitted = fit_uplift(store, PAST_CAMPAIGN)
                fit_seconds = time.perf_counter() - began
        random_true = report["strategies"]["random"]["true_incremental"]
        audience = (
            f"{report['audience']:,} ({report['treated']:,} / {report['audience'] - report['treated']:,})"
        )
        for name, s in report["strategies"].items():
            rows.append(
                f"| {seed} | {audience} | {LABELS[name]} | {s['true_incremental']:.1f} | "
                f"{s['true_incremental'] / random_true:.2f}x | {s['realised_incremental']:.1f} | "
                f"{s['qini']:.1f} | {s['auuc']:.1f} |"
            )
        for name, true in reference.items():
            rows.append(
                f"| {seed} | {audience} | {LABELS[name]} | {true:.1f} | {true / random_true:.2f}x | | | |"
            )
        prop = report["strategies"]["propensity"]
        for name in ("x_learner", "t_learner"):
            s = report["strategies"][name]
            versus.append(
                f"| {seed} | {LABELS[name]} | {s['true_incremental'] / prop['true_incremental']:.2f}x | "
                f"{s['realised_incremental']:.1f} / {prop['realised_incremental']:.1f} |"
            )
        sec = report["seconds"]
        timings.append(
            f"| {seed} | {built:.1f} | {sec['features']:.1f} | {sec['x_learner']:.1f} | {sec['t_learner']:.1f} | "
            f"{sec['propensity']:.1f} | {fit_seconds:.1f} ({fitted['customers_scored']:,} scored) |"
        )
        print(f"seed {seed} done", flush=True)
    print(
        f"\nCampaign: {design}. Top {args.k:.0%} of the campaign audience by each score (5-fold cross-fitted):\n"
    )
    print("\n".join(rows))
    print(
        "\nUplift against purchase propensity: true incremental ratio; realised incremental (uplift / propensity):\n"
    )
    print("| seed | learner | true vs propensity | realised: learner / propensity |")
    print("|---|---|---|---|")
    print("\n".join(versus))
    print(
        "\nSeconds: build the shop, features, X-learner (5 folds), T-learner (5 folds), propensity (5 folds), fit + score all:\n"
    )
    print("| seed | build | features | X-learner | T-learner | propensity | fit_uplift |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(timings))


if __name__ == "__main__":
    main()
