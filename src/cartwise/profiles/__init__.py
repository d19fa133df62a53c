"""Customer profiles, RFM scores and segments, behavioural clusters, rule-based segments and audiences."""

from cartwise.profiles._audience_parse import MAX_RULE_CHARS, parse_rule
from cartwise.profiles._audience_sql import CompiledRule, compile_rule, naive_utc, population_sql
from cartwise.profiles._build import HORIZON_WEEKS, MONEY_FIELDS, build_profiles, profile_expression
from cartwise.profiles._clusters import Clustering, cluster_customers
from cartwise.profiles._rfm import RFM_SEGMENTS, add_rfm, quintile_scores, rfm_segment
from cartwise.profiles._rules import rule_filter
from cartwise.profiles._segments import (
    NO_PROFILES,
    SEGMENT_RULE_MAX_CHARS,
    check_segment_rule,
    list_segments,
    segment_count,
)

__all__ = [
    "HORIZON_WEEKS",
    "MAX_RULE_CHARS",
    "MONEY_FIELDS",
    "NO_PROFILES",
    "RFM_SEGMENTS",
    "SEGMENT_RULE_MAX_CHARS",
    "Clustering",
    "CompiledRule",
    "add_rfm",
    "build_profiles",
    "check_segment_rule",
    "cluster_customers",
    "compile_rule",
    "list_segments",
    "naive_utc",
    "parse_rule",
    "population_sql",
    "profile_expression",
    "quintile_scores",
    "rfm_segment",
    "rule_filter",
    "segment_count",
]
