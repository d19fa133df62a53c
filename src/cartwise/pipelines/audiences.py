"""Audiences: saved rules over profiles, predictions and behaviour, with live counts, size history and export.

`audience_members(store, rule_or_name, now)` is the entry point other parts (campaigns) use:
the sorted user ids matching a saved audience (by name) or a rule, at `now`. Each count,
refresh, save or export of a saved audience appends a row to `audience_sizes`.
The rule language is described in `cartwise.profiles._audience_parse` and the README.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from typing import Any, TextIO

from cartwise.core.errors import InputError, NotFoundError, RuleError
from cartwise.profiles import MAX_RULE_CHARS, CompiledRule, compile_rule, naive_utc, population_sql
from cartwise.store import Store

MAX_NAME_CHARS = 80
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
"""Audience names: letters, digits, `-`, `_` and `.`, so a name never reads as a rule and fits a URL."""
__all__ = [
    "MAX_RULE_CHARS",
    "audience_members",
    "count_audience",
    "delete_audience",
    "export_audience",
    "list_audiences",
    "refresh_audiences",
    "resolve",
    "save_audience",
]
EXPORT_FIELDS = ("orders", "revenue", "rfm_segment", "p_alive", "p_churn", "clv_12m")
"""Profile fields every export carries (those the store has), after `user_id` and `email`."""


def _wall_clock() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _saved_rule(store: Store, name: str) -> str | None:
    rows = store.con.execute("SELECT rule FROM audiences WHERE name = ?", [name]).fetchall()
    return str(rows[0][0]) if rows else None


def resolve(store: Store, rule_or_name: str) -> tuple[str | None, str]:
    """(name, rule) of a saved audience called `rule_or_name`, else (None, rule_or_name)."""
    if any("\ud800" <= ch <= "\udfff" for ch in rule_or_name):
        return None, rule_or_name  # not text DuckDB can look up; the rule's parser says where
    rule = _saved_rule(store, rule_or_name)
    if rule is not None:
        return rule_or_name, rule
    return None, rule_or_name


def _compile(store: Store, rule_or_name: str, now: datetime | None) -> tuple[str | None, CompiledRule]:
    name, rule = resolve(store, rule_or_name)
    try:
        return name, compile_rule(store, rule, now)
    except RuleError:
        if re.fullmatch(NAME_PATTERN, rule_or_name.strip()):
            names = [r[0] for r in store.con.execute("SELECT name FROM audiences ORDER BY name").fetchall()]
            known = ", ".join(names) if names else "none saved yet"
            raise NotFoundError(
                f"No audience named {rule_or_name!r} (saved: {known}); give a saved name or a rule such as "
                "`did(purchase, within=30d)`."
            ) from None
        raise


def _record(store: Store, name: str, now: datetime, size: int, reason: str) -> None:
    store.con.execute(
        "INSERT INTO audience_sizes VALUES (?, ?, ?, ?, ?)", [name, _wall_clock(), now, size, reason]
    )


def audience_members(store: Store, rule_or_name: str, now: datetime | None = None) -> list[str]:
    """Sorted user ids of the saved audience `rule_or_name`, or of customers matching that rule, at
    `now` (default: the current UTC time). RuleError with the column when the rule is bad."""
    _, compiled = _compile(store, rule_or_name, now)
    rows = store.con.execute(f"SELECT user_id FROM ({compiled.sql}) ORDER BY user_id", list(compiled.params))
    return [r[0] for r in rows.fetchall()]


def _population(store: Store, now: datetime) -> int:
    sql, params = population_sql(store, now)
    return int(store.con.execute(f"SELECT count(*) FROM ({sql})", params).fetchall()[0][0])


def count_audience(
    store: Store, rule_or_name: str, now: datetime | None = None, *, total: bool = True
) -> dict[str, Any]:
    """The live count: customers matching at `now`, and (with `total`) out of how many known
    customers (`share` = size / total). A saved audience's count is appended to its size history."""
    name, compiled = _compile(store, rule_or_name, now)
    size = int(
        store.con.execute(f"SELECT count(*) FROM ({compiled.sql})", list(compiled.params)).fetchall()[0][0]
    )
    known = _population(store, compiled.now) if total else None
    if name is not None:
        _record(store, name, compiled.now, size, "count")
    return {
        "audience": name,
        "rule": compiled.rule,
        "now": compiled.now,
        "size": size,
        "total": known,
        "share": (size / known if known else 0.0) if total else None,
    }


def _check_name(name: str) -> str:
    clean = name.strip()
    if not clean:
        raise InputError("`name` is empty; give the audience a name such as `cart-abandoners`.")
    if len(clean) > MAX_NAME_CHARS:
        raise InputError(f"`name` has {len(clean)} characters; keep it under {MAX_NAME_CHARS}.")
    if not re.fullmatch(NAME_PATTERN, clean):
        raise InputError(
            f"`name` {clean!r} has other characters than letters, digits, -, _ and . "
            "(or starts with one of the last three); write it as, e.g., `cart-abandoners`."
        )
    return clean


def save_audience(
    store: Store, name: str, rule: str, description: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Save (or replace) audience `name`; the rule is checked and counted at once."""
    clean = _check_name(name)
    compiled = compile_rule(store, rule, now)
    size = int(
        store.con.execute(f"SELECT count(*) FROM ({compiled.sql})", list(compiled.params)).fetchall()[0][0]
    )
    stamp = _wall_clock()
    with store.transaction():
        old = store.con.execute("SELECT created_at FROM audiences WHERE name = ?", [clean]).fetchall()
        store.con.execute("DELETE FROM audiences WHERE name = ?", [clean])
        store.con.execute(
            "INSERT INTO audiences VALUES (?, ?, ?, ?, ?)",
            [clean, rule, description, old[0][0] if old else stamp, stamp],
        )
        _record(store, clean, compiled.now, size, "save")
    return {"name": clean, "rule": rule, "description": description, "size": size, "replaced": bool(old)}


def list_audiences(store: Store, history: int = 30) -> list[dict[str, Any]]:
    """Saved audiences with their latest size and up to `history` latest sizes, oldest first."""
    rows = store.con.execute(
        """SELECT a.name, a.rule, a.description, a.created_at, a.updated_at,
                  (SELECT list({'computed_at': h.computed_at, 'now': h."now", 'size': h.size, 'reason': h.reason}
                          ORDER BY h.computed_at DESC)
                     FROM audience_sizes h WHERE h.audience = a.name)
           FROM audiences a ORDER BY a.name"""
    ).fetchall()
    out = []
    for name, rule, description, created, updated, sizes in rows:
        latest = list(sizes or [])[:history]
        out.append(
            {
                "name": name,
                "rule": rule,
                "description": description,
                "created_at": created,
                "updated_at": updated,
                "size": latest[0]["size"] if latest else None,
                "history": latest[::-1],
            }
        )
    return out


def delete_audience(store: Store, name: str) -> None:
    """Remove a saved audience and its size history."""
    if _saved_rule(store, name) is None:
        raise NotFoundError(f"No audience named {name!r}; `cartwise audiences list` shows them.")
    with store.transaction():
        store.con.execute("DELETE FROM audiences WHERE name = ?", [name])
        store.con.execute("DELETE FROM audience_sizes WHERE audience = ?", [name])


def refresh_audiences(store: Store, now: datetime | None = None) -> dict[str, Any]:
    """Count every saved audience at `now` and append each size to its history. An audience whose
    rule no longer fits the store (a profile field gone) is skipped and reported under `errors`."""
    when = naive_utc(now)
    sizes: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, rule in store.con.execute("SELECT name, rule FROM audiences ORDER BY name").fetchall():
        try:
            compiled = compile_rule(store, rule, when)
        except RuleError as exc:
            errors[name] = str(exc)
            continue
        size = int(
            store.con.execute(f"SELECT count(*) FROM ({compiled.sql})", list(compiled.params)).fetchall()[0][
                0
            ]
        )
        _record(store, name, when, size, "refresh")
        sizes[name] = size
    return {"now": when, "sizes": sizes, "errors": errors}


def export_audience(
    store: Store, rule_or_name: str, out: TextIO, now: datetime | None = None
) -> dict[str, Any]:
    """Write the members as CSV to `out`: `user_id`, `email` (from users), then the profile fields
    of EXPORT_FIELDS the store has and the fields the rule reads; one row per member, sorted by id."""
    name, compiled = _compile(store, rule_or_name, now)
    profile_columns: list[str] = []
    if store.has_table("profiles"):
        present = {r[0] for r in store.con.execute("DESCRIBE profiles").fetchall()}
        for column in (*EXPORT_FIELDS, *compiled.fields):
            if column in present and column not in profile_columns and column not in ("user_id", "email"):
                profile_columns.append(column)
    selected = "".join(', p."' + c.replace('"', '""') + '"' for c in profile_columns)
    join = " LEFT JOIN profiles p ON p.user_id = m.user_id" if profile_columns else ""
    cursor = store.con.execute(
        f"""SELECT m.user_id, u.email{selected}
            FROM ({compiled.sql}) m
            LEFT JOIN (SELECT user_id, any_value(email) AS email FROM users GROUP BY user_id) u ON u.user_id = m.user_id{join}
            ORDER BY m.user_id""",
        list(compiled.params),
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["user_id", "email", *profile_columns])
    rows = 0
    while batch := cursor.fetchmany(10_000):
        writer.writerows(("" if v is None else v for v in row) for row in batch)
        rows += len(batch)
    if name is not None:
        _record(store, name, compiled.now, rows, "export")
    return {
        "audience": name,
        "rule": compiled.rule,
        "now": compiled.now,
        "rows": rows,
        "columns": ["user_id", "email", *profile_columns],
    }
