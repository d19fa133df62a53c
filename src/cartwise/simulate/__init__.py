"""The demo shop simulator, with its ground truth.

`simulate_shop(ShopConfig(...))` returns Arrow tables in the canonical schema plus `truth_*`
tables holding every latent quantity (purchase rates, drop-out, elasticities, substitutes and
complements, seasonality, stock-outs, promotions), so models can be tested against known answers.

Names are imported on first use (PEP 562), so that `cartwise.simulate.defaults` (the
defaults `cartwise demo --help` shows) costs no pydantic, NumPy or Arrow import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cartwise.simulate._config import ShopConfig, make_config
    from cartwise.simulate._shop import SimulatedShop, arrow_schema, simulate_shop


def __getattr__(name: str) -> Any:
    if name in {"ShopConfig", "make_config"}:
        from cartwise.simulate import _config

        return getattr(_config, name)
    if name in {"SimulatedShop", "arrow_schema", "simulate_shop"}:
        from cartwise.simulate import _shop

        return getattr(_shop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ShopConfig", "SimulatedShop", "arrow_schema", "make_config", "simulate_shop"]
