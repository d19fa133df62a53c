"""Read-only shop analytics as Ibis expressions: KPIs, funnels, cohort retention, basket rules.

Every function takes the canonical events (an Ibis table or backend, so the same query runs
on DuckDB or Spark; Arrow tables and pandas frames are accepted too) and returns pandas
data frames or plain results. Definitions of every figure are in each function's docstring.
"""

from cartwise.analytics._basket import (
    BasketRules,
    SupportChoice,
    association_rules,
    basket_rules,
    frequent_itemsets,
    suggest_min_support,
)
from cartwise.analytics._facts import (
    event_facts,
    order_facts,
    refresh_rollup,
    reset_rollup,
    rollup_facts,
    rollup_lag,
    stored_facts,
    stored_orders,
    stored_timeline,
    with_orders,
)
from cartwise.analytics._funnel import FunnelResult, Step, funnel, parse_steps
from cartwise.analytics._kpis import EVENT_KPIS, KPIS, kpis
from cartwise.analytics._retention import retention

__all__ = [
    "EVENT_KPIS",
    "KPIS",
    "BasketRules",
    "FunnelResult",
    "Step",
    "SupportChoice",
    "association_rules",
    "basket_rules",
    "event_facts",
    "frequent_itemsets",
    "funnel",
    "kpis",
    "order_facts",
    "parse_steps",
    "refresh_rollup",
    "reset_rollup",
    "retention",
    "rollup_facts",
    "rollup_lag",
    "stored_facts",
    "stored_orders",
    "stored_timeline",
    "suggest_min_support",
    "with_orders",
]
