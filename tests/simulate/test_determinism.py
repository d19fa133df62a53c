"""The same config gives the same shop; another seed gives another shop."""

from __future__ import annotations

import pytest

from cartwise.core.errors import ConfigError
from cartwise.simulate import ShopConfig, make_config, simulate_shop

TINY = {"users": 300, "items": 40, "days": 30}


def test_same_seed_gives_identical_tables() -> None:
    first = simulate_shop(ShopConfig(seed=11, **TINY)).tables()
    second = simulate_shop(ShopConfig(seed=11, **TINY)).tables()
    assert first.keys() == second.keys()
    for name in first:
        assert first[name].equals(second[name]), name


def test_another_seed_gives_another_shop() -> None:
    first = simulate_shop(ShopConfig(seed=11, **TINY))
    second = simulate_shop(ShopConfig(seed=12, **TINY))
    assert not first.events.equals(second.events)
    assert first.items["title"].to_pylist() != second.items["title"].to_pylist()
    assert first.truth["truth_users"]["lambda_per_day"] != second.truth["truth_users"]["lambda_per_day"]


def test_size_options_scale_the_shop() -> None:
    shop = simulate_shop(ShopConfig(seed=1, users=150, items=25, days=10))
    assert shop.users.num_rows == 150
    assert shop.items.num_rows == 25
    assert shop.truth["truth_days"].num_rows == 10


def test_bad_setting_names_the_field_the_value_and_the_fix() -> None:
    with pytest.raises(ConfigError) as err:
        make_config(users=3)
    message = str(err.value)
    assert "`users`" in message and "3" in message and "cartwise demo --help" in message
    with pytest.raises(ConfigError, match="cart_abandon_share"):
        make_config(cart_abandon_share=0.8, checkout_abandon_share=0.5)


def test_config_round_trips_through_json() -> None:
    config = ShopConfig(seed=5, users=1234)
    assert ShopConfig.model_validate_json(config.model_dump_json()) == config
    assert all(field.description for field in ShopConfig.model_fields.values())


@pytest.mark.parametrize(
    "overrides",
    [
        {"promotions_per_item_year": 0},
        {"anonymous_share": 0, "sessions_per_purchase": 0},
        {"users": 10, "items": 20, "days": 7},
        {"elasticity_sd": 0, "elasticity_mean": 0, "yearly_amplitude": 0, "search_probability": 0},
        {
            "cart_abandon_share": 0,
            "checkout_abandon_share": 1,
            "rebuy_probability": 1,
            "complement_probability": 1,
        },
    ],
)
def test_extreme_settings_still_give_a_valid_shop(overrides: dict[str, float]) -> None:
    config = ShopConfig(**{**TINY, "seed": 2, **overrides})
    shop = simulate_shop(config)
    events = shop.events.to_pandas()
    assert events["event_id"].is_unique and len(events) > 0
    assert shop.users.num_rows == config.users
    buys = events[events["type"] == "purchase"]
    assert buys["order_id"].nunique() >= 0.9 * config.users  # everyone buys once, bar rare stock-outs
