"""BG/NBD, Pareto/NBD and Gamma-Gamma against published CDNOW figures, simulated truth and
an independent numerical integration of the Pareto/NBD likelihood."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import gammaln

from cartwise.core.errors import InputError, ModelError
from cartwise.predict import (
    BGNBD,
    MBGNBD,
    RUNAWAY_PENALIZER,
    GammaGamma,
    ParetoNBD,
    customer_lifetime_value,
    fit_bgnbd,
)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "cdnow_sample_summary.csv", dtype={"customer_id": str})


@pytest.fixture(scope="module")
def bgnbd(cdnow: pd.DataFrame) -> BGNBD:
    return BGNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def gamma_gamma(cdnow: pd.DataFrame) -> GammaGamma:
    repeat = cdnow[cdnow["frequency"] > 0]
    return GammaGamma().fit(repeat["frequency"], repeat["monetary_value"])


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, T: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) from the BG/NBD story: Poisson purchases at rate lambda ~ Gamma(r, alpha)
    from time 0, and after each repeat purchase drop-out with probability p ~ Beta(a, b)."""
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    t = np.zeros(n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        i = np.flatnonzero(alive)
        t[i] += rng.exponential(1 / lam[i])
        past = t[i] > T[i]
        alive[i[past]] = False
        j = i[~past]
        x[j] += 1
        t_x[j] = t[j]
        alive[j[rng.random(j.size) < p[j]]] = False
    return x, t_x, T


# --- published CDNOW figures (Fader, Hardie and Lee 2005) ---------------------------------


def test_bgnbd_reproduces_published_cdnow_parameters(bgnbd: BGNBD) -> None:
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert {k: sig3(v) for k, v in bgnbd.params_.items()} == {k: sig3(v) for k, v in published.items()}
    assert bgnbd.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)


def test_bgnbd_reproduces_published_expectation_for_customer_one(bgnbd: BGNBD) -> None:
    # FHL 2005: the customer with x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in 39 weeks.
    assert sig3(bgnbd.conditional_expected_purchases(39, [2], [30.43], [38.86])[0]) == 1.23
    assert bgnbd.conditional_expected_purchases(39, [2], [30.43], [38.86])[0] == pytest.approx(
        1.226, abs=5e-4
    )


def test_gamma_gamma_reproduces_published_cdnow_parameters(gamma_gamma: GammaGamma) -> None:
    assert gamma_gamma.n_customers_ == 946
    published = {"p": 6.25, "q": 3.74, "v": 15.44}
    assert {k: sig3(v) for k, v in gamma_gamma.params_.items()} == {k: sig3(v) for k, v in published.items()}


def test_pareto_nbd_reproduces_published_cdnow_parameters(cdnow: pd.DataFrame) -> None:
    # Fader and Hardie, "A note on implementing the Pareto/NBD model in MATLAB" (2005).
    model = ParetoNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    published = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}
    assert {k: sig3(v) for k, v in model.params_.items()} == {k: sig3(v) for k, v in published.items()}
    assert model.log_likelihood_ == pytest.approx(-9594.98, abs=0.05)


@pytest.mark.parametrize("model_class", [BGNBD, ParetoNBD])
def test_standard_errors_match_a_function_value_hessian(
    cdnow: pd.DataFrame, model_class: type[BGNBD] | type[ParetoNBD]
) -> None:
    """The inverse Hessian of the total log-likelihood, by second differences on the natural scale."""
    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    fitted = model_class().fit(x, t_x, T)
    theta = np.array(list(fitted.params_.values()))

    def nll(p: np.ndarray) -> float:
        model = model_class()
        model.params_ = dict(zip(fitted.params_, p, strict=True))
        return -float(model.log_likelihood(x, t_x, T).sum())

    h = theta * 1e-4
    hess = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            ei, ej = np.eye(4)[i] * h[i], np.eye(4)[j] * h[j]
            hess[i, j] = (
                nll(theta + ei + ej) - nll(theta + ei - ej) - nll(theta - ei + ej) + nll(theta - ei - ej)
            ) / (4 * h[i] * h[j])
    expected = np.sqrt(np.diag(np.linalg.inv(hess)))
    np.testing.assert_allclose(list(fitted.standard_errors_.values()), expected, rtol=1e-3)


def test_mbgnbd_reproduces_published_cdnow_parameters_and_lifetimes_predictions() -> None:
    # Batislam, Denizel and Filiztekin (2007) on CDNOW, as in lifetimes' test of its
    # ModifiedBetaGeoFitter; predictions are lifetimes 0.11.3's at its fitted parameters.
    frame = pd.read_csv(FIXTURES / "cdnow_sample_summary.csv", dtype={"customer_id": str})
    model = MBGNBD().fit(frame["frequency"], frame["recency"], frame["T"])
    published = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    assert {k: round(v, 3) for k, v in model.params_.items()} == published
    assert model.log_likelihood_ == pytest.approx(-9582.14, abs=0.05)
    x, t_x, T = np.array(
        [[0, 0, 38.86], [2, 30.43, 38.86], [7, 35.0, 38.86], [1, 1.71, 38.86], [0, 0, 32.0]]
    ).T
    np.testing.assert_allclose(
        model.p_alive(x, t_x, T), [0.38971519, 0.7061257, 0.83121066, 0.1708201, 0.41052599], rtol=2e-6
    )
    np.testing.assert_allclose(
        model.conditional_expected_purchases(39, x, t_x, T),
        [0.15395428, 1.26266922, 4.22761616, 0.18878993, 0.18736305],
        rtol=2e-6,
    )
    np.testing.assert_allclose(model.expected_purchases([39, 78]), [1.18227985, 1.80363052], rtol=2e-6)
    # BG/NBD keeps every one of the 1,411 one-time buyers alive; MBG/NBD puts them at 0.39-0.43.
    alive = model.p_alive(frame["frequency"], frame["recency"], frame["T"])[frame["frequency"] == 0]
    assert len(alive) == 1411 and alive.min() > 0.38 and alive.max() < 0.43


def test_mbgnbd_recovers_simulated_parameters_and_its_p_alive_is_calibrated() -> None:
    rng = np.random.default_rng(20261207)
    truth = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    n = 20_000
    T = rng.uniform(20, 60, n)
    lam = rng.gamma(0.5, 1 / 4.0, n)
    p = rng.beta(0.8, 2.5, n)
    # The MBG/NBD story, tracking who is alive at T.
    alive = rng.random(n) >= p
    t, x, t_x = np.zeros(n), np.zeros(n), np.zeros(n)
    active = alive.copy()
    while active.any():
        i = np.flatnonzero(active)
        t[i] += rng.exponential(1 / lam[i])
        past = t[i] > T[i]
        active[i[past]] = False
        j = i[~past]
        x[j] += 1
        t_x[j] = t[j]
        drop = j[rng.random(j.size) < p[j]]
        active[drop] = False
        alive[drop] = False
    model = MBGNBD().fit(x, t_x, T)
    for name, true in truth.items():
        estimate, se = model.params_[name], model.standard_errors_[name]
        assert abs(estimate - true) < 3 * se, (name, estimate, se)
    # Within each decile of P(alive), the share truly alive matches the mean P(alive).
    predicted = model.p_alive(x, t_x, T)
    deciles = pd.qcut(predicted, 10, labels=False, duplicates="drop")
    table = pd.DataFrame({"p": predicted, "alive": alive, "d": deciles}).groupby("d").mean()
    assert np.all(np.abs(table["p"] - table["alive"]) < 0.05), table


# --- simulated ground truth ---------------------------------------------------------------


def test_bgnbd_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(20261123)
    truth = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    n = 20_000
    x, t_x, T = simulate_bgnbd(n, 0.5, 4.0, 0.8, 2.5, rng.uniform(20, 60, n), rng)
    model = BGNBD().fit(x, t_x, T)
    for name, true in truth.items():
        estimate, se = model.params_[name], model.standard_errors_[name]
        assert abs(estimate - true) < 3 * se, (name, estimate, se)
        assert estimate == pytest.approx(true, rel=0.15)
    # The model's P(alive) and forecasts are probabilities and counts.
    alive = model.p_alive(x, t_x, T)
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[x == 0] == 1)


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(7)
    p, q, v = 6.0, 4.0, 15.0
    n = 5_000
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(q, 1 / v, n)
    # Mean of x Gamma(p, nu) values is Gamma(p x, nu x).
    m = rng.gamma(p * x, 1 / (nu * x))
    model = GammaGamma().fit(x, m)
    for name, true in {"p": p, "q": q, "v": v}.items():
        assert abs(model.params_[name] - true) < 3 * model.standard_errors_[name], name


# --- Pareto/NBD against numerical integration of its individual-level story ---------------


@pytest.mark.parametrize(
    "params",
    [(0.55, 10.6, 0.61, 11.7), (2.0, 5.0, 1.5, 8.0), (1.5, 9.0, 2.5, 3.0)],
    ids=["cdnow", "a<b", "a>b"],
)
def test_pareto_likelihood_and_p_alive_match_numerical_integration(params: tuple[float, ...]) -> None:
    """Integrate the individual-level story directly instead of using the 2F1 closed form.

    Alive at T: lambda^x e^-(lambda+mu)T. Died at tau in (t_x, T]: lambda^x e^-lambda tau mu e^-mu tau.
    Integrating lambda ~ Gamma(r, alpha) and mu ~ Gamma(s, beta) out under the integral over tau
    leaves one numerical integral.
    """
    r, alpha, s, beta = params
    rows = [(0.0, 0.0, 20.0), (3.0, 12.5, 30.0), (7.0, 29.0, 30.0), (40.0, 20.0, 38.0)]
    model = ParetoNBD()
    model.params_ = dict(zip(("r", "alpha", "s", "beta"), params, strict=True))
    x, t_x, T = (np.array(col) for col in zip(*rows, strict=True))
    ll = model.log_likelihood(x, t_x, T)
    alive = model.p_alive(x, t_x, T)
    for i, (xi, txi, ti) in enumerate(rows):
        log_head = gammaln(r + xi) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive_part = np.exp(-(r + xi) * np.log(alpha + ti) - s * np.log(beta + ti))

        def dead_density(tau: float, xi: float = xi) -> float:
            return s * np.exp(-(r + xi) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau))

        dead_part = integrate.quad(dead_density, txi, ti, epsabs=0, epsrel=1e-12)[0]
        assert ll[i] == pytest.approx(log_head + np.log(alive_part + dead_part), abs=1e-8)
        assert alive[i] == pytest.approx(alive_part / (alive_part + dead_part), rel=1e-8)


@pytest.mark.parametrize("params", [(0.55, 10.6, 0.61, 11.7), (2.0, 5.0, 1.5, 8.0)], ids=["cdnow", "other"])
def test_pareto_probability_of_purchase_matches_numerical_integration(params: tuple[float, ...]) -> None:
    """Alive at T, she buys first at u < t before dying: integrate lambda e^-lambda u e^-mu u over the
    posteriors Gamma(r+x, alpha+T) and Gamma(s, beta+T) with adaptive quadrature."""
    r, alpha, s, beta = params
    model = ParetoNBD()
    model.params_ = dict(zip(("r", "alpha", "s", "beta"), params, strict=True))
    rows = [(0.0, 0.0, 20.0, 13.0), (3.0, 12.5, 30.0, 52.0), (7.0, 29.0, 30.0, 4.0), (40.0, 37.0, 38.0, 52.0)]
    x, t_x, T, t = (np.array(col) for col in zip(*rows, strict=True))
    got = model.conditional_probability_of_purchase(t, x, t_x, T)
    alive = model.p_alive(x, t_x, T)
    for i, (xi, _, ti, hi) in enumerate(rows):

        def density(u: float, xi: float = xi, ti: float = ti) -> float:
            rx, at, bt = r + xi, alpha + ti, beta + ti
            return rx / at * (at / (at + u)) ** (rx + 1) * (bt / (bt + u)) ** s

        expected = alive[i] * integrate.quad(density, 0, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
        assert got[i] == pytest.approx(expected, rel=1e-7)


# --- predictions ------------------------------------------------------------------------


def test_predictions_behave_at_the_edges(bgnbd: BGNBD, cdnow: pd.DataFrame) -> None:
    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    assert np.all(bgnbd.conditional_expected_purchases(0, x, t_x, T) == pytest.approx(0, abs=1e-12))
    short = bgnbd.conditional_expected_purchases(10, x, t_x, T)
    long = bgnbd.conditional_expected_purchases(52, x, t_x, T)
    assert np.all(long > short)
    # A heavy buyer with a long, recent history: the transformed 2F1 stays finite.
    heavy = bgnbd.conditional_expected_purchases(52, [400], [99.0], [100.0])
    assert np.isfinite(heavy).all() and heavy[0] > 100
    # A new customer (x = 0, t_x = 0, T = 0) expects what the population model says.
    assert bgnbd.conditional_expected_purchases(39, [0], [0], [0])[0] == pytest.approx(
        bgnbd.expected_purchases(39)[0]
    )


def test_expected_average_value_formula(gamma_gamma: GammaGamma) -> None:
    p, q, v = gamma_gamma.params_.values()
    values = gamma_gamma.expected_average_value([0, 2, 1], [np.nan, 30.0, -5.0])
    population = p * v / (q - 1)
    assert values[0] == pytest.approx(population)
    assert values[1] == pytest.approx(p * (v + 2 * 30.0) / (2 * p + q - 1))
    assert values[2] == pytest.approx(population)  # a non-positive mean falls back to the population


def test_clv_equals_purchases_times_value_without_discounting(
    bgnbd: BGNBD, gamma_gamma: GammaGamma, cdnow: pd.DataFrame
) -> None:
    x, t_x, T, m = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T", "monetary_value"))
    undiscounted = customer_lifetime_value(bgnbd, gamma_gamma, x, t_x, T, m, horizon=52)
    expected = bgnbd.conditional_expected_purchases(52, x, t_x, T) * gamma_gamma.expected_average_value(x, m)
    np.testing.assert_allclose(undiscounted, expected, rtol=1e-10)
    discounted = customer_lifetime_value(bgnbd, gamma_gamma, x, t_x, T, m, horizon=52, discount_rate=0.01)
    assert np.all(discounted < undiscounted)
    # Every weekly step is discounted at least 1/1.01^52 and at most 1/1.01.
    assert np.all(discounted > undiscounted / 1.01**52)
    assert np.all(discounted < undiscounted / 1.01)


def test_pareto_conditional_expectation_of_a_new_customer(cdnow: pd.DataFrame) -> None:
    model = ParetoNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert model.conditional_expected_purchases(39, [0], [0], [0])[0] == pytest.approx(
        model.expected_purchases(39)[0]
    )


# --- bad input and non-convergence ------------------------------------------------------


def test_runaway_parameter_is_named() -> None:
    # Nobody ever buys again: the purchase rate runs away to zero (alpha to infinity).
    T = np.linspace(5, 50, 200)
    with pytest.raises(ModelError, match=r"parameter `(alpha|r)` ran away.*penalizer"):
        BGNBD().fit(np.zeros(200), np.zeros(200), T)
    with pytest.raises(ModelError, match=r"Pareto/NBD did not converge: parameter `\w+`"):
        ParetoNBD().fit(np.zeros(200), np.zeros(200), T)


def test_fit_bgnbd_adds_the_small_penalty_only_when_the_plain_fit_runs_away(cdnow: pd.DataFrame) -> None:
    x, t_x, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    model, penalizer, expected = fit_bgnbd(
        x, t_x, T, lambda m: m.conditional_expected_purchases(52, x, t_x, T)
    )
    assert penalizer == 0.0 and model.params_ == BGNBD().fit(x, t_x, T).params_
    np.testing.assert_array_equal(expected, model.conditional_expected_purchases(52, x, t_x, T))
    # Two months of history at most and rare drop-outs (b = 30): the likelihood keeps rising
    # as b grows, and the plain fit either stops with a ModelError or overflows predictions.
    rng = np.random.default_rng(0)
    x, t_x, T = simulate_bgnbd(300, 0.5, 4.0, 0.3, 30.0, rng.uniform(2, 8, 300), rng)
    model, penalizer, expected = fit_bgnbd(
        x, t_x, T, lambda m: m.conditional_expected_purchases(52, x, t_x, T)
    )
    assert penalizer == RUNAWAY_PENALIZER
    assert model.params_ == BGNBD(penalizer=RUNAWAY_PENALIZER).fit(x, t_x, T).params_
    # The predictions handed back are the penalised model's, and finite.
    np.testing.assert_array_equal(expected, model.conditional_expected_purchases(52, x, t_x, T))
    assert np.all(np.isfinite(expected))


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, 2], [1.0], [2.0, 3.0], "same length"),
        ([1.5], [1.0], [2.0], "whole number"),
        ([1], [3.0], [2.0], "between 0 and `T`"),
        ([0], [1.0], [2.0], "must be 0 for customers with `frequency` 0"),
        ([1], [np.nan], [2.0], "missing"),
        ([1], [1.0], [-2.0], "`T`"),
    ],
)
def test_bad_rfm_input_names_the_argument(frequency: list, recency: list, T: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        BGNBD().fit(frequency, recency, T)


def test_gamma_gamma_rejects_nonpositive_values_naming_rows() -> None:
    with pytest.raises(InputError, match=r"`monetary_value` must be > 0; 1 rows .*positions 1, e\.g\. -3\)"):
        GammaGamma().fit([1, 2, 3], [10.0, -3.0, 5.0])
    with pytest.raises(InputError, match="at least one repeat purchase"):
        GammaGamma().fit([0, 2, 3], [10.0, 3.0, 5.0])


def test_unfitted_model_says_to_fit_first() -> None:
    with pytest.raises(ModelError, match=r"not fitted yet; call \.fit"):
        BGNBD().p_alive([1], [1.0], [2.0])
