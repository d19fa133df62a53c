"""What was tried to make uplift targeting beat purchase propensity by more (issue 23, point 4).

For each seed, builds the demo shop in a temporary store and cross-fits (5 folds, the same
split as `evaluate_uplift`) a score for every customer of the past campaign's audience from
each strategy below, then targets the top `k`. Prints the true incremental purchasers captured
(the simulator's per-customer uplift summed over the targeted), the ratio to random and to
purchase propensity, the realised incremental ((sent rate - held-out rate among the targeted)
x targeted) and the Qini coefficient. Only the realised figure and Qini are what a shop could
choose by; the true figure is for the report.

Strategies (LightGBM with the learners' defaults unless said):
  propensity     purchase propensity (`PropensityModel`, both arms), the baseline to beat
  x, t           Cartwise's X- and T-learner (`cartwise.experiments`)
  t_leaf400      T-learner with at least 400 customers per leaf
  t_bagged       T-learner averaged over 5 seeds of row/column sampling, 400 per leaf
  t_cv_qini      T-learner whose leaf size (100 with 8 leaves, 200, 400, 800) is picked inside
                 each training fold by 3-fold cross-validated Qini
  s              S-learner: one classifier with the arm as a feature, tau = f(x, 1) - f(x, 0)
  dr             DR-learner: doubly robust pseudo-outcomes (outcome models cross-fitted in 3
                 folds, known treated share) regressed on the features
  lo_logit       Lo (2002): logistic regression with arm x feature interactions (C = 0.1)
  ensemble       rank average of t_leaf400, s and lo_logit
  t_price_index  T-learner with three more send-time features: the mean log price index
                 (list price / median price of its category) of the items viewed or carted
                 and of the items bought, and the share of viewed items on promotion

    OPENBLAS_NUM_THREADS=1 python bench/uplift_learners.py [--users 20000] [--items 2000] [--days 365] [--seeds 42 7 11] [--k 0.3] [--strategies ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.settings import get_settings
from cartwise.evaluation.uplift import qini_coefficient
from cartwise.experiments import UPLIFT_LEARNERS
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.uplift import PAST_CAMPAIGN, campaign_assignments, uplift_features
from cartwise.predict import PropensityModel
from cartwise.store import Store, open_store
from uplift import add_shop_arguments, shop_config  # bench/uplift.py

Scorer = Callable[[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame], np.ndarray]

# $1: the boundary (midnight before the send day).
_PRICE_INDEX_SQL = """
WITH idx AS (SELECT item_id, ln(price / median(price) OVER (PARTITION BY category)) AS lpi
             FROM items WHERE price > 0),
browsed AS (SELECT e.user_id, avg(i.lpi) AS browsed_price_index FROM events e JOIN idx i USING (item_id)
            WHERE e.ts < $1 AND e.type IN ('view', 'add_to_cart') GROUP BY e.user_id),
paid AS (SELECT o.user_id, avg(i.lpi) AS paid_price_index FROM orders o JOIN order_lines l USING (order_id)
         JOIN idx i USING (item_id) WHERE o.ts < $1 GROUP BY o.user_id),
promo AS (SELECT user_id, avg(CASE WHEN (properties->>'promo') = 'true' THEN 1.0 ELSE 0.0 END) AS promo_view_share
          FROM events WHERE ts < $1 AND type = 'view' AND item_id IS NOT NULL GROUP BY user_id)
SELECT * FROM browsed FULL JOIN paid USING (user_id) FULL JOIN promo USING (user_id)
"""


def campaign_data(store: Store) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Features, price-index features, arms, outcomes and true uplift of the past campaign's audience."""
    found = campaign_assignments(store, PAST_CAMPAIGN)
    users = pd.Index(found.assignments["user_id"], name="user_id")
    cutoff = found.sent_at.date() - timedelta(days=1)
    features = uplift_features(store, cutoff, users)
    boundary = datetime(found.sent_at.year, found.sent_at.month, found.sent_at.day)
    extra = store.arrow(_PRICE_INDEX_SQL, [boundary]).to_pandas().set_index("user_id").reindex(users)
    end = found.sent_at + timedelta(days=found.window_days)
    buyers = store.arrow(
        "SELECT DISTINCT user_id FROM orders WHERE ts >= $1 AND ts < $2", [found.sent_at, end]
    ).column("user_id")
    outcome = np.asarray(users.isin(pd.Index(buyers.to_pylist())), dtype=np.int64)
    truth = store.arrow("SELECT user_id, uplift FROM truth_campaign").to_pandas().set_index("user_id")
    true = truth["uplift"].reindex(users).to_numpy(np.float64)
    treated = found.assignments["treated"].to_numpy(bool)
    return features, extra.astype(np.float64), treated, outcome, true


def _categorical(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train.copy(), test.copy()
    for column in train.columns:
        if not pd.api.types.is_numeric_dtype(train[column]):
            train[column] = train[column].astype("string").astype("category")
            test[column] = pd.Categorical(
                test[column].astype("string"), categories=train[column].cat.categories
            )
    return train, test


def _lgbm(kind: str, leaves: int = 4, per_leaf: int = 200, seed: int = 0) -> Any:
    from lightgbm import LGBMClassifier, LGBMRegressor

    model = LGBMClassifier if kind == "classifier" else LGBMRegressor
    return model(
        n_estimators=300,
        learning_rate=0.02,
        num_leaves=leaves,
        min_child_samples=per_leaf,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )


def propensity(x1: pd.DataFrame, w1: np.ndarray, y1: np.ndarray, x2: pd.DataFrame) -> np.ndarray:
    model = PropensityModel(calibration="sigmoid", cv=2, random_state=0).fit(x1, y1)
    return np.asarray(model.predict_proba(x2)[:, 1])


def learner(name: str, **params: int) -> Scorer:
    def score(x1: pd.DataFrame, w1: np.ndarray, y1: np.ndarray, x2: pd.DataFrame) -> np.ndarray:
        return UPLIFT_LEARNERS[name](**params).fit(x1, w1, y1).predict(x2)

    return score


def t_bagged(x1: pd.DataFrame, w1: np.ndarray, y1: np.ndarray, x2: pd.DataFrame) -> np.ndarray:
    runs = [learner("t", min_child_samples=400, random_state=s)(x1, w1, y1, x2) for s in range(5)]
    return np.mean(runs, axis=0)


def t_cv_qini(x1: pd.DataFrame, w1: np.ndarray, y1: np.ndarray, x2: pd.DataFrame) -> np.ndarray:
    grid = [{"num_leaves": 8, "min_child_samples": 100}] + [{"min_child_samples": n} for n in (200, 400, 800)]
    inner = folds(x1, w1, y1, 3, random_state=1)
    qini = []
    for params in grid:
        s = np.zeros(y1.size)
        for a, b in inner:
            s[b] = learner("t", **params)(x1.iloc[a], w1[a], y1[a], x1.iloc[b])
        qini.append(qini_coefficient(y1, w1, s))
    return learner("t", **grid[int(np.argmax(qini))])(x1, w1, y1, x2)


def s_learner(x1: pd.DataFrame, w1: np.ndarray, y1: np.ndarray, x2: pd.DataFrame) -> np.ndarray:
    a, b = _categorical(x1, x2)
    model = _lgbm("classifier").fit(a.assign(_arm=w1.astype(float)), y1)
    return np.asarray(
        model.predict_proba(b.assign(_arm=1.0))[:, 1] - model.predict_proba(b.assign(_arm=0.0))[:, 1]
    )


def dr_learner(x1: pd.DataFrame, w1: np.ndarray, y1: np.ndarray, x2: pd.DataFrame) -> np.ndarray:
    from sklearn.model_selection import KFold

    a, b = _categorical(x1, x2)
    g = float(w1.mean())
    mu0, mu1 = np.zeros(y1.size), np.zeros(y1.size)
    for train, test in KFold(3, shuffle=True, random_state=0).split(a):
        for mu, arm in ((mu0, train[~w1[train]]), (mu1, train[w1[train]])):
            mu[test] = _lgbm("classifier").fit(a.iloc[arm], y1[arm]).predict_proba(a.iloc[test])[:, 1]
    pseudo = mu1 - mu0 + w1 * (y1 - mu1) / g - (~w1) * (y1 - mu0) / (1 - g)
    return np.asarray(_lgbm("regressor").fit(a, pseudo).predict(b))


def lo_logit(x1: pd.DataFrame, w1: np.ndarray, y1: np.ndarray, x2: pd.DataFrame) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    a = pd.get_dummies(x1).astype(float)
    b = pd.get_dummies(x2).astype(float).reindex(columns=a.columns, fill_value=0.0)
    for column in [c for c in x1.columns if pd.api.types.is_numeric_dtype(x1[c]) and x1[c].isna().any()]:
        a[f"{column}_missing"] = x1[column].isna().to_numpy(float)
        b[f"{column}_missing"] = x2[column].isna().to_numpy(float)
    median = a.median()
    a, b = a.fillna(median), b.fillna(median)
    for column in a.columns:  # counts and money are skewed
        if a[column].min() >= 0 and a[column].max() > 20:
            a[column], b[column] = np.log1p(a[column]), np.log1p(b[column].clip(lower=0))
    scaler = StandardScaler().fit(a)
    za, zb = scaler.transform(a), scaler.transform(b)
    arm = w1.astype(float)[:, None]
    model = LogisticRegression(C=0.1, max_iter=2000).fit(np.hstack([za, arm, za * arm]), y1)
    one, zero = np.ones((len(zb), 1)), np.zeros((len(zb), 1))
    sent = model.predict_proba(np.hstack([zb, one, zb]))[:, 1]
    return np.asarray(sent - model.predict_proba(np.hstack([zb, zero, 0 * zb]))[:, 1])


def ensemble(x1: pd.DataFrame, w1: np.ndarray, y1: np.ndarray, x2: pd.DataFrame) -> np.ndarray:
    from scipy.stats import rankdata

    scores = [
        learner("t", min_child_samples=400)(x1, w1, y1, x2),
        s_learner(x1, w1, y1, x2),
        lo_logit(x1, w1, y1, x2),
    ]
    return np.mean([rankdata(s) / s.size for s in scores], axis=0)


STRATEGIES: dict[str, Scorer] = {
    "propensity": propensity,
    "x": learner("x"),
    "t": learner("t"),
    "t_leaf400": learner("t", min_child_samples=400),
    "t_bagged": t_bagged,
    "t_cv_qini": t_cv_qini,
    "s": s_learner,
    "dr": dr_learner,
    "lo_logit": lo_logit,
    "ensemble": ensemble,
    "t_price_index": learner("t"),  # on the features plus the price-index ones
}


def folds(x: pd.DataFrame, w: np.ndarray, y: np.ndarray, n: int = 5, random_state: int = 0) -> list:
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(n, shuffle=True, random_state=random_state).split(x, w * 2 + y))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_shop_arguments(parser)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    args = parser.parse_args()
    rows = [
        "| seed | strategy | true incremental | vs random | vs propensity | realised incremental | Qini | seconds |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    ratios: dict[str, list[float]] = {name: [] for name in args.strategies}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "shop.duckdb"
            with open_store(db, settings=get_settings(db=db, memory_limit="4GB", threads=2)) as store:
                build_demo(store, shop_config(args, seed))
                features, extra, treated, outcome, true = campaign_data(store)
        parts = folds(features, treated, outcome)
        n_top = int(np.ceil(args.k * outcome.size))
        random_true = float(true.mean() * n_top)
        found: dict[str, tuple[float, float, float, float]] = {}
        for name in ["propensity", *[s for s in args.strategies if s != "propensity"]]:
            x = features.join(extra) if name == "t_price_index" else features
            began = time.perf_counter()
            score = np.zeros(outcome.size)
            for train, test in parts:
                score[test] = STRATEGIES[name](x.iloc[train], treated[train], outcome[train], x.iloc[test])
            top = np.argsort(-score, kind="stable")[:n_top]
            t, c = top[treated[top]], top[~treated[top]]
            realised = (outcome[t].mean() - outcome[c].mean()) * n_top
            found[name] = (
                float(true[top].sum()),
                float(realised),
                float(qini_coefficient(outcome, treated, score)),
                time.perf_counter() - began,
            )
        for name in args.strategies:
            true_sum, realised, qini, seconds = found[name]
            ratios[name].append(true_sum / found["propensity"][0])
            rows.append(
                f"| {seed} | {name} | {true_sum:.1f} | {true_sum / random_true:.2f}x | "
                f"{true_sum / found['propensity'][0]:.2f}x | {realised:.1f} | {qini:.1f} | {seconds:.1f} |"
            )
        print(f"seed {seed} done", flush=True)
    print(f"\nTop {args.k:.0%} of the campaign audience by each score (5-fold cross-fitted):\n")
    print("\n".join(rows))
    print("\nTrue incremental relative to purchase propensity, per seed and mean:\n")
    for name, values in ratios.items():
        print(f"{name:14s} " + " ".join(f"{v:.2f}" for v in values) + f"   mean {np.mean(values):.3f}")


if __name__ == "__main__":
    main()
