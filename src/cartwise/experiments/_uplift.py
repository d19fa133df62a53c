"""Uplift (heterogeneous treatment effect) estimators for a randomised campaign: T- and X-learner.

Both take features `X` (a data frame, one row per customer; text or category columns are
categorical features, missing numbers allowed), `treatment` (1 = sent, 0 = held out) and the
outcome `y` (1/0 for ``outcome="binary"``, any number for ``"continuous"``), and predict
tau(x) = E[Y | X = x, sent] - E[Y | X = x, held out], the change the message makes; for a
binary outcome, the change in the probability of the outcome.

* T-learner: one LightGBM model per arm, mu_1 on the treated and mu_0 on the held-out
  customers; tau(x) = mu_1(x) - mu_0(x).
* X-learner (Kuenzel, Sekhon, Bickel and Yu 2019, PNAS 116(10)): the same mu_0 and mu_1, then
  imputed effects D_i = y_i - mu_0(x_i) for treated and D_i = mu_1(x_i) - y_i for held-out
  customers, a LightGBM regressor per arm on them (tau_1 on treated, tau_0 on held out), and
  tau(x) = g tau_0(x) + (1 - g) tau_1(x) with g the share treated: in a randomised campaign the
  propensity e(x) is that constant, the paper's recommended weight. It borrows strength from
  the large arm when the holdout is small, as campaign holdouts are.

Why not causalml or scikit-uplift: causalml 0.18 has a prebuilt wheel but pulls xgboost,
shap, seaborn, pydot, graphviz, pathos and a pinned black into the project for two learners of
~30 lines each; scikit-uplift 0.5.1 (pure Python, last released 2022) has the T-learner
(`TwoModels`) but no X-learner and adds matplotlib and requests as requirements. Both
estimators here are thin layers over LightGBM, which Cartwise already uses.
"""

from __future__ import annotations

from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from cartwise.core.errors import InputError, ModelError

Outcome = Literal["binary", "continuous"]
# Fewest customers per arm (and, for a binary outcome, per outcome within an arm) to fit on.
MIN_ARM_SIZE = 30


def _frame(X: Any) -> pd.DataFrame:
    frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    frame.columns = pd.Index([str(c) for c in frame.columns])
    return frame.reset_index(drop=True)


class _UpliftBase:
    """Shared parameters, input checks and LightGBM construction of the uplift learners."""

    def __init__(
        self,
        outcome: Outcome = "binary",
        n_estimators: int = 300,
        learning_rate: float = 0.02,
        num_leaves: int = 4,
        min_child_samples: int = 200,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.outcome = outcome
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, treatment: ArrayLike, y: ArrayLike) -> Self:
        """Learn from features `X`, arms `treatment` (1/0) and outcomes `y`; returns self."""
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        """Predicted uplift per row of `X`."""
        raise NotImplementedError

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, as scikit-learn's `get_params`."""
        return {
            name: getattr(self, name)
            for name in (
                "outcome",
                "n_estimators",
                "learning_rate",
                "num_leaves",
                "min_child_samples",
                "random_state",
                "n_jobs",
            )
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _lgbm(self, kind: Literal["classifier", "regressor"]) -> Any:
        from lightgbm import LGBMClassifier, LGBMRegressor

        model = LGBMClassifier if kind == "classifier" else LGBMRegressor
        return model(
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

    def _prepare(self, X: Any) -> pd.DataFrame:
        frame = _frame(X)
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise InputError(
                f"`X` lacks {len(missing)} feature columns the model was fitted on (e.g. {missing[:3]}); "
                "build the features the same way as for fit."
            )
        frame = frame[self.feature_names_in_]
        for column, levels in self.categories_.items():
            frame[column] = pd.Categorical(frame[column].astype("string"), categories=levels)
        return frame

    def _check_fit_inputs(
        self, X: Any, treatment: ArrayLike, y: ArrayLike
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        if self.outcome not in ("binary", "continuous"):
            raise InputError(f"`outcome` must be 'binary' or 'continuous'; received {self.outcome!r}.")
        frame = _frame(X)
        arms = np.asarray(treatment).reshape(-1)
        values = np.asarray(y).reshape(-1)
        if not (len(frame) == arms.size == values.size):
            raise InputError(
                f"X, treatment and y must have one row per customer; received {len(frame)}, {arms.size} "
                f"and {values.size}."
            )
        try:
            treated = arms.astype(np.float64)
            outcome = values.astype(np.float64)
        except (TypeError, ValueError):
            raise InputError("treatment must hold 1/0 and y numbers; received text.") from None
        bad = ~np.isin(treated, (0.0, 1.0))
        if bad.any():
            raise InputError(
                f"treatment must hold only 1 (sent) and 0 (held out); {int(bad.sum())} other values "
                f"(rows {', '.join(map(str, np.flatnonzero(bad)[:3]))}). Map the arms to 1 and 0."
            )
        if not np.all(np.isfinite(outcome)):
            raise InputError(
                f"y has {int((~np.isfinite(outcome)).sum())} missing or infinite values; "
                "drop those customers or fill them first."
            )
        if self.outcome == "binary" and not np.isin(outcome, (0.0, 1.0)).all():
            raise InputError(
                "y must hold only 1 and 0 for outcome='binary'; use outcome='continuous' for amounts."
            )
        is_treated = treated == 1
        for arm, mask in (("treated", is_treated), ("held-out", ~is_treated)):
            size = int(mask.sum())
            if size < MIN_ARM_SIZE:
                raise ModelError(
                    f"The {arm} arm has {size} customers; at least {MIN_ARM_SIZE} are needed per arm."
                )
            if self.outcome == "binary":
                ones = int(outcome[mask].sum())
                if min(ones, size - ones) == 0:
                    raise ModelError(
                        f"In the {arm} arm every one of {size} customers has outcome {int(ones > 0)}; "
                        "both outcomes are needed in each arm. Use a longer window or more customers."
                    )
        self.feature_names_in_ = list(frame.columns)
        self.categories_ = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist())
            for c in self.feature_names_in_
            if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
        }
        self.treated_share_ = float(is_treated.mean())
        self.n_samples_ = len(frame)
        return self._prepare(frame), is_treated, outcome

    def _fit_arm(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        kind: Literal["classifier", "regressor"] = "classifier" if self.outcome == "binary" else "regressor"
        return self._lgbm(kind).fit(X, y.astype(np.int64) if kind == "classifier" else y)

    def _mean(self, model: Any, X: pd.DataFrame) -> np.ndarray:
        if self.outcome == "binary":
            return np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
        return np.asarray(model.predict(X), dtype=np.float64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise ModelError(
                f"This {type(self).__name__} is not fitted yet; call fit(X, treatment, y) first."
            )


class TLearner(_UpliftBase):
    """Two-model uplift: tau(x) = mu_1(x) - mu_0(x), one LightGBM model per arm.

    Parameters
    ----------
    outcome:
        ``"binary"`` (LightGBM classifiers; uplift in probability) or ``"continuous"`` (regressors).
    n_estimators, learning_rate, num_leaves, min_child_samples:
        LightGBM's boosting rounds, shrinkage, leaves per tree and fewest rows per leaf. The
        defaults (small trees, large leaves) won on the simulator's campaign (see BENCHMARKS.md):
        an effect is a small difference of two noisy means, and deeper trees fit the noise.
    random_state, n_jobs:
        Seed of the trees' row and column sampling; LightGBM threads.

    Attributes (after `fit`): feature_names_in_, categories_, treated_share_, n_samples_,
    models_ = {"control": mu_0, "treated": mu_1}.
    """

    def fit(self, X: Any, treatment: ArrayLike, y: ArrayLike) -> TLearner:
        """Fit one model per arm; returns self. ModelError when an arm is too small or one-sided."""
        frame, treated, outcome = self._check_fit_inputs(X, treatment, y)
        self.models_ = {
            "control": self._fit_arm(frame[~treated], outcome[~treated]),
            "treated": self._fit_arm(frame[treated], outcome[treated]),
        }
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted uplift per row of `X`: mu_1(x) - mu_0(x)."""
        self._check_fitted()
        frame = self._prepare(X)
        return self._mean(self.models_["treated"], frame) - self._mean(self.models_["control"], frame)


class XLearner(_UpliftBase):
    """X-learner uplift (Kuenzel et al. 2019): tau(x) = g tau_0(x) + (1 - g) tau_1(x).

    Parameters as `TLearner`. Attributes (after `fit`): those of `TLearner`, with `models_`
    holding "control", "treated" (the outcome models mu_0, mu_1), "effect_control" (tau_0) and
    "effect_treated" (tau_1); `treated_share_` is g.
    """

    def fit(self, X: Any, treatment: ArrayLike, y: ArrayLike) -> XLearner:
        """Fit the outcome models, then the effect models on the imputed effects; returns self."""
        frame, treated, outcome = self._check_fit_inputs(X, treatment, y)
        mu0 = self._fit_arm(frame[~treated], outcome[~treated])
        mu1 = self._fit_arm(frame[treated], outcome[treated])
        imputed_treated = outcome[treated] - self._mean(mu0, frame[treated])
        imputed_control = self._mean(mu1, frame[~treated]) - outcome[~treated]
        self.models_ = {
            "control": mu0,
            "treated": mu1,
            "effect_treated": self._lgbm("regressor").fit(frame[treated], imputed_treated),
            "effect_control": self._lgbm("regressor").fit(frame[~treated], imputed_control),
        }
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted uplift per row of `X`: g tau_0(x) + (1 - g) tau_1(x), g the treated share."""
        self._check_fitted()
        frame = self._prepare(X)
        g = self.treated_share_
        tau0 = np.asarray(self.models_["effect_control"].predict(frame), dtype=np.float64)
        tau1 = np.asarray(self.models_["effect_treated"].predict(frame), dtype=np.float64)
        return g * tau0 + (1 - g) * tau1


UPLIFT_LEARNERS: dict[str, type[_UpliftBase]] = {"t": TLearner, "x": XLearner}
