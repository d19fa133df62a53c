"""Response models of the audiences, experiments and campaigns JSON routes.

As in `page_models`, they declare what the pages and scripts read: routes answer with
`response_model_exclude_unset=True` and the models allow extra keys, so a payload goes out
exactly as the pipeline or page built it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- audiences ------------------------------------------------------------------------------------
class AudienceList(_Open):
    audiences: Any = Field(
        description="Saved audiences: name, rule, description, times, latest size and size history."
    )


class AudiencesRefreshed(_Open):
    now: Any = Field(None, description="The time the rules were evaluated at (UTC, ISO 8601).")
    sizes: Any = Field(None, description="Size of each saved audience.")
    errors: Any = Field(None, description="Audiences whose rule no longer runs, with why.")


# -- experiments ----------------------------------------------------------------------------------
class ExperimentInfo(_Open):
    key: str
    status: Any = Field(None, description="`running` or `stopped`.")
    created_at: Any = None
    stopped_at: Any = None
    exposed: Any = Field(None, description="Exposed users per variant.")


class ExperimentList(_Open):
    experiments: Any


class PowerPlan(_Open):
    effect_size: Any = None
    users_per_variant: Any = None
    power: Any = None
    alpha: Any = None
    mde: Any = None


class ExperimentTimeline(_Open):
    experiment: str
    metric: str
    points: Any = Field(description="Cumulative lift per day with its sequential band.")


class ExperimentResults(_Open):
    experiment: str
    srm_p: Any = Field(None, description="p-value of the sample-ratio check.")
    results: Any = Field(None, description="Each metric and variant against control.")


class ExperimentDetail(_Open):
    experiment: Any = None
    results: Any = None
    timeline: Any = None
    message: Any = None
    recommender_arms: Any = Field(
        None,
        description="A recommender experiment's variants: `variant`, `recommender`, the arm's live `state`, "
        "`version`, `trained_at`, `serving`, `attempts`, `last_error`, `next_retry_at`, and what served its "
        "impressions (`impressions`, `users`, `served_versions`); null for other experiments.",
    )


# -- campaigns ------------------------------------------------------------------------------------
class CampaignSent(_Open):
    campaign: str
    audience: Any = None
    holdout: Any = None
    sent: Any = None
    skipped: Any = Field(None, description="Messages not sent, by reason.")


class CampaignList(_Open):
    campaigns: Any = Field(description="Each campaign with its counts and measured increment.")
    templates: Any = None


class MessagePreview(_Open):
    template: Any = None
    user_id: Any = None
    subject: Any = None
    html: Any = None
    text: Any = None
