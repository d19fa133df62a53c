"""The demo shop simulator, with its ground truth.

`simulate_shop(ShopConfig(...))` returns Arrow tables in the canonical schema plus `truth_*`
tables holding every latent quantity (purchase rates, drop-out, elasticities, substitutes and
complements, seasonality, stock-outs, promotions), so models can be tested against known answers.

Names are imported on first use (PEP 562), so that `cartwise.simulate.defaults` (the
defaults `cartwise demo --help` shows) costs no pydantic, NumPy or Arrow import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from cartwise.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from cartwise.simulate._config import ShopConfig, make_config
    from cartwise.simulate._shop import SimulatedShop, arrow_schema, simulate_shop


_MODULES = {
    "_config": lambda: import_module("cartwise.simulate._config"),
    "_shop": lambda: import_module("cartwise.simulate._shop"),
}
_MODULE_OF = {
    "ShopConfig": "_config",
    "make_config": "_config",
    "SimulatedShop": "_shop",
    "arrow_schema": "_shop",
    "simulate_shop": "_shop",
}
__getattr__ = lazy_getattr(globals(), _MODULES, _MODULE_OF)

__all__ = ["ShopConfig", "SimulatedShop", "arrow_schema", "make_config", "simulate_shop"]
