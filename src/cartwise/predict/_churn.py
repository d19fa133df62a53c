"""Churn and purchase propensity: a calibrated gradient-boosting classifier and two baselines.

The classifier learns P(outcome in a future window | features as of a cutoff) from one row per
customer; the outcome is 1 for churn (no purchase in the window) or for a purchase, as the
caller labels it. The baselines need no training and make its gain visible:

* `rfm_quintile_score`: the classic R + F quintile score (2..10, higher = more recent and
  more frequent, so less likely to churn);
* `bgnbd_p_no_purchase`: BG/NBD's probability of no purchase in the next t time units, the
  horizon version of 1 - P(alive).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from cartwise.core.errors import InputError, ModelError
from cartwise.predict._bgnbd import BGNBD
from cartwise.predict._mbgnbd import MBGNBD
from cartwise.predict._mle import FloatArray, check_rfm, horizon_array

Calibration = Literal["isotonic", "sigmoid"]

MIN_CLASS_COUNT = 20
"""Fewest customers of each outcome `PropensityModel.fit` accepts: every calibration fold
needs both outcomes, and isotonic calibration with fewer has steps that are mostly noise."""


def _frame(X: Any, name: str = "X") -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise InputError(
            f"`{name}` must be a 2-D table (customers x features); received {array.ndim} dimensions. "
            "Pass a data frame with one row per customer."
        )
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def _labels(y: ArrayLike, rows: int) -> np.ndarray:
    raw = np.asarray(y).reshape(-1)
    if raw.size != rows:
        raise InputError(f"`y` has {raw.size} values but `X` has {rows} rows; give one outcome per customer.")
    try:
        values = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"`y` must hold 0/1 outcomes; received values like {raw[:3].tolist()!r}. Map them to 1 and 0."
        ) from None
    if not np.isin(values, (0.0, 1.0)).all():
        other = raw[~np.isin(values, (0.0, 1.0))][:3].tolist()
        raise InputError(f"`y` must hold only 0 and 1; received e.g. {other!r}. Map the outcome to 1 and 0.")
    return values.astype(np.int64)


class PropensityModel:
    """LightGBM classifier with calibrated probabilities for one binary customer outcome.

    `fit` runs scikit-learn's `CalibratedClassifierCV`: the rows are split into `cv`
    stratified folds; on each, a LightGBM model is trained on the other folds and a calibrator
    (`isotonic` regression, or `sigmoid` = Platt scaling) maps its raw scores on the fold to
    probabilities; `predict_proba` averages the `cv` calibrated models. Columns of text or
    category type are categorical features (their levels fixed at fit; a level unseen then
    counts as missing); missing numbers are allowed (LightGBM routes them at each split).

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples:
        LightGBM's boosting rounds, shrinkage, leaves per tree and fewest rows per leaf.
    calibration:
        ``"isotonic"`` (monotone steps, needs a few hundred rows) or ``"sigmoid"`` (Platt).
    cv:
        Calibration folds (at least 2).
    random_state, n_jobs:
        Seed of the fold split and the trees; LightGBM threads.

    Attributes (after `fit`)
    ------------------------
    feature_names_in_ : column names, in the order `predict_proba` expects them.
    categories_ : {column: levels} of the categorical columns.
    feature_importances_ : pandas Series, total split gain per feature averaged over the
        folds' models, largest first.
    base_rate_ : share of 1s in the training outcomes.
    n_samples_ : rows fitted.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 40,
        calibration: Calibration = "isotonic",
        cv: int = 3,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        for column, levels in self.categories_.items():
            out[column] = pd.Categorical(X[column].astype("string"), categories=levels)
        return out

    def fit(self, X: Any, y: ArrayLike) -> PropensityModel:
        """Fit on features `X` (one row per customer) and outcomes `y` (1/0); returns self.

        Raises ModelError when either outcome has fewer than MIN_CLASS_COUNT customers.
        """
        from lightgbm import LGBMClassifier
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.model_selection import StratifiedKFold

        if self.calibration not in ("isotonic", "sigmoid"):
            raise InputError(f"`calibration` must be 'isotonic' or 'sigmoid'; received {self.calibration!r}.")
        if isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 2:
            raise InputError(f"`cv` must be a whole number of folds >= 2; received {self.cv!r}. Use e.g. 3.")
        frame = _frame(X)
        if frame.empty:
            raise InputError("`X` has no rows; there is nothing to learn from.")
        labels = _labels(y, len(frame))
        ones = int(labels.sum())
        fewest = min(ones, labels.size - ones)
        if fewest < MIN_CLASS_COUNT:
            raise ModelError(
                f"`y` has {ones} customers with outcome 1 and {labels.size - ones} with outcome 0; "
                f"at least {MIN_CLASS_COUNT} of each are needed to fit and calibrate. "
                "Use more customers, a longer history or another horizon."
            )
        self.feature_names_in_ = [str(c) for c in frame.columns]
        frame.columns = pd.Index(self.feature_names_in_)
        self.categories_ = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist())
            for c in self.feature_names_in_
            if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
        }
        prepared = self._prepare(frame)
        booster = LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        self.calibrated_ = CalibratedClassifierCV(booster, method=self.calibration, cv=folds)
        self.calibrated_.fit(prepared, labels)
        gains = np.mean(
            [
                c.estimator.booster_.feature_importance(importance_type="gain")
                for c in self.calibrated_.calibrated_classifiers_
            ],
            axis=0,
        )
        self.feature_importances_ = pd.Series(gains, index=self.feature_names_in_, name="gain").sort_values(
            ascending=False
        )
        self.base_rate_ = ones / labels.size
        self.n_samples_ = int(labels.size)
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        """Calibrated probabilities, shape (rows, 2): column 0 for outcome 0, column 1 for outcome 1."""
        if not hasattr(self, "calibrated_"):
            raise ModelError("This PropensityModel is not fitted yet; call fit(X, y) first.")
        frame = _frame(X)
        frame.columns = pd.Index([str(c) for c in frame.columns])
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise InputError(
                f"`X` lacks {len(missing)} feature columns the model was fitted on (e.g. {missing[:3]}); "
                "build the features the same way as for fit."
            )
        prepared = self._prepare(frame[self.feature_names_in_])
        return np.asarray(self.calibrated_.predict_proba(prepared), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """Outcome 1 where its calibrated probability is at least 0.5, else 0."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"PropensityModel(n_estimators={self.n_estimators!r}, learning_rate={self.learning_rate!r}, "
            f"calibration={self.calibration!r})"
        )


def rfm_quintile_score(recency: ArrayLike, frequency: ArrayLike) -> np.ndarray:
    """The R + F quintile score of each customer: 2 (lapsed, one-off) to 10 (recent, frequent).

    ``R = ceil(5 * rank(-recency) / n)`` and ``F = ceil(5 * rank(frequency) / n)`` over the n
    customers with a finite recency (time since the last order, any unit), ranks ascending
    from 1 with ties sharing their average rank; customers without an order (recency NaN)
    score 0. Higher means more likely to buy again, so churn ranks by its negative.
    """
    r = np.asarray(recency, dtype=np.float64).reshape(-1)
    f = np.asarray(frequency, dtype=np.float64).reshape(-1)
    if r.size != f.size:
        raise InputError(
            f"`recency` has {r.size} values but `frequency` has {f.size}; give one per customer."
        )
    score = np.zeros(r.size)
    buyers = np.isfinite(r)
    n = int(buyers.sum())
    if n:
        r_rank = pd.Series(-r[buyers]).rank(method="average").to_numpy()
        f_rank = pd.Series(f[buyers]).rank(method="average").to_numpy()
        score[buyers] = np.ceil(5 * r_rank / n) + np.ceil(5 * f_rank / n)
    return score


def bgnbd_p_no_purchase(
    model: BGNBD | MBGNBD, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """BG/NBD (or MBG/NBD) probability of no purchase in (T, T + t] given history (x, t_x, T).

    A customer dead at T never buys again; one alive buys at rate lambda, whose posterior given
    her history is Gamma(r + x, alpha + T), and cannot drop out before her next purchase, so
    ``P(none) = 1 - P(alive) + P(alive) ((alpha + T) / (alpha + T + t))^(r + x)``.
    Both models let a customer drop out only right after a purchase, so the formula is the
    same for each; `t` is in the time unit the model was fitted in.
    """
    if not hasattr(model, "params_"):
        raise ModelError(f"The {model.model_name} model is not fitted yet; call fit first.")
    x, _, big_t = check_rfm(frequency, recency, T)
    t_arr = horizon_array(t, x.size)
    r, alpha = model.params_["r"], model.params_["alpha"]
    alive = model.p_alive(frequency, recency, T)
    quiet = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t_arr)))
    return np.asarray(1.0 - alive + alive * quiet, dtype=np.float64)


__all__ = ["MIN_CLASS_COUNT", "PropensityModel", "bgnbd_p_no_purchase", "rfm_quintile_score"]
