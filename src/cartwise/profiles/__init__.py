"""Customer profiles, RFM scores and segments, behavioural clusters, rule-based segments and audiences.

The names are imported on first use (PEP 562): parsing a rule (journeys, audiences) needs
neither Ibis nor pandas, so the commands that only read or check rules start quickly.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cartwise.profiles._audience_parse import (
        MAX_RULE_CHARS,
        parse_rule,
    )
    from cartwise.profiles._audience_sql import (
        CompiledRule,
        compile_rule,
        naive_utc,
        population_sql,
    )
    from cartwise.profiles._build import (
        build_profiles,
        profile_expression,
    )
    from cartwise.profiles._clusters import (
        Clustering,
        cluster_customers,
    )
    from cartwise.profiles._fields import HORIZON_WEEKS, MONEY_FIELDS
    from cartwise.profiles._rfm import (
        RFM_SEGMENTS,
        add_rfm,
        quintile_scores,
        rfm_segment,
    )
    from cartwise.profiles._rules import (
        rule_filter,
    )
    from cartwise.profiles._segments import (
        NO_PROFILES,
        SEGMENT_RULE_MAX_CHARS,
        check_segment_rule,
        list_segments,
        segment_count,
    )

_MODULES = {
    "_audience_parse": lambda: import_module("cartwise.profiles._audience_parse"),
    "_audience_sql": lambda: import_module("cartwise.profiles._audience_sql"),
    "_build": lambda: import_module("cartwise.profiles._build"),
    "_fields": lambda: import_module("cartwise.profiles._fields"),
    "_clusters": lambda: import_module("cartwise.profiles._clusters"),
    "_rfm": lambda: import_module("cartwise.profiles._rfm"),
    "_rules": lambda: import_module("cartwise.profiles._rules"),
    "_segments": lambda: import_module("cartwise.profiles._segments"),
}
"""Each submodule and how to load it."""

_MODULE_OF = {
    "MAX_RULE_CHARS": "_audience_parse",
    "parse_rule": "_audience_parse",
    "CompiledRule": "_audience_sql",
    "compile_rule": "_audience_sql",
    "naive_utc": "_audience_sql",
    "population_sql": "_audience_sql",
    "HORIZON_WEEKS": "_fields",
    "MONEY_FIELDS": "_fields",
    "build_profiles": "_build",
    "profile_expression": "_build",
    "Clustering": "_clusters",
    "cluster_customers": "_clusters",
    "RFM_SEGMENTS": "_rfm",
    "add_rfm": "_rfm",
    "quintile_scores": "_rfm",
    "rfm_segment": "_rfm",
    "rule_filter": "_rules",
    "NO_PROFILES": "_segments",
    "SEGMENT_RULE_MAX_CHARS": "_segments",
    "check_segment_rule": "_segments",
    "list_segments": "_segments",
    "segment_count": "_segments",
}
"""Which submodule defines each public name."""


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_MODULES[module](), name)
    globals()[name] = value  # later lookups skip this function
    return value


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
