"""The demo shop simulator, with its ground truth.

`simulate_shop(ShopConfig(...))` returns Arrow tables in the canonical schema plus `truth_*`
tables holding every latent quantity (purchase rates, drop-out, elasticities, substitutes and
complements, seasonality, stock-outs, promotions), so models can be tested against known answers.
"""

from cartwise.simulate._config import ShopConfig, make_config
from cartwise.simulate._shop import SimulatedShop, arrow_schema, simulate_shop

__all__ = ["ShopConfig", "SimulatedShop", "arrow_schema", "make_config", "simulate_shop"]
