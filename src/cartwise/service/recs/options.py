"""How recommendations are served: the `recs_options` setting."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cartwise.core.errors import InputError
from cartwise.core.settings import Settings


class RecsOptions(BaseModel):
    """How recommendations are served: the `recs_options` setting."""

    model_config = ConfigDict(extra="forbid")

    max_n: int = Field(default=100, ge=1, le=1000, description="Largest `n` a request may ask for.")
    overfetch: int = Field(
        default=5, ge=1, le=50, description="Candidates fetched per item served, before rules."
    )
    category_cap: int = Field(default=3, ge=1, description="Most items of one category in one list.")
    category_depth: int = Field(
        default=2, ge=1, description="Category levels (` > `-separated) that define a category for the cap."
    )
    consumable_categories: list[str] = Field(
        default_factory=list,
        description="Category path prefixes whose items may be recommended again after a purchase.",
    )
    tie_tolerance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Scores within this share of the candidates' range are shuffled.",
    )
    session_weight: float = Field(
        default=1.0, ge=0, description="Weight of live-session scores beside the model's."
    )
    fresh_weight: float = Field(
        default=0.5, ge=0, description="Weight of events since training beside the model's."
    )
    attribution_hours: float = Field(
        default=24.0, gt=0, description="Window after an impression in which the same user's actions count."
    )
    poll_seconds: float = Field(
        default=0.2, gt=0, description="How often new events are read for online updates."
    )
    catalogue_seconds: float = Field(
        default=30.0, gt=0, description="How often stock and the active flag are re-read from `items`."
    )
    flush_seconds: float = Field(
        default=0.25, gt=0, description="How often buffered impressions are written."
    )
    retrain_hours: float | None = Field(
        default=None, gt=0, description="Retrain the model this often while serving; none: on command only."
    )
    trending_half_life_days: float = Field(
        default=7.0, gt=0, description="Half-life of the recency weight of trending items, in days."
    )
    cache_k: int = Field(
        default=100,
        ge=10,
        le=1000,
        description="Candidates kept per known user by the background batch scoring.",
    )
    arm_retry_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Wait before retrying a recommender experiment arm whose fit failed; doubled after each "
        "consecutive failure.",
    )
    arm_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wait between retries of a failed experiment arm."
    )
    offline_models: list[str] = Field(
        default_factory=lambda: ["hybrid", "itemknn", "als", "session"],
        description="Models scored offline (beside the baselines) for the dashboard after each (re)train; empty: none.",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> RecsOptions:
        """The `recs_options` setting (cartwise.toml or the JSON in CARTWISE_RECS_OPTIONS)."""
        try:
            return cls.model_validate(settings.recs_options)
        except ValueError as exc:
            raise InputError(f"The recs_options setting is not valid: {exc}") from exc
