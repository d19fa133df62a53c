"""Configuration of the demo shop simulator."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cartwise.core.errors import ConfigError
from cartwise.simulate import defaults


class ShopConfig(BaseModel):
    """Everything that shapes a simulated shop; the same config always gives the same shop.

    Time in the purchase process is measured in days. The population parameters follow the
    BG/NBD model (Fader, Hardie and Lee, 2005): a customer's purchase rate is
    `lambda ~ Gamma(shape=r, rate=alpha)` per day and the drop-out probability after each
    repeat purchase is `p ~ Beta(a, b)`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(
        default=defaults.SEED,
        ge=0,
        description="Random seed; the same seed and config give identical tables.",
    )
    users: int = Field(
        default=defaults.USERS,
        ge=10,
        le=2_000_000,
        description="Number of customers (each buys at least once).",
    )
    items: int = Field(default=defaults.ITEMS, ge=20, le=200_000, description="Number of catalogue items.")
    days: int = Field(
        default=defaults.DAYS, ge=7, le=3_650, description="Length of the simulated period in days."
    )
    start: date = Field(
        default=defaults.START, description="First day of the simulated period (events are UTC)."
    )

    r: float = Field(
        default=0.9, gt=0, description="BG/NBD shape r of the Gamma distribution of purchase rates."
    )
    alpha: float = Field(
        default=45.0,
        gt=0,
        description="BG/NBD rate alpha (days) of the Gamma distribution of purchase rates.",
    )
    a: float = Field(default=1.6, gt=0, description="BG/NBD Beta parameter a of the drop-out probability.")
    b: float = Field(default=5.0, gt=0, description="BG/NBD Beta parameter b of the drop-out probability.")
    dropout_at_first_purchase: bool = Field(
        default=False,
        description="Let a customer drop out right after her first purchase too (the MBG/NBD story of "
        "Batislam et al. 2007), not only after repeat purchases (BG/NBD).",
    )

    sessions_per_purchase: float = Field(
        default=7.0,
        ge=0,
        description="Non-buying sessions a live customer has per purchase occasion (browse and abandoned carts).",
    )
    anonymous_share: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="Share of non-buying sessions made by anonymous visitors (ids starting `v`).",
    )
    cart_abandon_share: float = Field(
        default=0.22,
        ge=0,
        le=1,
        description="Share of a customer's non-buying sessions that add to cart and leave.",
    )
    checkout_abandon_share: float = Field(
        default=0.07,
        ge=0,
        le=1,
        description="Share of a customer's non-buying sessions that begin checkout and leave.",
    )
    search_probability: float = Field(
        default=0.35, ge=0, le=1, description="Probability that a session starts with a search."
    )
    weekly_profile: tuple[float, float, float, float, float, float, float] = Field(
        default=(1.0, 0.95, 0.9, 0.95, 0.9, 1.05, 1.25),
        description="Relative traffic Monday..Sunday; rescaled so the daily multiplier averages 1.",
    )
    yearly_amplitude: float = Field(
        default=0.25,
        ge=0,
        lt=1,
        description="Amplitude of the yearly cosine wave of traffic (0.25 means +-25%).",
    )
    yearly_peak_day: int = Field(
        default=330, ge=1, le=366, description="Day of the year when yearly traffic peaks."
    )
    promotions_per_item_year: float = Field(
        default=1.0, ge=0, description="Average number of price promotions per item per 365 days."
    )
    elasticity_mean: float = Field(
        default=-2.0, le=0, description="Mean price elasticity of demand of an item."
    )
    elasticity_sd: float = Field(
        default=0.5, ge=0, description="Standard deviation of item elasticities across items."
    )
    rebuy_probability: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Probability that a purchase occasion re-buys the customer's first consumable item.",
    )
    complement_probability: float = Field(
        default=0.3, ge=0, le=1, description="Probability that a basket adds a complement of its first item."
    )
    stock_cover_days: float = Field(
        default=30.0, gt=0, description="Days of (estimated) demand that one replenishment order covers."
    )
    campaign_days_before_end: int | None = Field(
        default=None,
        ge=1,
        description="Days before the end when a past randomised e-mail campaign was sent (none when unset); "
        "its known effect per customer is in `truth_campaign`.",
    )
    campaign_holdout: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="Share of the past campaign's audience held out (sent nothing). Half by default: "
        "a campaign meant to teach targeting holds out as many as it sends, so the held-out arm "
        "(what customers do without the message) is learnt as well as the sent one; with 20% held "
        "out, targeting by predicted uplift was barely ahead of targeting by purchase propensity "
        "(see BENCHMARKS.md).",
    )
    campaign_window_days: int = Field(
        default=10,
        ge=1,
        le=60,
        description="Days after the past campaign's send in which it can change purchases and in "
        "which its effect is measured. 10 by default: over a longer window more of the frequent "
        "buyers would have bought anyway, so targeting by purchase propensity and by uplift part "
        "ways more (see BENCHMARKS.md).",
    )

    @field_validator("weekly_profile")
    @classmethod
    def _positive_profile(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if min(value) <= 0:
            raise ValueError("every weekday needs a positive weight")
        return value

    @model_validator(mode="after")
    def _shares_fit(self) -> ShopConfig:
        if self.cart_abandon_share + self.checkout_abandon_share > 1:
            raise ValueError("cart_abandon_share + checkout_abandon_share must be at most 1")
        before_end = self.campaign_days_before_end
        if before_end is not None and not self.campaign_window_days <= before_end < self.days:
            raise ValueError(
                "campaign_days_before_end must be at least campaign_window_days and less than days"
            )
        return self


def make_config(**values: Any) -> ShopConfig:
    """A `ShopConfig` from keyword values (None values take the default), or a `ConfigError` saying what to fix."""
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return ShopConfig(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in err['loc'])}` got {err.get('input')!r}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"Invalid demo shop settings: {problems}. Change the value (see `cartwise demo --help`)."
        ) from exc
