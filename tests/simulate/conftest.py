"""A small simulated shop shared by the simulator tests (about a second to build)."""

from __future__ import annotations

import pandas as pd
import pytest

from cartwise.simulate import ShopConfig, SimulatedShop, simulate_shop

SMALL = ShopConfig(seed=7, users=2_000, items=200, days=120)


@pytest.fixture(scope="session")
def shop() -> SimulatedShop:
    return simulate_shop(SMALL)


@pytest.fixture(scope="session")
def events(shop: SimulatedShop) -> pd.DataFrame:
    return shop.events.to_pandas()


@pytest.fixture(scope="session")
def truth(shop: SimulatedShop) -> dict[str, pd.DataFrame]:
    return {name: table.to_pandas() for name, table in shop.truth.items()}
