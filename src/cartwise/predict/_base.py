"""The two model families of lifetime value: purchase counts and spend.

Every purchase-count model (BG/NBD, MBG/NBD, Pareto/NBD) takes the same per-customer
summary, repeat frequency x, recency t_x and age T in one time unit, and answers the same
questions; every spend model (Gamma-Gamma) takes repeat counts and mean repeat values.
The base classes fix those signatures and return shapes, so `customer_lifetime_value`, the
pipelines and the shared conformance tests (`cartwise.testing`-style, in tests/predict) work
with any of them.

They also hold the one maximum-likelihood fit every model shares (collapse identical rows,
rescale the unit, minimise the mean negative log-likelihood over log-parameters, map back, take
standard errors from the Hessian, report the log-likelihood in the caller's unit): a model
states its per-customer log-likelihood (`_loglik`, and `_loglik_and_gradient` when it has an
analytic gradient), which parameters carry the rescaled unit, and its expectations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike

from cartwise.predict._mle import (
    FloatArray,
    check_rfm,
    fit_log_params,
    horizon_array,
    numerical_gradient,
    require_fitted,
    standard_errors,
    time_scale,
    unique_rows,
)


class _FittedModel(ABC):
    """What both families share: the maximum-likelihood hyperparameters, the fit and its state."""

    model_name: ClassVar[str]
    """Human name used in messages, e.g. "BG/NBD"."""
    param_names: ClassVar[tuple[str, ...]]
    """Keys of `params_`, in the order the paper lists them."""
    scaled_params: ClassVar[tuple[int, ...]]
    """Positions (in `param_names`) of the parameters in the unit `fit` rescales (time for the
    purchase models, money for the spend models); they are divided by the scale after the fit."""
    has_gradient: ClassVar[bool] = True
    """True when `_loglik_and_gradient` is analytic; otherwise the gradient is numerical."""
    fit_hint: ClassVar[str]
    """What to try when the fit does not converge (ends every convergence error)."""

    penalizer: float
    params_: dict[str, float]
    standard_errors_: dict[str, float]
    log_likelihood_: float
    n_customers_: int
    n_iter_: int

    def __init__(self, penalizer: float = 0.0, maxiter: int = 500, tol: float = 1e-12) -> None:
        self.penalizer = penalizer
        self.maxiter = maxiter
        self.tol = tol

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to `__init__` (scikit-learn style)."""
        return {"penalizer": self.penalizer, "maxiter": self.maxiter, "tol": self.tol}

    @abstractmethod
    def _loglik(self, theta: FloatArray, *columns: FloatArray) -> FloatArray:
        """Per-row log-likelihood of the data `columns` at natural-scale parameters `theta`."""

    def _loglik_and_gradient(self, theta: FloatArray, *columns: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Per-row log-likelihood and its gradient in `theta`, shape (len(theta), rows)."""
        raise NotImplementedError  # models with `has_gradient = False` use a numerical gradient

    def _theta(self) -> tuple[float, ...]:
        """The fitted parameters in `param_names` order; ModelError if `fit` has not run."""
        require_fitted(self)
        return tuple(self.params_[k] for k in self.param_names)

    def _fit_mle(
        self, columns: Sequence[FloatArray], n: float, scale: float, scaled_columns: Sequence[int]
    ) -> Self:
        """Fit by maximum likelihood on validated `columns` and set the learned attributes.

        `columns[i]` for `i` in `scaled_columns` arrive multiplied by `scale` (so the optimiser
        starts near the optimum whatever the unit); the parameters at `scaled_params` are divided
        by it afterwards, and the log-likelihood is reported on the columns in the caller's unit.
        The objective is the mean negative log-likelihood plus ``penalizer * sum(theta^2)``,
        minimised over ``z = log(theta)``; its gradient in z is ``theta * d/dtheta``.
        """
        unique, w, _ = unique_rows(*columns)
        k = len(self.param_names)
        if self.has_gradient:

            def with_gradient(z: FloatArray, penalizer: float) -> tuple[float, FloatArray]:
                theta = np.exp(z)
                ll, grads = self._loglik_and_gradient(theta, *unique)
                value = -float(w @ ll) / n + penalizer * float(theta @ theta)
                return value, (-(grads @ w) / n + 2 * penalizer * theta) * theta

            objective: Any = lambda z: with_gradient(z, self.penalizer)  # noqa: E731
            gradient: Any = lambda z: with_gradient(z, 0.0)[1]  # noqa: E731
        else:

            def nll(z: FloatArray, penalizer: float) -> float:
                theta = np.exp(z)
                with np.errstate(all="ignore"):
                    ll = self._loglik(theta, *unique)
                value = -float(w @ ll) / n + penalizer * float(theta @ theta)
                # A non-finite value (a parameter at an extreme) is a very bad fit, not an error.
                return value if np.isfinite(value) else 1e300

            objective = lambda z: nll(z, self.penalizer)  # noqa: E731
            gradient = numerical_gradient(lambda z: nll(z, 0.0))
        name, names, hint = self.model_name, self.param_names, self.fit_hint
        z, _, iterations = fit_log_params(
            name,
            names,
            objective,
            np.zeros(k),
            n,
            has_gradient=self.has_gradient,
            maxiter=self.maxiter,
            tol=self.tol,
            hint=hint,
        )
        params = np.exp(z)
        params[list(self.scaled_params)] /= scale
        self.standard_errors_ = standard_errors(name, names, gradient, z, n, params, hint)
        self.params_ = dict(zip(names, map(float, params), strict=True))
        # Rescaling the unit changes the density of the data by a constant factor, so the
        # log-likelihood is reported in the caller's unit.
        original = [col / scale if i in scaled_columns else col for i, col in enumerate(unique)]
        self.log_likelihood_ = float(w @ self._loglik(params, *original))
        self.n_customers_ = int(n)
        self.n_iter_ = iterations
        return self


class PurchaseModel(_FittedModel):
    """A model of repeat purchase counts fitted on (frequency, recency, T).

    Hyperparameters are set in `__init__` and stored as given; `fit` sets the learned
    attributes and returns `self`:

    - `params_`: dict of the fitted population parameters, in the time unit of the inputs;
    - `standard_errors_`: dict with the same keys, from the inverse Hessian;
    - `log_likelihood_`: total log-likelihood at the optimum (without any penalty);
    - `n_customers_`, `n_iter_`: customers fitted and optimiser iterations.

    Every prediction takes one value per customer and returns a float array of that length.
    """

    scaled_params: ClassVar[tuple[int, ...]] = (1,)
    """alpha (and beta) are in the time unit of the inputs."""
    zero_repeat_alive_is_certain: ClassVar[bool] = False
    """True when the model cannot let a customer drop out before a repeat purchase (BG/NBD),
    so P(alive) is 1 for every one-time buyer however long ago she bought."""

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Self:
        """Fit on per-customer repeat frequency x, recency t_x and age T (same time unit).

        Time is rescaled so the oldest customer has T = 10 (see `time_scale`).
        """
        x, t_x, big_t = check_rfm(frequency, recency, T)
        scale = time_scale(big_t, self.model_name)
        return self._fit_mle((x, t_x * scale, big_t * scale), float(x.size), scale, (1, 2))

    @abstractmethod
    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(the customer is still active at T | x, t_x, T), in [0, 1]."""

    def conditional_expected_purchases(
        self, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected repeat purchases in (T, T + t] for a customer with history (x, t_x, T).

        `t` is a number or one value per customer, in the time unit of T. Distinct
        histories are evaluated once.
        """
        x, t_x, big_t = check_rfm(frequency, recency, T)
        t_arr = horizon_array(t, x.size)
        (ux, ut_x, uT, ut), _, inverse = unique_rows(x, t_x, big_t, t_arr)
        return self._conditional_expected_purchases(ut, ux, ut_x, uT)[inverse]

    @abstractmethod
    def _conditional_expected_purchases(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, alive: FloatArray | None = None
    ) -> FloatArray:
        """`conditional_expected_purchases` on validated arrays; `alive` may be precomputed."""

    def conditional_probability_of_purchase(
        self, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(at least one repeat purchase in (T, T + t] | x, t_x, T), at most P(alive).

        `t` is a number or one value per customer, in the time unit of T.
        """
        x, t_x, big_t = check_rfm(frequency, recency, T)
        t_arr = horizon_array(t, x.size)
        (ux, ut_x, uT, ut), _, inverse = unique_rows(x, t_x, big_t, t_arr)
        return self._probability_of_purchase(ut, ux, ut_x, uT)[inverse]

    @abstractmethod
    def _probability_of_purchase(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        """`conditional_probability_of_purchase` on validated arrays."""

    @abstractmethod
    def expected_purchases(self, t: float | ArrayLike) -> FloatArray:
        """Expected repeat purchases in (0, t] for a randomly chosen new customer."""

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood of (x, t_x, T) under the fitted parameters."""
        x, t_x, big_t = check_rfm(frequency, recency, T)
        return np.asarray(self._loglik(np.array(self._theta()), x, t_x, big_t), dtype=np.float64)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(penalizer={self.penalizer!r})"


class SpendModel(_FittedModel):
    """A model of a customer's average transaction value fitted on repeat customers.

    `fit(frequency, monetary_value)` takes the repeat-transaction count x >= 1 and the mean
    repeat value m > 0 of each repeat customer and returns `self`, setting `params_`,
    `standard_errors_`, `log_likelihood_`, `n_customers_` and `n_iter_`.
    """

    @abstractmethod
    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> Self:
        """Fit on repeat customers' counts x >= 1 and mean repeat values m > 0."""

    @abstractmethod
    def expected_average_value(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """E[mean transaction value | x, m] per customer, in money units; customers with x = 0
        or no usable m get the population mean."""

    @abstractmethod
    def population_mean(self) -> float:
        """Mean transaction value of a randomly chosen customer, in money units."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(penalizer={self.penalizer!r})"


__all__ = ["PurchaseModel", "SpendModel"]
