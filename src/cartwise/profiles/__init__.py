"""Customer profiles, RFM scores and segments, behavioural clusters and rule-based segments."""

from cartwise.profiles._build import build_profiles, profile_expression
from cartwise.profiles._clusters import Clustering, cluster_customers
from cartwise.profiles._rfm import RFM_SEGMENTS, add_rfm, quintile_scores, rfm_segment
from cartwise.profiles._rules import rule_filter

__all__ = [
    "RFM_SEGMENTS",
    "Clustering",
    "add_rfm",
    "build_profiles",
    "cluster_customers",
    "profile_expression",
    "quintile_scores",
    "rfm_segment",
    "rule_filter",
]
