"""Response models of the Customers, Forecasts and Inventory JSON routes.

They describe, in the OpenAPI document, what the dashboard pages read. The payloads are built
by `cartwise.pages` as plain dictionaries; these models only declare them. Routes answer with
`response_model_exclude_unset=True` and the models allow extra keys, so a payload goes out
exactly as the page built it: a key the page leaves out stays out (fields default to None
only to say they may be absent), a column added to a table appears without a schema change,
and numbers keep their JSON type (`Number` is an int or a float, never converted).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Number = int | float
"""A JSON number as the page computed it: an integer stays an integer, a float a float."""


class _Open(BaseModel):
    """A payload object: the declared keys plus any the page adds."""

    model_config = ConfigDict(extra="allow")


class _Readiness(_Open):
    ready: bool = Field(description="False until the tables behind the view are built.")
    message: str | None = Field(None, description="Why the view is empty or partial; null when ready.")


# -- customers --------------------------------------------------------------------------------------
class CustomerRow(_Open):
    """A customer in a listing: the profile's listed columns (`LIST_COLUMNS`)."""

    user_id: str
    country: str | None = None
    orders: Number | None = None
    revenue: Number | None = None
    avg_order_value: Number | None = None
    last_order_at: str | None = Field(None, description="ISO 8601 UTC.")
    days_since_last_order: Number | None = None
    recency_score: Number | None = None
    frequency_score: Number | None = None
    monetary_score: Number | None = None
    rfm_segment: str | None = None
    p_alive: Number | None = None
    clv_12m: Number | None = None


class CustomerList(_Readiness):
    q: str
    segment: str | None
    sort: str
    limit: int
    offset: int
    total: int = Field(description="Customers matching, over all pages: buyers and visitors.")
    buyers: int = Field(0, description="Of `total`, customers with one order or more.")
    visitors: int = Field(0, description="Of `total`, customers without an order (visitors).")
    customers: list[CustomerRow]


class RfmScores(_Open):
    recency_score: Number | None = None
    frequency_score: Number | None = None
    monetary_score: Number | None = None
    segment: str | None = None


class Predictions(_Open):
    p_alive: Number | None = None
    expected_purchases_12m: Number | None = None
    clv_12m: Number | None = None
    horizon_weeks: int | None = None
    model_version: str | None = None
    scored_at: str | None = None


class ChurnScores(_Open):
    p_churn: Number | None = None
    p_purchase: Number | None = None
    horizon_days: Number | None = None
    as_of: str | None = None
    model_version: str | None = None
    scored_at: str | None = None


class ClusterRef(_Open):
    cluster: int | None = None
    description: str | None = None


class SegmentRef(_Open):
    name: str
    rule: str | None = None
    description: str | None = None


class OrderRow(_Open):
    order_id: str | None = None
    ts: str | None = None
    amount: Number | None = None
    lines: Number | None = None
    units: Number | None = None


class TimelineEvent(_Open):
    ts: str | None = None
    type: str | None = None
    item_id: str | None = None
    title: str | None = None
    category: str | None = None
    quantity: Number | None = None
    price: Number | None = None
    revenue: Number | None = None
    order_id: str | None = None
    session_id: str | None = None


class LinkedIdentity(_Open):
    alias_id: str = Field(description="An id linked to the customer (anonymous id, alias, merged customer).")
    evidence: str = Field(description="`identify`, `email` or `alias`.")
    first_seen: str | None = None


class MergeRow(_Open):
    merged_at: str | None = None
    from_id: str
    into_id: str
    evidence: str
    outcome: str = Field(description="`merged` or `refused`.")
    reason: str | None = None


class CustomerDetail(_Open):
    """Customer 360."""

    user_id: str
    profile: dict[str, Any] = Field(description="Every column of the customer's profile row.")
    rfm: RfmScores
    predictions: Predictions
    churn: ChurnScores | None = None
    cluster: ClusterRef | None = None
    segments: list[SegmentRef]
    orders: list[OrderRow] = Field(description="Latest orders, newest first.")
    events: list[TimelineEvent] = Field(description="Latest events, newest first.")
    events_total: int
    identities: list[LinkedIdentity] = Field(default=[], description="Ids linked to this customer.")
    merges: list[MergeRow] = Field(
        default=[], description="Merges tried with the customer's ids, oldest first."
    )


class RfmCell(_Open):
    recency_score: int
    frequency_score: int
    customers: int
    revenue: Number
    segment: str


class RfmSegment(_Open):
    segment: str
    recency_scores: list[int]
    frequency_scores: list[int]
    customers: int
    share: Number
    revenue: Number
    revenue_share: Number
    avg_revenue: Number | None = None
    avg_clv_12m: Number | None = None
    avg_p_alive: Number | None = None
    avg_days_since_last_order: Number | None = None


class RfmTotals(_Open):
    customers: int
    buyers: int
    without_orders: int
    revenue: Number


class RfmGrid(_Readiness):
    as_of: str | None = None
    cells: list[RfmCell]
    segments: list[RfmSegment]
    totals: RfmTotals | None


class Cluster(_Open):
    cluster: int
    size: int
    share: Number | None = None
    revenue: Number | None = None
    description: str | None = None
    avg_orders: Number | None = None
    avg_revenue: Number | None = None
    avg_order_value: Number | None = None
    avg_days_since_last_order: Number | None = None
    avg_clv_12m: Number | None = None
    avg_p_alive: Number | None = None
    features_z: dict[str, Number | None] = Field(
        default_factory=dict, description="Mean of each clustering feature in standard deviations."
    )


class Clusters(_Readiness):
    clusters: list[Cluster]


class SizeAt(_Open):
    computed_at: str | None
    size: int


class SavedSegment(_Open):
    name: str
    rule: str
    description: str | None = None
    created_at: str | None = None
    size: int
    revenue: Number | None = None
    history: list[SizeAt]


class SavedSegments(_Open):
    segments: list[SavedSegment]
    profiles_ready: bool


class ValueSummary(_Open):
    customers: Number | None = None
    total: Number | None = None
    mean: Number | None = None
    median: Number | None = None
    p90: Number | None = None
    p99: Number | None = None
    expected_purchases: Number | None = None
    avg_p_alive: Number | None = None


class HistogramBar(_Open):
    lower: Number
    upper: Number | None = Field(description="Null for the last, open-ended bar.")
    customers: int


class TopCustomer(_Open):
    user_id: str
    clv_12m: Number | None = None
    expected_purchases_12m: Number | None = None
    p_alive: Number | None = None
    orders: Number | None = None
    revenue: Number | None = None
    rfm_segment: str | None = None
    country: str | None = None


class CalibrationGroup(_Open):
    frequency: int
    label: str
    customers: int
    actual: Number
    predicted: Number


class Calibration(_Open):
    """BG/NBD fitted before a calibration end and checked on the holdout after it."""

    calibration_start: str
    calibration_end: str
    holdout_end: str
    holdout_days: Number | None = None
    holdout_weeks: Number | None = None
    customers: int
    params: dict[str, Any]
    penalizer: Number | None = None
    groups: list[CalibrationGroup]
    total_actual: Number
    total_predicted: Number
    mean_absolute_error: Number


class LifetimeValue(_Readiness):
    as_of: str | None = None
    horizon_weeks: int | None = None
    summary: ValueSummary | None
    histogram: list[HistogramBar]
    top_customers: list[TopCustomer]
    calibration: Calibration | None
    calibration_message: str | None = Field(description="Why the calibration check is missing.")


# -- forecasts and inventory --------------------------------------------------------------------------
class SeriesRow(_Open):
    level: str
    id: str
    measure: str
    title: str | None = None
    category: str | None = None
    model: str | None = None
    mase: Number | None = None
    smape: Number | None = None
    coverage_80: Number | None = None
    forecast_total: Number | None = None


class SeriesList(_Readiness):
    level: str
    measure: str
    q: str
    sort: str
    limit: int
    offset: int
    total: int
    series: list[SeriesRow]


class HistoryPoint(_Open):
    date: str
    value: Number | None = None
    complete: bool | None = None


class ForecastPoint(_Open):
    date: str
    forecast: Number | None = None
    lo_80: Number | None = None
    hi_80: Number | None = None
    lo_95: Number | None = None
    hi_95: Number | None = None


class ChosenModel(_Open):
    name: str
    mase: Number | None = None
    smape: Number | None = None
    coverage_80: Number | None = None


class Elasticity(_Open):
    elasticity: Number | None = None
    std_error: Number | None = None
    observations: Number | None = None
    pooled: bool | None = None


class ReorderLine(_Open):
    stock: Number | None = None
    lead_time_demand: Number | None = None
    safety_stock: Number | None = None
    reorder_point: Number | None = None
    order_quantity: Number | None = None
    days_of_cover: Number | None = Field(None, description="Null: beyond the forecast horizon.")
    stockout_risk: Number | None = None
    reorder: bool | None = None


class SeriesDetail(_Open):
    level: str
    id: str
    measure: str
    title: str | None = None
    category: str | None = None
    model: ChosenModel | None
    history: list[HistoryPoint]
    forecast: list[ForecastPoint]
    message: str | None
    elasticity: Elasticity | None
    reorder: ReorderLine | None


class ReorderItem(ReorderLine):
    item_id: str
    title: str | None = None
    category: str | None = None


class ReorderSummary(_Open):
    items: int
    to_order: int
    at_risk: int
    order_units: Number
    at_risk_threshold: Number


class ReorderList(_Readiness):
    only_reorder: bool
    sort: str
    limit: int
    offset: int
    summary: ReorderSummary | None
    total: int
    items: list[ReorderItem]


class ElasticityRow(Elasticity):
    id: str
    title: str | None = None
    category: str | None = None


class Elasticities(_Readiness):
    level: str
    limit: int
    total: int
    elasticities: list[ElasticityRow]


# -- the recommender's status ------------------------------------------------------------------------
class RetrainStatus(_Open):
    state: str = Field(description="queued, running, done or failed (idle before the first retrain).")
    since: str | None = None
    finished: str | None = None
    version: Number | str | None = None
    seconds: Number | None = None
    error: str | None = None


class RecommenderInfo(_Open):
    version: Number | str | None = None
    model: str | None = None
    loaded_at: str | None = None
    users: int
    items: int
    blocked_items: int
    batch_scored_users: int
    retrain: dict[str, Any] = Field(description="The last retrain's status (see `RetrainStatus`).")
    experiment_arms: dict[str, str] = Field(
        default_factory=dict,
        description="Each recommender of the running recommender experiment (the serving model's own too): `loading`, "
        "`ready <version>` or `failed: <why>`.",
    )
    experiment_arm_details: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Each recommender of the running recommender experiment: `state` (loading, ready, "
        "failed), the `version` and `trained_at` of the model serving it, `serving` (it is the serving "
        "model), consecutive failures (`attempts`), `last_error` (values masked), `failed_at` and "
        "`next_retry_at`.",
    )
    stats: dict[str, Any] = Field(description="Serving counters since start.")
    options: dict[str, Any] = Field(description="The serving options (`RecsOptions`).")


class DayCounts(_Open):
    day: str
    impressions: int
    requests: int


class OnlineMetrics(_Open):
    """Impressions and what they led to within the attribution window."""

    days: int
    attribution_hours: Number | None = None
    requests: int
    impressions: int
    clicks: int
    add_to_carts: int
    purchases: int
    revenue: Number
    ctr: Number | None = None
    add_to_cart_rate: Number | None = None
    conversion: Number | None = None
    revenue_per_mille: Number | None = None
    by_day: list[DayCounts]
