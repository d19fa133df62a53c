"""Reading saved segments: the live count of a rule and the saved list with its history.

Saving and deleting (which recompute members) are batch writes in `cartwise.pipelines.profiles`;
these reads serve the CLI, the pages and the service alike.
"""

from __future__ import annotations

from typing import Any

import duckdb

from cartwise.core.errors import CartwiseError, InputError, NotFoundError
from cartwise.profiles._rules import rule_filter
from cartwise.store import Store

SEGMENT_RULE_MAX_CHARS = 1000
"""Longest segment rule accepted, in characters."""
NO_PROFILES = "No profiles yet: run `cartwise profiles build` (or `cartwise train`) to score customers."


def check_segment_rule(rule: str) -> str:
    """`rule` unless it is longer than `SEGMENT_RULE_MAX_CHARS` (the limit of the API and the
    dashboard's builder) or holds a lone surrogate, else InputError."""
    if len(rule) > SEGMENT_RULE_MAX_CHARS:
        raise InputError(f"`rule` has {len(rule):,} characters; keep it under {SEGMENT_RULE_MAX_CHARS:,}.")
    lone = next((i for i, ch in enumerate(rule) if "\ud800" <= ch <= "\udfff"), None)
    if lone is not None:  # a JSON escape such as \ud800 decoded alone: no store can take it
        raise InputError(
            f"`rule` has a character that is not valid Unicode text at position {lone + 1} (a lone "
            "surrogate such as the JSON escape \\ud800); write the character itself.",
            parameter="rule",
        )
    return rule


def segment_count(store: Store, rule: str) -> int:
    """How many profiled customers match `rule` now (the builder's live count); NotFoundError
    before profiles are built, InputError naming the problem for a rule that does not fit them."""
    if not store.has_table("profiles"):
        raise NotFoundError(NO_PROFILES)
    from ibis.common.exceptions import IbisError  # Ibis loads here, not for `list_segments`

    profiles = store.ibis().table("profiles")
    try:
        return int(profiles.filter(rule_filter(profiles, rule)).count().execute())
    except CartwiseError:
        raise
    except (IbisError, TypeError, duckdb.ConversionException, duckdb.BinderException) as exc:
        # The parser accepts the shape; the types do not fit (a text compared with a number).
        first = str(exc).splitlines()[0]
        raise InputError(
            f"In rule {rule!r}: a field is compared with a value of another type ({first}); "
            'quote texts ("DE"), leave numbers bare (3) and use true/false for yes/no fields.'
        ) from None
    except RecursionError:
        raise InputError(f"`rule` is nested too deeply; simplify it ({len(rule)} characters).") from None


def list_segments(store: Store) -> list[dict[str, Any]]:
    """Saved segments with their current size and the size history."""
    rows = store.con.execute(
        """SELECT s.name, s.rule, s.description, s.created_at,
                  (SELECT count(*) FROM segment_members m WHERE m.segment = s.name),
                  (SELECT list({'computed_at': h.computed_at, 'size': h.size} ORDER BY h.computed_at)
                     FROM segment_history h WHERE h.segment = s.name)
           FROM segments s ORDER BY s.name"""
    ).fetchall()
    return [
        {"name": n, "rule": r, "description": d, "created_at": c, "size": size, "history": history or []}
        for n, r, d, c, size, history in rows
    ]
