"""Price elasticities on synthetic panels whose true elasticities are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartwise.core.errors import ConfigError, InputError, ModelError
from cartwise.forecast import ElasticityModel


def panel(elasticities: dict[str, float], categories: dict[str, str], seed: int = 0, days: int = 400,
          promo_days: int = 60, base: float = 20.0) -> pd.DataFrame:  # fmt: skip
    """Daily Poisson sales E[q] = base · s_t · (p / p0)^ε with a weekly and yearly cycle s_t and
    random promotion days at 10-30% off (the constant-elasticity model, as the demo shop simulates it)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    season = (1 + 0.3 * np.cos(2 * np.pi * t / 365)) * np.where(t % 7 >= 5, 1.3, 0.9)
    rows = []
    for item, eps in elasticities.items():
        list_price = float(rng.uniform(5, 50))
        price = np.full(days, list_price)
        on = rng.choice(days, size=promo_days, replace=False)
        price[on] *= 1 - rng.choice([0.1, 0.2, 0.3], size=promo_days)
        level = base * rng.lognormal(0, 0.5)
        units = rng.poisson(level * season * (price / list_price) ** eps)
        rows.append(
            pd.DataFrame(
                {"item": item, "category": categories[item], "period": t, "units": units, "price": price}
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_recovers_known_item_and_category_elasticities() -> None:
    truth = {f"a{i}": e for i, e in enumerate([-0.5, -1.0, -1.5, -2.0, -2.5, -3.0])}
    truth |= {f"b{i}": e for i, e in enumerate([-3.5, -3.0, -4.0, -3.5])}
    cats = {k: k[0] for k in truth}
    model = ElasticityModel().fit(panel(truth, cats))
    items = model.items_.set_index("item")
    est = items.loc[list(truth), "elasticity"].to_numpy()
    se = items.loc[list(truth), "std_error"].to_numpy()
    assert not items["pooled"].any()
    assert np.all(np.abs(est - np.array(list(truth.values()))) < 3 * se)
    assert np.corrcoef(est, list(truth.values()))[0, 1] > 0.95
    cats_fit = model.categories_.set_index("category")
    assert cats_fit.loc["a", "elasticity"] == pytest.approx(-1.75, abs=0.35)
    assert cats_fit.loc["b", "elasticity"] == pytest.approx(-3.5, abs=0.35)
    assert list(cats_fit["items"]) == [6, 4]


def test_seasonality_does_not_leak_into_the_elasticity() -> None:
    # Promotions only at the yearly peak: without period effects the peak's extra sales would
    # be credited to the discount.
    rng = np.random.default_rng(1)
    t = np.arange(365)
    season = 1 + 0.6 * np.cos(2 * np.pi * (t - 330) / 365)
    rows = []
    for k in range(8):
        price = np.full(365, 10.0)
        price[300 + 4 * k : 330 + 4 * k] = 8.0
        units = rng.poisson(15 * season * (price / 10) ** -1.5)
        rows.append(pd.DataFrame({"item": f"i{k}", "period": t, "units": units, "price": price}))
    model = ElasticityModel().fit(pd.concat(rows))
    pooled = model.categories_["elasticity"].iloc[0]
    assert pooled == pytest.approx(-1.5, abs=3 * model.categories_["std_error"].iloc[0])
    assert pooled == pytest.approx(-1.5, abs=0.3)


def test_items_with_too_few_price_changes_get_their_category_estimate() -> None:
    sales = panel({"a": -2.0, "b": -2.5, "c": -1.0}, {"a": "x", "b": "x", "c": "x"})
    steady = sales["item"] == "c"
    sales.loc[steady, "price"] = sales.loc[steady, "price"].max()  # c never changes price
    model = ElasticityModel(min_price_changes=3).fit(sales)
    items = model.items_.set_index("item")
    category = model.categories_.set_index("category").loc["x"]
    assert bool(items.loc["c", "pooled"]) and items.loc["c", "price_changes"] == 0
    assert items.loc["c", "elasticity"] == category["elasticity"]
    assert items.loc["c", "std_error"] == category["std_error"]
    assert not items.loc[["a", "b"], "pooled"].any()


def test_an_item_that_sold_nothing_on_promotion_gets_a_finite_estimate() -> None:
    sales = panel({"a": -2.0, "b": -2.0, "c": -2.0}, {"a": "x", "b": "x", "c": "x"}, base=3.0)
    promo = (sales["item"] == "c") & (sales["price"] < sales.groupby("item")["price"].transform("max"))
    sales.loc[promo, "units"] = 0
    model = ElasticityModel().fit(sales)
    items = model.items_.set_index("item")
    # The data alone would say +infinity (sales vanish when the price falls); the category prior
    # keeps it finite and its uncertainty visible.
    assert (
        np.isfinite(items.loc["c", "elasticity"])
        and items.loc["c", "elasticity"] > items.loc["a", "elasticity"]
    )
    assert items.loc["c", "std_error"] <= model.prior_sd_


def test_missing_units_or_prices_skip_the_period() -> None:
    sales = panel({"a": -2.0, "b": -1.0}, {"a": "x", "b": "x"})
    model = ElasticityModel().fit(sales)
    gaps = sales.copy()
    gaps.loc[gaps.index[::10], "units"] = np.nan
    gaps.loc[gaps.index[5::10], "price"] = np.nan
    fitted = ElasticityModel().fit(gaps).items_.set_index("item")
    assert fitted.loc["a", "observations"] == 400 - 80
    assert fitted.loc["a", "elasticity"] == pytest.approx(
        model.items_.set_index("item").loc["a", "elasticity"], abs=0.3
    )


def test_a_category_without_price_changes_has_no_estimate() -> None:
    sales = panel({"a": -2.0, "b": -1.0}, {"a": "x", "b": "y"})
    sales.loc[sales["item"] == "b", "price"] = 10.0
    model = ElasticityModel().fit(sales)
    cats = model.categories_.set_index("category")
    assert np.isnan(cats.loc["y", "elasticity"]) and np.isfinite(cats.loc["x", "elasticity"])
    assert np.isnan(model.items_.set_index("item").loc["b", "elasticity"])


def test_bad_input_names_the_problem() -> None:
    sales = panel({"a": -2.0}, {"a": "x"})
    with pytest.raises(InputError, match=r"lacks the columns \['price'\]"):
        ElasticityModel().fit(sales.drop(columns="price"))
    with pytest.raises(InputError, match="`units` has 1 negative"):
        ElasticityModel().fit(sales.assign(units=np.r_[-1, sales["units"].to_numpy()[1:]]))
    with pytest.raises(InputError, match="`price` has 400 values that are not positive"):
        ElasticityModel().fit(sales.assign(price=0.0))
    with pytest.raises(InputError, match="several rows for item 'a' in period 0"):
        ElasticityModel().fit(pd.concat([sales, sales.head(1)]))
    with pytest.raises(ModelError, match="No item has both"):
        ElasticityModel().fit(sales.assign(units=0))
    with pytest.raises(ConfigError, match=r"`prior_sd` must be positive.*received 0"):
        ElasticityModel(prior_sd=0).fit(sales)
    with pytest.raises(ConfigError, match=r"`min_price_changes`.*received 0"):
        ElasticityModel(min_price_changes=0).fit(sales)


def test_the_spread_of_elasticities_within_categories_is_estimated() -> None:
    rng = np.random.default_rng(7)
    spread = {f"i{k}": float(e) for k, e in enumerate(rng.normal(-2.0, 0.6, 30))}
    same = dict.fromkeys(spread, -2.0)
    cats = {k: "xy"[int(k[1:]) % 2] for k in spread}
    wide = ElasticityModel().fit(panel(spread, cats, seed=3))
    narrow = ElasticityModel().fit(panel(same, cats, seed=3))
    assert wide.prior_sd_ == pytest.approx(0.6, abs=0.2)
    assert narrow.prior_sd_ < 0.2
    # Where the items really differ, the estimates follow them; where they do not, they stay together.
    fitted = wide.items_.set_index("item").loc[list(spread), "elasticity"]
    assert np.corrcoef(fitted, list(spread.values()))[0, 1] > 0.9
    assert narrow.items_["elasticity"].std() < 0.1
    assert ElasticityModel(prior_sd=0.3).fit(panel(same, cats, seed=3)).prior_sd_ == 0.3
