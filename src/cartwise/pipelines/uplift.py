"""Uplift models from a randomised campaign in the store: features at the send, outcome in its window,
validation against purchase propensity and random targeting, and scores for every customer.

Campaign. `campaign_assignments(store, name)` gives who was sent the message (treated: a
`sent` row in the send log) and who was held out (the campaign's holdout members), when it
went out and its window, for any campaign Cartwise sent with a holdout; the demo records its
past randomised e-mail (`demo-past-campaign`) there too (`truth_campaign` stays the fallback
for that one in older stores).

Features (`UPLIFT_FEATURES`) are what the shop knew before the send: the churn pipeline's
customer features (recency, frequency, monetary, sessions, cart abandonments, promo share,
acquisition channel...; see `cartwise.pipelines.churn`) as of the end of the day before the
send day, plus `avg_price_paid` (mean unit price of the customer's order lines),
`price_percentile` (mean over those lines of the item's list-price percentile within its
category, 0 cheapest), `browsed_price_percentile` (the same over the items the customer viewed
or added to a cart: many more observations of price sensitivity than purchases give) and
`country`. Outcome: 1 when the customer
placed an order in [sent_at, sent_at + window_days), else 0.

Validation (`evaluate_uplift`), cross-fitted: the audience is split into folds; the uplift
learners and a purchase-propensity classifier (LightGBM, `cartwise.predict.PropensityModel`,
fitted on the same features and outcome, both arms) fitted on the other folds score each fold,
so every customer has an out-of-sample score. For each ranking the top `k` of the audience is
"targeted": `realised_incremental` = (treated rate - held-out rate in the targeted set) x its
size, and, when the store holds the simulator's truth, `true_incremental` = the sum of the true
per-customer uplift over it; random targeting is the expectation, k times the whole audience's
figures. Qini coefficient and AUUC (`cartwise.evaluation.uplift`) of each ranking.

Scores (`fit_uplift`): the learner fitted on the whole audience scores every known customer
(an order, a `users` row, or events under a known id) on features as of the last data day, and
replaces `uplift_scores` (user_id, uplift, campaign, learner, model_version, scored_at); the
`uplift` field of `profiles` is updated at once and on every profile refresh, so audience rules
such as `uplift > 0.05` work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cartwise.core.errors import InputError, NotFoundError
from cartwise.evaluation.uplift import auuc, qini_coefficient
from cartwise.experiments import UPLIFT_LEARNERS
from cartwise.pipelines.campaigns import campaign_window
from cartwise.pipelines.choices import PAST_CAMPAIGN
from cartwise.pipelines.churn import FEATURES, build_features, last_data_day
from cartwise.pipelines.uplift_curves import held_out_curves, save_curves
from cartwise.predict import PropensityModel
from cartwise.store import Store

MODEL_VERSION = "uplift-lightgbm/1"
EXTRA_FEATURES: tuple[str, ...] = (
    "avg_price_paid",
    "price_percentile",
    "browsed_price_percentile",
    "country",
)
UPLIFT_FEATURES: tuple[str, ...] = (*FEATURES, *EXTRA_FEATURES)
LEARNERS: tuple[str, ...] = tuple(UPLIFT_LEARNERS)

# $1: the boundary; only rows before it are read.
_EXTRA_SQL = """
WITH ranked AS (
  SELECT item_id, percent_rank() OVER (PARTITION BY category ORDER BY price) AS pct
  FROM items WHERE price IS NOT NULL),
lines AS (
  SELECT o.user_id, l.price, r.pct FROM orders o JOIN order_lines l USING (order_id)
  LEFT JOIN ranked r USING (item_id) WHERE o.ts < $1),
bought AS (SELECT user_id, avg(price) AS avg_price_paid, avg(pct) AS price_percentile FROM lines GROUP BY user_id),
browsed AS (
  SELECT e.user_id, avg(r.pct) AS browsed_price_percentile FROM events e JOIN ranked r USING (item_id)
  WHERE e.ts < $1 AND e.type IN ('view', 'add_to_cart') GROUP BY e.user_id),
u AS (SELECT user_id, any_value(country) AS country FROM users GROUP BY user_id),
ids AS (SELECT user_id FROM bought UNION SELECT user_id FROM browsed UNION SELECT user_id FROM u)
SELECT ids.user_id, bought.avg_price_paid, bought.price_percentile, browsed.browsed_price_percentile, u.country
FROM ids LEFT JOIN bought USING (user_id) LEFT JOIN browsed USING (user_id) LEFT JOIN u USING (user_id)
"""


@dataclass(frozen=True)
class CampaignAssignments:
    """A randomised campaign: `assignments` (user_id, treated: bool) of its audience, the time
    of the send (`sent_at`, UTC, naive) and the days after it in which it counts (`window_days`)."""

    name: str
    sent_at: datetime
    window_days: float
    assignments: pd.DataFrame


def campaign_assignments(store: Store, name: str, window_days: int | None = None) -> CampaignAssignments:
    """Treatment and holdout of campaign `name`, sent by Cartwise: from its send log.

    Treated: the customers with a `sent` send-log row of the campaign (`send_log.source = name`);
    held out: its members drawn into the holdout (`campaign_members.holdout`). Members neither
    sent nor held out (skipped by consent, caps or suppressions) are left out: they got nothing
    and were not randomised into the control. `sent_at` is the first send; the outcome window is
    `window_days` after it (default: the attribution window the campaign was started with, the
    one its results are measured over; the demo's past campaign has the simulator's window; a
    campaign started before campaigns kept one: `DEFAULT_WINDOW_DAYS`). A store built before
    campaigns kept a send log still has the demo's past campaign in `truth_campaign`: that table
    is the fallback for that one name. NotFoundError when the campaign is not found.
    """
    if window_days is not None and (isinstance(window_days, bool) or not window_days >= 1):
        raise InputError(f"`window_days` is {window_days!r}; give a whole number of days >= 1, e.g. 7.")
    found = _from_send_log(store, name)
    if found is None:
        if name == PAST_CAMPAIGN and store.has_table("truth_campaign"):
            return _from_truth(store, name, window_days)
        raise NotFoundError(
            f"No campaign named {name!r} with sends and a holdout in this store; `cartwise campaigns list` "
            f"shows the campaigns. On a store built by `cartwise demo`, use `campaign` {PAST_CAMPAIGN}.",
            mentions=("campaign",),
        )
    frame, sent_at = found
    if not frame["treated"].any():
        raise InputError(f"Campaign {name!r} has no sent messages; there is nothing to learn from.")
    if frame["treated"].all():
        raise InputError(
            f"Campaign {name!r} has no holdout; uplift needs customers held out at random "
            "(send the campaign with a holdout of 0.1, for example: `cartwise campaigns send NAME --holdout 0.1`)."
        )
    return CampaignAssignments(
        name=name,
        sent_at=sent_at,
        window_days=window_days or _whole(campaign_window(store, name)) or DEFAULT_WINDOW_DAYS,
        assignments=frame,
    )


DEFAULT_WINDOW_DAYS = 7
"""Days after the first send in which an order counts, for campaigns without a known window."""


def _whole(days: float | None) -> float | None:
    """`days` as an int when it is whole (reports say 5, not 5.0)."""
    return int(days) if days is not None and float(days).is_integer() else days


def _from_send_log(store: Store, name: str) -> tuple[pd.DataFrame, datetime] | None:
    if not (store.has_table("send_log") and store.has_table("campaign_members")):
        return None
    frame = store.arrow(
        """WITH sent AS (
             SELECT user_id, min(sent_at) AS sent_at FROM send_log
             WHERE source = $1 AND state = 'sent' AND sent_at IS NOT NULL GROUP BY user_id),
           held AS (
             SELECT DISTINCT user_id FROM campaign_members
             WHERE campaign = $1 AND holdout AND user_id NOT IN (SELECT user_id FROM sent))
           SELECT user_id, true AS treated, sent_at FROM sent
           UNION ALL SELECT user_id, false, NULL FROM held
           ORDER BY user_id""",
        [name],
    ).to_pandas()
    if frame.empty:
        return None
    first = frame["sent_at"].dropna()
    if first.empty:
        return None
    assignments = frame[["user_id", "treated"]].astype({"treated": bool}).reset_index(drop=True)
    return assignments, pd.Timestamp(first.min()).to_pydatetime()


def _from_truth(store: Store, name: str, window_days: int | None) -> CampaignAssignments:
    """The demo's past campaign from `truth_campaign` (`treated`, `sent_at`, `window_days`; the
    truth columns are not used), for stores whose send log does not record it."""
    frame = store.arrow(
        "SELECT user_id, treated, sent_at, window_days FROM truth_campaign ORDER BY user_id"
    ).to_pandas()
    sent = frame.loc[frame["treated"], "sent_at"].dropna()
    if frame.empty or sent.empty:
        raise InputError(f"Campaign {name!r} has no treated customers; there is nothing to learn from.")
    return CampaignAssignments(
        name=name,
        sent_at=pd.Timestamp(sent.max()).to_pydatetime(),
        window_days=window_days or int(frame["window_days"].iloc[0]),
        assignments=frame[["user_id", "treated"]].astype({"treated": bool}).reset_index(drop=True),
    )


def uplift_features(store: Store, cutoff: date, user_ids: pd.Index | None = None) -> pd.DataFrame:
    """`UPLIFT_FEATURES` of the known customers as of the end of day `cutoff`, indexed by user_id.

    With `user_ids`, exactly those customers, in that order (rows of customers without any
    history before the boundary are missing values).
    """
    base = build_features(store, cutoff, "purchase")
    boundary = datetime(cutoff.year, cutoff.month, cutoff.day) + timedelta(days=1)
    extra = store.arrow(_EXTRA_SQL, [boundary]).to_pandas().set_index("user_id")
    frame = base.join(extra, how="left")
    if user_ids is not None:
        frame = frame.reindex(user_ids)
    for column in ("avg_price_paid", "price_percentile", "browsed_price_percentile"):
        frame[column] = frame[column].astype(np.float64)
    frame["country"] = frame["country"].astype("string")
    return frame[list(UPLIFT_FEATURES)]


@dataclass(frozen=True)
class _TrainingSet:
    campaign: CampaignAssignments
    features: pd.DataFrame
    treated: np.ndarray
    outcome: np.ndarray


def _training_set(store: Store, campaign: str, window_days: int | None = None) -> _TrainingSet:
    found = campaign_assignments(store, campaign, window_days)
    users = pd.Index(found.assignments["user_id"], name="user_id")
    # Features end at midnight before the send day, so nothing after the send leaks in.
    cutoff = found.sent_at.date() - timedelta(days=1)
    features = uplift_features(store, cutoff, users)
    end = found.sent_at + timedelta(days=found.window_days)
    buyers = store.arrow(
        "SELECT DISTINCT user_id FROM orders WHERE ts >= $1 AND ts < $2", [found.sent_at, end]
    ).column("user_id")
    outcome = users.isin(pd.Index(buyers.to_pylist())).astype(np.int64)
    return _TrainingSet(found, features, found.assignments["treated"].to_numpy(bool), np.asarray(outcome))


def _check_learner(learner: str) -> None:
    if learner not in UPLIFT_LEARNERS:
        raise InputError(f"`learner` must be one of {', '.join(LEARNERS)}; received {learner!r}.")


def _check_k(k: float) -> float:
    if isinstance(k, bool) or not isinstance(k, int | float) or not 0 < k < 1:
        raise InputError(f"`k` (the share targeted) must be between 0 and 1; received {k!r}. Use e.g. 0.3.")
    return float(k)


def _true_uplift(store: Store, campaign: str, users: pd.Index) -> np.ndarray | None:
    """The simulator's known per-customer uplift, when the store holds it (demo stores only)."""
    if campaign != PAST_CAMPAIGN or not store.has_table("truth_campaign"):
        return None
    truth = store.arrow("SELECT user_id, uplift FROM truth_campaign").to_pandas().set_index("user_id")
    return truth["uplift"].reindex(users).to_numpy(np.float64)


def _targeting(
    score: np.ndarray, treated: np.ndarray, outcome: np.ndarray, truth: np.ndarray | None, k: float
) -> dict[str, Any]:
    top = np.argsort(-score, kind="stable")[: int(np.ceil(k * score.size))]
    t, c = top[treated[top]], top[~treated[top]]
    realised = (outcome[t].mean() - outcome[c].mean()) * top.size if t.size and c.size else None
    return {
        "targeted": int(top.size),
        "realised_incremental": None if realised is None else float(realised),
        "true_incremental": None if truth is None else float(truth[top].sum()),
        "qini": float(qini_coefficient(outcome, treated, score)),
        "auuc": float(auuc(outcome, treated, score)),
    }


def evaluate_uplift(
    store: Store,
    campaign: str = PAST_CAMPAIGN,
    *,
    k: float = 0.3,
    folds: int = 5,
    random_state: int = 0,
    window_days: int | None = None,
) -> dict[str, Any]:
    """Cross-fitted comparison of targeting the top `k` by each uplift learner, by purchase
    propensity and at random (see the module docstring).

    The audience is split into `folds` parts (stratified by arm and outcome); each part is scored
    by models fitted on the others, so every customer has an out-of-sample score and the top `k`
    is taken over the whole audience. Returns a JSON-ready dict: campaign, sent_at, window_days,
    k, folds, audience, treated, outcome_rate per arm, `strategies` {name: {targeted,
    realised_incremental, true_incremental, qini, auuc}} for x_learner, t_learner, propensity
    and random (true_incremental is None without the simulator's truth), and seconds per scorer.
    `window_days` overrides the campaign's outcome window (see `campaign_assignments`).
    """
    from sklearn.model_selection import StratifiedKFold

    k = _check_k(k)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InputError(f"`folds` must be a whole number >= 2; received {folds!r}. Use e.g. 5.")
    started = time.perf_counter()
    data = _training_set(store, campaign, window_days)
    features, treated, outcome = data.features, data.treated, data.outcome
    seconds = {"features": time.perf_counter() - started}
    splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    parts = list(splitter.split(features, treated * 2 + outcome))
    scores = {name: np.zeros(outcome.size) for name in ("x_learner", "t_learner", "propensity")}
    for name in scores:
        began = time.perf_counter()
        for train, test in parts:
            x_train, x_test = features.iloc[train], features.iloc[test]
            if name == "propensity":
                # Only the ranking matters here: two folds of Platt scaling keep it and halve the cost.
                model = PropensityModel(calibration="sigmoid", cv=2, random_state=random_state)
                model.fit(x_train, outcome[train])
                scores[name][test] = model.predict_proba(x_test)[:, 1]
            else:
                learner = UPLIFT_LEARNERS[name[0]](random_state=random_state)
                scores[name][test] = learner.fit(x_train, treated[train], outcome[train]).predict(x_test)
        seconds[name] = time.perf_counter() - began
    truth = _true_uplift(store, campaign, features.index)
    strategies = {name: _targeting(s, treated, outcome, truth, k) for name, s in scores.items()}
    n_top = int(np.ceil(k * outcome.size))
    rate = {
        "treated": float(outcome[treated].mean()),
        "held_out": float(outcome[~treated].mean()),
    }
    strategies["random"] = {
        "targeted": n_top,
        "realised_incremental": (rate["treated"] - rate["held_out"]) * n_top,
        "true_incremental": None if truth is None else float(truth.mean() * n_top),
        "qini": 0.0,
        "auuc": 0.0,
    }
    return {
        "campaign": campaign,
        "sent_at": data.campaign.sent_at.isoformat(),
        "window_days": data.campaign.window_days,
        "k": k,
        "folds": folds,
        "audience": int(outcome.size),
        "treated": int(treated.sum()),
        "outcome_rate": rate,
        "strategies": strategies,
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
    }


def fit_uplift(
    store: Store,
    campaign: str = PAST_CAMPAIGN,
    *,
    learner: str = "x",
    out: Path | None = None,
    random_state: int = 0,
    window_days: int | None = None,
    curves: bool = True,
) -> dict[str, Any]:
    """Fit `learner` ("x" or "t") on campaign `campaign`, score every known customer as of the last
    data day, replace `uplift_scores`, update the profiles' `uplift`, and write `out` (CSV with
    user_id, uplift) when given. Returns a JSON-ready report: campaign, learner, sent_at,
    window_days, audience, treated, held_out, outcome_rate (treated, held_out), customers_scored,
    mean_uplift, table, out, model_version, seconds. `window_days` overrides the campaign's
    outcome window (see `campaign_assignments`). With `curves`, the learner's and purchase
    propensity's cross-fitted Qini and uplift curves are saved too (`cartwise.pipelines.uplift_curves`;
    `qini_coefficient` in the report)."""
    _check_learner(learner)
    started = time.perf_counter()
    data = _training_set(store, campaign, window_days)
    model = UPLIFT_LEARNERS[learner](random_state=random_state).fit(data.features, data.treated, data.outcome)
    scoring = uplift_features(store, last_data_day(store))
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    scores = pd.DataFrame({"user_id": scoring.index.astype(str), "uplift": model.predict(scoring)})
    table = pa.table(
        {
            "user_id": pa.array(scores["user_id"], pa.string()),
            "uplift": pa.array(scores["uplift"], pa.float64()),
            "campaign": pa.array([campaign] * len(scores), pa.string()),
            "learner": pa.array([learner] * len(scores), pa.string()),
            "model_version": pa.array([MODEL_VERSION] * len(scores), pa.string()),
            "scored_at": pa.array([scored_at] * len(scores), pa.timestamp("us")),
        }
    )
    found_curves = (
        held_out_curves(data.features, data.treated, data.outcome, learner, random_state=random_state)
        if curves
        else None
    )
    with store.transaction():
        store.replace("uplift_scores", table)
        if store.has_table("profiles"):
            _update_profiles(store, scores)
        if found_curves is not None:
            save_curves(store, campaign, learner, MODEL_VERSION, found_curves)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        scores.to_csv(out, index=False)
    return {
        "campaign": campaign,
        "learner": learner,
        "sent_at": data.campaign.sent_at.isoformat(),
        "window_days": data.campaign.window_days,
        "audience": int(data.treated.size),
        "treated": int(data.treated.sum()),
        "held_out": int((~data.treated).sum()),
        "outcome_rate": {
            "treated": float(data.outcome[data.treated].mean()),
            "held_out": float(data.outcome[~data.treated].mean()),
        },
        "customers_scored": len(scores),
        "mean_uplift": float(scores["uplift"].mean()) if len(scores) else None,
        "table": "uplift_scores",
        "out": None if out is None else str(out),
        "model_version": MODEL_VERSION,
        "qini_coefficient": None if found_curves is None else found_curves["qini_coefficient"],
        "seconds": round(time.perf_counter() - started, 3),
    }


def _update_profiles(store: Store, scores: pd.DataFrame) -> None:
    """Replace the profiles' `uplift` column with `scores` (customers without a score get NULL)."""
    profiles = store.arrow("SELECT * FROM profiles").to_pandas()
    profiles = profiles.drop(columns=["uplift"], errors="ignore").merge(
        scores[["user_id", "uplift"]], on="user_id", how="left"
    )
    store.replace("profiles", pa.Table.from_pandas(profiles, preserve_index=False))


def randomised_campaign(store: Store) -> str | None:
    """The campaign `cartwise train` learns uplift from: the latest one (by start) with sent
    messages and holdout members in the send log, or the demo's past campaign in an older store
    (`truth_campaign`); None when the store has neither."""
    if store.has_table("campaigns") and store.has_table("send_log") and store.has_table("campaign_members"):
        rows = store.con.execute(
            """SELECT c.name FROM campaigns c
               WHERE EXISTS (SELECT 1 FROM campaign_members m WHERE m.campaign = c.name AND m.holdout)
                 AND EXISTS (SELECT 1 FROM send_log s WHERE s.source = c.name AND s.state = 'sent')
               ORDER BY c.started_at DESC NULLS LAST, c.name LIMIT 1"""
        ).fetchall()
        if rows:
            return str(rows[0][0])
    if store.has_table("truth_campaign"):
        return PAST_CAMPAIGN
    return None


def train_uplift(store: Store) -> dict[str, Any]:
    """`cartwise train`'s uplift step: `fit_uplift` (X-learner) on `randomised_campaign`, which
    fills the profiles' `uplift`; `{"skipped": why}` when the store has no such campaign."""
    name = randomised_campaign(store)
    if name is None:
        return {
            "skipped": "no campaign with a holdout in this store; send one with a holdout "
            "(`cartwise campaigns send NAME --holdout 0.1`) or fit one with `cartwise uplift fit --campaign NAME`."
        }
    return fit_uplift(store, name)
