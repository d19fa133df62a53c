"""The choices and defaults the pipelines accept, importable without the pipelines themselves.

The CLI lists these in its `--help` texts; importing a pipeline module (scikit-learn,
LightGBM, statsforecast, Ibis) is left to the command that runs it.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from cartwise.ingest.kinds import FORMATS, KINDS
from cartwise.simulate import defaults as shop_defaults

if TYPE_CHECKING:
    from cartwise.simulate import ShopConfig

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")
"""Query engines of the analytics pipelines (`spark` runs PySpark in local mode)."""

Target = Literal["churn", "purchase"]
TARGETS: tuple[str, ...] = ("churn", "purchase")
"""Outcomes the churn pipeline models: no order in the horizon, or at least one."""

ClvModelChoice = Literal["bgnbd", "pareto", "auto"]
CLV_MODEL_CHOICES: tuple[str, ...] = ("bgnbd", "pareto", "auto")
"""Purchase models of the lifetime-value pipeline; `auto` picks one on a holdout."""


def shop_config(
    *,
    seed: int | None = None,
    users: int | None = None,
    items: int | None = None,
    days: int | None = None,
    start: date | None = None,
    **more: Any,
) -> ShopConfig:
    """The demo shop's configuration, with the defaults for the values left None; a
    `ConfigError` names any value out of range. Imports the config model, not the simulator."""
    from cartwise.simulate import make_config

    return make_config(seed=seed, users=users, items=items, days=days, start=start, **more)


__all__ = [
    "CLV_MODEL_CHOICES",
    "ENGINES",
    "FORMATS",
    "KINDS",
    "TARGETS",
    "ClvModelChoice",
    "Engine",
    "Target",
    "shop_config",
    "shop_defaults",
]
