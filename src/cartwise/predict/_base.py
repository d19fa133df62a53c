"""The two model families of lifetime value: purchase counts and spend.

Every purchase-count model (BG/NBD, MBG/NBD, Pareto/NBD) takes the same per-customer
summary, repeat frequency x, recency t_x and age T in one time unit, and answers the same
questions; every spend model (Gamma-Gamma) takes repeat counts and mean repeat values.
The base classes fix those signatures and return shapes, so `customer_lifetime_value`, the
pipelines and the shared conformance tests (`cartwise.testing`-style, in tests/predict) work
with any of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from numpy.typing import ArrayLike

from cartwise.predict._mle import FloatArray, check_rfm, horizon_array, unique_rows


class _FittedModel(ABC):
    """What both families share: the maximum-likelihood hyperparameters and the fitted state."""

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

    model_name: ClassVar[str]
    """Human name used in messages, e.g. "BG/NBD"."""
    param_names: ClassVar[tuple[str, ...]]
    """Keys of `params_`, in the order the paper lists them."""
    zero_repeat_alive_is_certain: ClassVar[bool] = False
    """True when the model cannot let a customer drop out before a repeat purchase (BG/NBD),
    so P(alive) is 1 for every one-time buyer however long ago she bought."""

    @abstractmethod
    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Self:
        """Fit on per-customer repeat frequency x, recency t_x and age T (same time unit)."""

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

    @abstractmethod
    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood of (x, t_x, T) under the fitted parameters."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(penalizer={self.penalizer!r})"


class SpendModel(_FittedModel):
    """A model of a customer's average transaction value fitted on repeat customers.

    `fit(frequency, monetary_value)` takes the repeat-transaction count x >= 1 and the mean
    repeat value m > 0 of each repeat customer and returns `self`, setting `params_`,
    `standard_errors_`, `log_likelihood_`, `n_customers_` and `n_iter_`.
    """

    model_name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

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
