"""Response models of the audiences, experiments and campaigns JSON routes.

As in `page_models`, they declare what the pages and scripts read: routes answer with
`response_model_exclude_unset=True` and the models allow extra keys, so a payload goes out
exactly as the pipeline or page built it (a key it leaves out stays out; fields default to None
only to say they may be absent; `Number` keeps an integer an integer). Times are ISO 8601 UTC:
`datetime` where the service hands a time over, `str` where the page already wrote it out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cartwise.api.page_models import Number


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- audiences ------------------------------------------------------------------------------------
class AudienceSize(_Open):
    """One count of a saved audience, in its size history."""

    computed_at: str | None = Field(None, description="When it was counted (ISO 8601 UTC).")
    now: str | None = Field(None, description="The time the rule was evaluated at (ISO 8601 UTC).")
    size: int | None = Field(None, description="Customers matching.")
    reason: str | None = Field(None, description="What counted it: `save`, `count` or `refresh`.")


class SavedAudience(_Open):
    name: str
    rule: str | None = None
    description: str | None = None
    created_at: str | None = Field(None, description="ISO 8601 UTC.")
    updated_at: str | None = Field(None, description="ISO 8601 UTC.")
    size: int | None = Field(None, description="The latest size; null before the first count.")
    history: list[AudienceSize] | None = Field(None, description="Latest sizes, oldest first.")


class AudienceList(_Open):
    audiences: list[SavedAudience] = Field(
        description="Saved audiences: name, rule, description, times, latest size and size history."
    )


class AudiencesRefreshed(_Open):
    now: str | None = Field(None, description="The time the rules were evaluated at (UTC, ISO 8601).")
    sizes: dict[str, int] | None = Field(None, description="Size of each saved audience.")
    errors: dict[str, str] | None = Field(None, description="Audiences whose rule no longer runs, with why.")


# -- experiments ----------------------------------------------------------------------------------
class VariantInfo(_Open):
    name: str
    weight: Number | None = Field(None, description="Share of the experiment's units, in (0, 1].")
    value: str | None = Field(None, description="What the variant means to the caller, e.g. `als`.")


class ExperimentInfo(_Open):
    key: str
    variants: list[VariantInfo] | None = Field(None, description="The arms; the first is the control.")
    salt: str | None = None
    layer: str | None = None
    layer_start: Number | None = None
    layer_end: Number | None = None
    audience: str | None = Field(None, description="Segment rule of who may enter.")
    description: str | None = None
    status: str | None = Field(None, description="`running` or `stopped`.")
    created_at: datetime | None = Field(None, description="UTC.")
    stopped_at: datetime | None = Field(None, description="UTC; null while running.")
    exposed: dict[str, int] | None = Field(None, description="Exposed users per variant.")


class ExperimentList(_Open):
    experiments: list[ExperimentInfo]


class PowerPlan(_Open):
    effect_size: Number | None = Field(None, description="Standardised effect (Cohen's h or d).")
    users_per_variant: int | None = None
    power: Number | None = None
    alpha: Number | None = None
    mde: Number | None = Field(None, description="Relative lift to detect (0.05 = +5%).")


class LiftPoint(_Open):
    ts: datetime = Field(description="The time the data stood at (UTC).")
    variant: str
    users: int | None = Field(None, description="Users in the variant and the control at that time.")
    lift: Number | None = Field(None, description="Relative lift against the control (0.05 = +5%).")
    lift_ci: list[Number | None] | None = Field(
        None, description="Always-valid (sequential) interval of the lift; null with too few users."
    )


class LiftPointText(_Open):
    """A `LiftPoint` as the Experiments page writes it: `ts` already ISO 8601 text."""

    ts: str = Field(description="The time the data stood at (ISO 8601 UTC).")
    variant: str
    users: int | None = Field(None, description="Users in the variant and the control at that time.")
    lift: Number | None = Field(None, description="Relative lift against the control (0.05 = +5%).")
    lift_ci: list[Number | None] | None = Field(
        None, description="Always-valid (sequential) interval of the lift; null with too few users."
    )


class ExperimentTimeline(_Open):
    experiment: str
    metric: str
    points: list[LiftPoint] = Field(description="Cumulative lift per day with its sequential band.")


class MetricResult(_Open):
    """One metric of one variant against the control; lifts are fractions (0.05 = +5%)."""

    metric: str
    variant: str
    users: int | None = None
    mean: Number | None = None
    control_users: int | None = None
    control_mean: Number | None = None
    lift: Number | None = None
    lift_ci: list[Number | None] | None = None
    p_value: Number | None = None
    chance_to_win: Number | None = None
    risk: Number | None = None
    abs_lift: Number | None = None
    abs_lift_ci: list[Number | None] | None = None
    abs_p_value: Number | None = None
    p_value_raw: Number | None = Field(None, description="Before the multiple-testing correction.")
    cuped_theta: Number | None = None
    note: str | None = Field(None, description="Why fields are null, when they are.")


class AnalysisMethod(_Open):
    """How the analysis was run (the options given and the defaults taken)."""

    alpha: Number | None = None
    cuped: bool | None = None
    sequential: bool | None = None
    sequential_tuning: Number | None = None
    correction: str | None = Field(None, description="`holm`, `bh` or null.")
    min_users: int | None = None
    prior: list[Number] | None = None
    metrics_without_events: list[str] | None = Field(
        None, description="Metrics left out because no user has an event for them yet."
    )


class ExperimentResults(_Open):
    experiment: str
    control: str | None = None
    variants: list[str] | None = None
    users: list[int] | None = Field(None, description="Exposed users per variant.")
    weights: list[Number] | None = None
    srm_p: Number | None = Field(None, description="p-value of the sample-ratio check.")
    results: list[MetricResult] | None = Field(None, description="Each metric and variant against control.")
    method: AnalysisMethod | None = None
    srm_warning: bool | None = Field(None, description="True when the traffic split is broken.")


class RecommenderArm(_Open):
    """A recommender experiment's variant: its recommender, the arm's live status on the
    recommendation server, and what served its impressions."""

    variant: str
    recommender: str | None = None
    state: str | None = Field(
        None, description="`loading`, `ready`, `failed` (retrying), `not started` or `stopped`."
    )
    version: str | None = Field(None, description="Version of the model serving the arm.")
    trained_at: str | None = Field(None, description="When that model was fitted (ISO 8601 UTC).")
    serving: bool | None = Field(None, description="True for the arm the serving model is.")
    attempts: int | None = Field(None, description="Consecutive failed fits.")
    last_error: str | None = None
    next_retry_at: str | None = Field(None, description="ISO 8601 UTC.")
    impressions: int | None = None
    users: int | None = None
    served_versions: list[str | None] | None = Field(
        None, description="Model versions that served its impressions."
    )


class ExperimentDetail(_Open):
    experiment: ExperimentInfo | None = None
    results: ExperimentResults | None = None
    timeline: list[LiftPointText] | None = None
    message: str | None = Field(None, description="Why there are no results; null when there are.")
    recommender_arms: list[RecommenderArm] | None = Field(
        None, description="A recommender experiment's variants; null for other experiments."
    )


# -- campaigns ------------------------------------------------------------------------------------
class CampaignSent(_Open):
    campaign: str
    audience: int | None = Field(None, description="Customers matching the rule.")
    holdout: int | None = Field(None, description="Of them, held out (sent nothing, measured).")
    sent: int | None = None
    skipped: dict[str, int] | None = Field(None, description="Messages not sent, by reason.")
    failed: dict[str, int] | None = Field(None, description="Messages whose channel refused them, by state.")
    pending: int | None = Field(None, description="Messages still due (quiet hours, a crash).")
    held: int | None = None


class Increment(_Open):
    """Recipients against the holdout: the increment and its 95% interval (null below 2 per arm)."""

    estimate: Number | None = None
    low: Number | None = None
    high: Number | None = None
    per_recipient: Number | None = None


class CampaignTruth(_Open):
    """The simulator's known effect of the demo's past campaign."""

    mean_uplift: Number | None = None
    incremental_conversions: Number | None = None


class CampaignResult(CampaignSent):
    started_at: str | None = Field(None, description="ISO 8601 UTC.")
    finished_at: str | None = Field(None, description="ISO 8601 UTC; null while it runs.")
    rule: str | None = None
    template: str | None = None
    channel: str | None = None
    holdout_share: Number | None = None
    attribution_days: Number | None = None
    opens: int | None = None
    clicks: int | None = None
    unsubscribes: int | None = None
    conversions: int | None = None
    revenue: Number | None = None
    conversion_rate: Number | None = None
    holdout_conversion_rate: Number | None = None
    incremental_conversions: Increment | None = None
    incremental_revenue: Increment | None = None
    truth: CampaignTruth | None = Field(None, description="Only for the demo's simulated campaign.")


class JourneyTrigger(_Open):
    kind: str = Field(description="`event`, `audience` or `date`.")
    value: str | None = Field(None, description="The event type, audience name or date kind.")
    where: str | None = Field(None, description="A rule the customer must match to enter.")


class JourneyOverview(_Open):
    """A journey's newest version with its runs and its steps' counts."""

    journey: str
    version: int | None = None
    active: bool | None = None
    trigger: JourneyTrigger | None = None
    exit_on: list[str] | None = Field(None, description="Event types that end a run.")
    runs: dict[str, int] | None = Field(None, description="Runs by state.")
    entered: int | None = None
    definition: str | None = Field(None, description="The journey file.")
    attribution_days: Number | None = None
    steps: list[dict[str, Any]] | None = Field(
        None,
        description=(
            "A tree of step nodes: `path`, `kind`, `line`, the step's options, `counts`, `outcomes`, "
            "`branches` of sub-steps, `measured` for a send and `variants` for a split."
        ),
    )


class CampaignList(_Open):
    campaigns: list[CampaignResult] = Field(
        description="Each campaign with its counts and measured increment."
    )
    journeys: list[JourneyOverview] | None = None
    templates: list[str] | None = None


class MessagePreview(_Open):
    template: str | None = None
    user_id: str | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None
