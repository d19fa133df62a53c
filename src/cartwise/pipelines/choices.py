"""The choices and defaults the pipelines accept, importable without the pipelines themselves.

The CLI lists these in its `--help` texts; importing a pipeline module (scikit-learn,
LightGBM, statsforecast, Ibis) is left to the command that runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from cartwise.ingest.kinds import FORMATS, KINDS, MESSAGE_MENTIONS
from cartwise.simulate import defaults as shop_defaults

if TYPE_CHECKING:
    from cartwise.simulate import ShopConfig

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")
"""Query engines of the analytics pipelines (`spark` runs PySpark in local mode)."""

Target = Literal["churn", "purchase"]
TARGETS: tuple[str, ...] = ("churn", "purchase")
"""Outcomes the churn pipeline models: no order in the horizon, or at least one."""

ClvModelChoice = Literal["bgnbd", "mbgnbd", "pareto", "auto"]
CLV_MODEL_CHOICES: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto", "auto")
"""Purchase models of the lifetime-value pipeline; `auto` picks one on a holdout."""


PAST_CAMPAIGN = "demo-past-campaign"
"""The name `cartwise demo` records the simulator's past randomised e-mail campaign under."""

# The demo shop's past randomised e-mail campaign went out five weeks before its last day, so
# its 10-day window and the weeks after it are in the history the Campaigns page measures.
PAST_CAMPAIGN_DAYS_BEFORE_END = 35


def demo_config(**values: Any) -> ShopConfig:
    """The demo's `ShopConfig`: the given values (None takes the default) plus a past campaign
    when the period is long enough to hold one (see `cartwise.simulate`'s `truth_campaign`).

    A `ConfigError` names any value out of range. Imports the config model, not the simulator.
    """
    from cartwise.simulate import make_config

    config = make_config(**values)
    if config.campaign_days_before_end is None and config.days > PAST_CAMPAIGN_DAYS_BEFORE_END:
        config = config.model_copy(update={"campaign_days_before_end": PAST_CAMPAIGN_DAYS_BEFORE_END})
    return config


__all__ = [
    "CLV_MODEL_CHOICES",
    "ENGINES",
    "FORMATS",
    "KINDS",
    "MESSAGE_MENTIONS",
    "PAST_CAMPAIGN",
    "PAST_CAMPAIGN_DAYS_BEFORE_END",
    "TARGETS",
    "ClvModelChoice",
    "Engine",
    "Target",
    "demo_config",
    "shop_defaults",
]
