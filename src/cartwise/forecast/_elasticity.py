"""Price elasticity of demand per item and per category, from prices that change (promotions).

Model (constant elasticity, a log-log demand curve). Item i in period t sells

    E[q_it] = exp(a_i + γ_t + ε_i · log p_it)

units at price p_it: a_i is the item's level (item fixed effect), γ_t the period's effect
shared by all items (seasonality, weekdays, traffic), and ε_i the elasticity, the percentage
change in units per percentage change in price (−2 means a 10% discount sells about 21% more:
0.9^−2 = 1.23). It is fitted by Poisson pseudo-maximum likelihood (Santos Silva & Tenreyro
2006): the same log-log regression, but periods without sales (q = 0, whose log does not
exist) count, and only the mean needs to be right, not the Poisson variance.

Estimation (partial pooling, an empirical-Bayes hierarchy of items within categories):

1. Per category c, one pooled elasticity for all its items (with the item and period effects),
   by alternating exact updates a_i = log Σ_t q_it − log Σ_t exp(γ_t + ε x_it) and
   γ_t = log Σ_i q_it − log Σ_i exp(a_i + ε x_it) with a Newton step for ε on the profile
   likelihood, until nothing moves by more than `tol`. This is the starting value of ε_c.
2. Every item with at least `min_price_changes` periods at a price other than its usual one
   (its most common price, ±1%) gets its own ε_i, fitted jointly with the period effects and
   penalised towards its category: ℓ(ε)/φ − Σ_i (ε_i − ε_c)² / (2τ²), with ℓ the Poisson
   log-likelihood, φ the dispersion (below) and τ the spread of elasticities within a
   category (`prior_sd`). An item with few sales at other prices stays near its category, one
   with many moves to its own value; the penalty also keeps the estimate finite when an item
   sold nothing at its promotional price. ε_c moves to the mean of its items' ε_i, and both
   are refitted until ε_c is stable: in the normal hierarchy ε_i ~ N(ε_c, τ²) the mean of the
   partially pooled item estimates is the maximum-likelihood ε_c, so ε_c estimates the
   category's mean elasticity, each item counting once. With `prior_sd=None` (the default)
   τ is estimated: step 2 runs with τ = 1, τ² is estimated by DerSimonian–Laird moments of
   the items' estimates (see `_spread`), and step 2 runs again with it.
3. Items with fewer price changes get their category's ε_c (`pooled` true). A category none of
   whose items has its own estimate keeps the pooled elasticity of step 1.

Uncertainty. With φ the Pearson dispersion (over-dispersed counts: baskets with several
units of an item), μ the fitted mean and x̄_i the μ-weighted mean of x = log p for item i,
an item's standard error is the approximate posterior standard deviation

    se(ε_i) = 1 / √(Σ_t μ_it (x_it − x̄_i)² / φ + 1/τ²),

and a category's is the sandwich (Eicker–Huber–White) error of its pooled fit in step 1,
clustered by item: with u_i = Σ_t (q_it − μ_it)(x_it − x̄_i) and G items that changed price,

    se(ε_c) = √(G/(G−1) · Σ_i u_i²) / Σ_it μ_it (x_it − x̄_i)².

It allows for errors shared by an item's periods and for items that respond differently, so
it also bounds the error of the category mean of step 2, which the items' own errors alone
understate: errors common to the items (a small-count bias, period effects) do not average out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, InputError, ModelError

SALES_COLUMNS = ("item", "period", "units", "price")
"""Columns `ElasticityModel.fit` needs; `category` is optional (without it, one pool of all items)."""

PRICE_CHANGE_TOLERANCE = 0.01
"""A price more than 1% away from an item's most common price counts as a price change."""

MIN_PRIOR_SD = 0.05
"""Smallest within-category spread of elasticities the estimate of `prior_sd` settles on."""

_MIN_LOG = -30.0


@dataclass
class _Data:
    item: np.ndarray  # item index per row
    period: np.ndarray  # period index per row
    units: np.ndarray
    x: np.ndarray  # log price, centred per item
    item_cat: np.ndarray  # category index per item
    item_ids: np.ndarray
    cat_ids: np.ndarray
    changes: np.ndarray  # rows at a price other than the item's usual one, per item
    n_periods: int


def _weighted_moments(
    group: np.ndarray, weight: np.ndarray, x: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group: Σw, the w-weighted mean of x and Σ w (x − mean)²."""
    sw = np.bincount(group, weights=weight, minlength=n)
    swx = np.bincount(group, weights=weight * x, minlength=n)
    mean = np.divide(swx, sw, out=np.zeros(n), where=sw > 0)
    dev = x - mean[group]
    return sw, mean, np.bincount(group, weights=weight * dev**2, minlength=n)


def _spread(
    eps: np.ndarray, prior: np.ndarray, info: np.ndarray, tau2: float, own: np.ndarray,
    cat: np.ndarray, n_cats: int,
) -> float:  # fmt: skip
    """Within-category variance τ² of the true elasticities, by DerSimonian–Laird moments.

    The penalised estimates are first un-shrunk to the data's own estimates, to first order
    ε̃_i = ε_c + (ε_i − ε_c)(I_i + 1/τ²)/I_i with I_i the quasi-information, whose variance is
    s_i² = 1/I_i. With w_i = I_i, Q = Σ_i w_i (ε̃_i − ε̄_c)² around each category's weighted
    mean ε̄_c, k_c items per category and C = Σ_c (Σ w − Σ w²/Σ w):
    τ² = max(MIN_PRIOR_SD², (Q − Σ_c (k_c − 1)) / C).
    """
    use = own & (info > 0)
    if not use.any():
        return tau2
    w = info[use]
    raw = prior[use] + (eps[use] - prior[use]) * (w + 1 / tau2) / w
    c = cat[use]
    s1 = np.bincount(c, weights=w, minlength=n_cats)
    s2 = np.bincount(c, weights=w**2, minlength=n_cats)
    mean = np.divide(
        np.bincount(c, weights=w * raw, minlength=n_cats), s1, out=np.zeros(n_cats), where=s1 > 0
    )
    q_stat = float(np.sum(w * (raw - mean[c]) ** 2))
    k = np.bincount(c, minlength=n_cats)
    df = float(np.sum(np.maximum(k - 1, 0)))
    denom = float(np.sum(np.divide(s1 * s1 - s2, s1, out=np.zeros(n_cats), where=s1 > 0)))
    if denom <= 0:
        return tau2
    return max(MIN_PRIOR_SD**2, (q_stat - df) / denom)


class ElasticityModel:
    """Price elasticities per item and per category from a panel of units and prices.

    See the module docstring for the model and the estimator. Hyperparameters:
    `min_price_changes` (periods at another price an item needs for its own estimate),
    `prior_sd` (τ: how far, in elasticity units, items' elasticities spread around their
    category's; None estimates it from the data), `max_iter` and `tol` (of the alternating fit).

    Learned, after `fit`: `items_` (one row per item that sold: `item, category, elasticity,
    std_error, observations, price_changes, pooled`), `categories_` (one row per category:
    `category, elasticity, std_error, observations, items, items_own`), `prior_sd_` (τ used),
    `dispersion_` and `iterations_` (alternating updates made). An elasticity is NaN where it cannot be
    estimated: a category none of whose items changed price, and its pooled items.
    """

    def __init__(
        self,
        min_price_changes: int = 3,
        prior_sd: float | None = None,
        max_iter: int = 200,
        tol: float = 1e-6,
    ) -> None:
        self.min_price_changes = min_price_changes
        self.prior_sd = prior_sd
        self.max_iter = max_iter
        self.tol = tol

    # -- input -------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not isinstance(self.min_price_changes, int) or self.min_price_changes < 1:
            raise ConfigError(
                f"`min_price_changes` must be a positive integer; received {self.min_price_changes!r}."
            )
        if self.prior_sd is not None and not self.prior_sd > 0:
            raise ConfigError(
                f"`prior_sd` must be positive (e.g. 0.5) or None to estimate it; received {self.prior_sd!r}."
            )

    def _prepare(self, sales: pd.DataFrame) -> _Data:
        missing = [c for c in SALES_COLUMNS if c not in sales.columns]
        if missing:
            raise InputError(
                f"`sales` lacks the columns {missing}; its columns are {list(map(str, sales.columns))}. "
                f"Pass one row per item and period with {list(SALES_COLUMNS)} (and optionally `category`)."
            )
        units = pd.to_numeric(sales["units"], errors="coerce").to_numpy(dtype=float)
        price = pd.to_numeric(sales["price"], errors="coerce").to_numpy(dtype=float)
        bad = units < 0
        if bad.any():
            raise InputError(
                f"Column `units` has {int(bad.sum())} negative values (e.g. {units[bad][0]!r}); "
                f"give units sold (returns netted to zero or left out)."
            )
        bad = price <= 0
        if bad.any():
            raise InputError(
                f"Column `price` has {int(bad.sum())} values that are not positive (e.g. {price[bad][0]!r}); "
                f"give the unit price of each period, or leave it empty (missing) to skip the period."
            )
        keep = np.isfinite(units) & np.isfinite(price)
        frame = pd.DataFrame(
            {
                "item": sales["item"].astype("string").to_numpy()[keep],
                "period": sales["period"].to_numpy()[keep],
                "units": units[keep],
                "logp": np.log(price[keep]),
                "category": (
                    sales["category"].astype("string").fillna("").to_numpy()[keep]
                    if "category" in sales.columns
                    else np.full(int(keep.sum()), "all", dtype=object)
                ),
            }
        )
        if frame.duplicated(["item", "period"]).any():
            first = frame[frame.duplicated(["item", "period"])].iloc[0]
            raise InputError(
                f"`sales` has several rows for item {first['item']!r} in period {first['period']}; "
                f"keep one row per item and period (sum the units)."
            )
        # Items that never sold carry no information about their response to price.
        totals = frame.groupby("item")["units"].transform("sum")
        frame = frame[totals > 0]
        if frame.empty:
            raise ModelError(
                "No item has both a price and units sold in `sales`; elasticities need sales history."
            )
        item_idx, item_ids = pd.factorize(frame["item"], sort=True)
        period_idx, periods = pd.factorize(frame["period"], sort=True)
        first_cat = frame.groupby(item_idx)["category"].first()
        cat_of_item, cat_ids = pd.factorize(first_cat.to_numpy(), sort=True)
        logp = frame["logp"].to_numpy()
        # The usual price: the most common one (rounded to 1%); x is log price about it.
        binned = np.round(logp / PRICE_CHANGE_TOLERANCE)
        modes = (
            pd.DataFrame({"i": item_idx, "b": binned})
            .groupby("i")["b"]
            .agg(lambda s: s.value_counts().index[0])
            .to_numpy()
        )
        usual = modes * PRICE_CHANGE_TOLERANCE
        x = logp - usual[item_idx]
        changes = np.bincount(item_idx, weights=np.abs(x) > PRICE_CHANGE_TOLERANCE, minlength=item_ids.size)
        return _Data(
            item=item_idx,
            period=period_idx,
            units=frame["units"].to_numpy(),
            x=x,
            item_cat=cat_of_item,
            item_ids=np.asarray(item_ids, dtype=object),
            cat_ids=np.asarray(cat_ids, dtype=object),
            changes=changes.astype(np.int64),
            n_periods=len(periods),
        )

    # -- fitting -----------------------------------------------------------------------
    def _alternate(
        self, d: _Data, group: np.ndarray, n_groups: int, slope: np.ndarray, free: np.ndarray,
        prior: np.ndarray, precision: float, gamma: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Maximise the Poisson likelihood with item and period effects and one elasticity per
        group (`group[i]` of item i), penalised by precision·(ε_g − prior_g)²/2, updating only the
        `free` groups, starting from `slope` and the period effects `gamma`. Returns (elasticity
        per group, fitted mean per row, period effects)."""
        q, x, item, period = d.units, d.x, d.item, d.period
        n_items, n_t = d.item_ids.size, d.n_periods
        row_group = group[item]
        q_item = np.bincount(item, weights=q, minlength=n_items)
        q_period = np.bincount(period, weights=q, minlength=n_t)
        log_q_period = np.log(np.maximum(q_period, np.exp(_MIN_LOG)))
        if gamma is None:
            gamma = log_q_period - log_q_period.mean()
        slope = slope.copy()
        for _ in range(self.max_iter):
            self.iterations_ += 1
            # Item effects given the period effects and elasticities (exact).
            base = np.exp(gamma[period] + slope[row_group] * x)
            a = np.log(q_item) - np.log(np.bincount(item, weights=base, minlength=n_items))
            mu = np.exp(a[item]) * base
            # A Newton step for each free elasticity on its (penalised) profile likelihood.
            _, xbar, _ = _weighted_moments(item, mu, x, n_items)
            dev = x - xbar[item]
            grad = np.bincount(row_group, weights=(q - mu) * dev, minlength=n_groups)
            hess = np.bincount(row_group, weights=mu * dev**2, minlength=n_groups) + precision
            grad -= precision * (slope - prior)
            step = np.where(free & (hess > 0), grad / np.where(hess > 0, hess, 1.0), 0.0)
            step = np.clip(step, -1.0, 1.0)
            slope = slope + step
            # Period effects given the item effects and elasticities (exact).
            fitted = np.bincount(period, weights=np.exp(a[item] + slope[row_group] * x), minlength=n_t)
            new_gamma = np.where(q_period > 0, log_q_period - np.log(np.maximum(fitted, 1e-300)), _MIN_LOG)
            moved = max(float(np.max(np.abs(step))), float(np.max(np.abs(new_gamma - gamma))))
            gamma = new_gamma
            if moved < self.tol:
                break
        else:
            raise ModelError(
                f"The elasticity fit did not converge in {self.max_iter} iterations; raise `max_iter` "
                f"(received {self.max_iter})."
            )
        base = np.exp(gamma[period] + slope[row_group] * x)
        a = np.log(q_item) - np.log(np.bincount(item, weights=base, minlength=n_items))
        return slope, np.exp(a[item]) * base, gamma

    def _partial_pool(
        self, d: _Data, own: np.ndarray, eps_c: np.ndarray, tau2: float, gamma: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
        """Step 2 for a given spread τ² = prior_sd²: item elasticities penalised towards their
        category's, the category's reset to its items' mean until it settles. Returns (ε_i, ε_c,
        fitted mean per row, dispersion φ, period effects)."""
        q, n_items, n_cats = d.units, d.item_ids.size, d.cat_ids.size
        n_own = np.bincount(d.item_cat, weights=own, minlength=n_cats)
        dof = max(q.size - n_items - d.n_periods - n_cats, 1)
        eps_i, phi = eps_c[d.item_cat], 1.0
        for _ in range(self.max_iter):
            prior = eps_c[d.item_cat]
            start = np.where(own, eps_i, prior)
            # The penalty applies to the quasi-likelihood ℓ/φ, hence φ/τ² on ℓ.
            eps_i, mu, gamma = self._alternate(
                d, np.arange(n_items), n_items, start, own, prior, phi / tau2, gamma
            )
            phi = max(float(np.sum((q - mu) ** 2 / np.maximum(mu, 1e-12)) / dof), 1.0)
            # Move ε_c to the mean of its items' ε_i. The items follow only by their data's share
            # B_i = I_i / (I_i + 1/τ²), so the step is divided by the mean share (a Newton step
            # on the fixed point; plain averaging crawls when the shrinkage is strong).
            _, xbar, _ = _weighted_moments(d.item, mu, d.x, n_items)
            info = np.bincount(d.item, weights=mu * (d.x - xbar[d.item]) ** 2, minlength=n_items) / phi
            share = np.where(own, info / (info + 1 / tau2), 0.0)
            gap = np.bincount(d.item_cat, weights=np.where(own, eps_i - prior, 0.0), minlength=n_cats)
            weight = np.bincount(d.item_cat, weights=share, minlength=n_cats)
            step = np.divide(gap, weight, out=np.zeros(n_cats), where=(n_own > 0) & (weight > 0))
            eps_c = eps_c + np.clip(step, -1.0, 1.0)
            if float(np.max(np.abs(step))) < 1e-4:
                return eps_i, eps_c, mu, phi, gamma
        raise ModelError(
            f"The category elasticities did not settle in {self.max_iter} rounds; raise `max_iter` "
            f"(received {self.max_iter})."
        )

    def fit(self, sales: pd.DataFrame) -> Self:
        """Estimate elasticities from `sales`: one row per item and period with `item, period,
        units, price` (and `category`). Rows with missing units or price are skipped (a period
        whose sales are unknown, e.g. the item was out of stock). Returns `self`.

        Also learned: `dispersion_`, the Pearson dispersion φ = Σ (q − μ)²/μ / (n − items −
        periods − categories) of the item-level fit, at least 1 (1 for Poisson-like counts).
        """
        self._check_params()
        d = self._prepare(sales)
        n_items, n_cats = d.item_ids.size, d.cat_ids.size
        q, x, item = d.units, d.x, d.item
        has_variation = np.bincount(d.item_cat, weights=d.changes, minlength=n_cats) > 0

        # 1. One pooled elasticity per category, with its sandwich error clustered by item.
        self.iterations_ = 0
        pooled, mu, gamma = self._alternate(
            d, d.item_cat, n_cats, np.zeros(n_cats), has_variation, np.zeros(n_cats), 0.0
        )
        row_cat = d.item_cat[item]
        _, xbar, _ = _weighted_moments(item, mu, x, n_items)
        dev = x - xbar[item]
        hess_c = np.bincount(row_cat, weights=mu * dev**2, minlength=n_cats)
        score_i = np.bincount(item, weights=(q - mu) * dev, minlength=n_items)
        meat_c = np.bincount(d.item_cat, weights=score_i**2, minlength=n_cats)
        clusters = np.bincount(d.item_cat, weights=d.changes > 0, minlength=n_cats)
        meat_c *= np.divide(clusters, clusters - 1, out=np.ones(n_cats), where=clusters > 1)
        ok = has_variation & (hess_c > 0)
        pooled_se = np.where(ok, np.sqrt(meat_c) / np.where(ok, hess_c, 1.0), np.nan)
        pooled = np.where(has_variation, pooled, np.nan)

        # 2. Items with enough price changes, partially pooled towards their category's mean.
        own = d.changes >= self.min_price_changes
        n_own = np.bincount(d.item_cat, weights=own, minlength=n_cats)
        eps_c = np.nan_to_num(pooled)
        tau2 = 1.0 if self.prior_sd is None else float(self.prior_sd) ** 2
        eps_i, eps_c, mu_i, phi, gamma = self._partial_pool(d, own, eps_c, tau2, gamma)
        _, xbar_i, _ = _weighted_moments(item, mu_i, x, n_items)
        info_i = np.bincount(item, weights=mu_i * (x - xbar_i[item]) ** 2, minlength=n_items)
        if self.prior_sd is None and own.any():
            tau2 = _spread(eps_i, eps_c[d.item_cat], info_i / phi, tau2, own, d.item_cat, n_cats)
            eps_i, eps_c, mu_i, phi, gamma = self._partial_pool(d, own, eps_c, tau2, gamma)
            _, xbar_i, _ = _weighted_moments(item, mu_i, x, n_items)
            info_i = np.bincount(item, weights=mu_i * (x - xbar_i[item]) ** 2, minlength=n_items)
        self.dispersion_ = phi
        self.prior_sd_ = float(np.sqrt(tau2))
        se_i = 1 / np.sqrt(info_i / phi + 1 / tau2)
        cat_eps = np.where(n_own > 0, eps_c, pooled)
        cat_se = pooled_se
        self.items_ = pd.DataFrame(
            {
                "item": d.item_ids,
                "category": d.cat_ids[d.item_cat],
                "elasticity": np.where(own, eps_i, cat_eps[d.item_cat]),
                "std_error": np.where(own, se_i, cat_se[d.item_cat]),
                "observations": np.bincount(item, minlength=n_items).astype(np.int64),
                "price_changes": d.changes,
                "pooled": ~own,
            }
        )
        self.categories_ = pd.DataFrame(
            {
                "category": d.cat_ids,
                "elasticity": cat_eps,
                "std_error": cat_se,
                "observations": np.bincount(row_cat, minlength=n_cats).astype(np.int64),
                "items": np.bincount(d.item_cat, minlength=n_cats).astype(np.int64),
                "items_own": n_own.astype(np.int64),
            }
        )
        return self
