"""Audience rules compiled to one parameterised DuckDB query over the store.

Who can be in an audience: every customer the store knows at `now`, i.e. every `user_id` of
the `profiles` table, of the `users` table, and of an event up to `now`. Profile fields of a
customer without a profile are missing, and a missing value never matches a comparison
(`p_alive < 0.3` is false for a customer without a score; `p_alive == null` finds them).

The population is listed only when the rule needs it: a rule that requires a profile field
(`p_alive < 0.3 and ...`) starts from the profiles, one that requires an event (`did(...) and
...`) from the customers with that event; only rules such as `not did(purchase, within=30d)`
list everyone.

Behaviour is read from `events` in the window `(now - within, now]` (all events up to `now`
without `within`); events after `now` are never seen, so an audience is reproducible for a
given `now`. Every value in a rule reaches DuckDB as a bound parameter; the only names pasted
into the SQL text are profile columns that were checked to exist, quoted as identifiers.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from cartwise.core.errors import NotFoundError, RuleError
from cartwise.profiles._audience_parse import Behaviour, BoolOp, Field, Node, Not, parse_rule
from cartwise.store import Store

STANDARD_EVENTS = (
    "view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "begin_checkout",
    "purchase",
    "refund",
)
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
    "DECIMAL",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
)
_SQL_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "<>"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def naive_utc(now: datetime | None) -> datetime:
    """`now` as a naive UTC time (the store's convention); the current time when None."""
    if now is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if now.tzinfo is not None:
        return now.astimezone(UTC).replace(tzinfo=None)
    return now


@dataclass(frozen=True)
class CompiledRule:
    """`sql` selects the distinct `user_id`s matching the rule; bind `params` in order."""

    rule: str
    now: datetime
    sql: str
    params: tuple[Any, ...]
    fields: tuple[str, ...]
    """Profile fields the rule reads."""


def _fail(rule: str, column: int, message: str) -> RuleError:
    pointer = " " * (column - 1) + "^"
    return RuleError(f"Rule at column {column}: {message}\n  {rule}\n  {pointer}", column=column)


class _Compiler:
    def __init__(self, store: Store, rule: str, now: datetime):
        self.store = store
        self.rule = rule
        self.now = now
        self.has_profiles = store.has_table("profiles")
        self.types: dict[str, str] = {}
        if self.has_profiles:
            self.types = {
                name: str(kind).upper()
                for name, kind, *_ in store.con.execute("DESCRIBE profiles").fetchall()
            }
        self.ctes: list[str] = []
        self.cte_params: list[Any] = []
        self.behaviours: dict[tuple[Any, ...], str] = {}
        self.fields: list[str] = []
        self._store_events: set[str] | None = None

    # -- fields ----------------------------------------------------------------------------------
    def field(self, node: Field) -> tuple[str, list[Any]]:
        if not self.has_profiles:
            raise _fail(
                self.rule,
                node.column,
                f"`{node.name}` is a profile field, and the store has no profiles yet; "
                "run `cartwise profiles build` first (or use only did(), count() and dropped()).",
            )
        if node.name not in self.types:
            fields = sorted(self.types)
            near = difflib.get_close_matches(node.name, fields, n=1)
            hint = f" Did you mean `{near[0]}`?" if near else ""
            if node.name == "uplift":
                hint = " Uplift appears once an uplift model has scored the customers."
            raise _fail(
                self.rule,
                node.column,
                f"`{node.name}` is not a profile field.{hint} Fields: {', '.join(fields)}.",
            )
        if node.name not in self.fields:
            self.fields.append(node.name)
        column = f"p.{_quote(node.name)}"
        kind = self.types[node.name]
        if node.op in ("in", "not in"):
            values = [self.checked(node, kind, v) for v in node.values]
            if any(v is None for v in values):
                raise _fail(
                    self.rule,
                    node.value_column,
                    f"null cannot be in a list; write `{node.name} == null` for customers without a value.",
                )
            marks = ", ".join("?" * len(values))
            negation = "NOT " if node.op == "not in" else ""
            return f"coalesce({column} {negation}IN ({marks}), false)", values
        value = self.checked(node, kind, node.values[0])
        if value is None:
            if node.op not in ("==", "!="):
                raise _fail(self.rule, node.value_column, "null can only be compared with == or !=.")
            return f"({column} IS {'' if node.op == '==' else 'NOT '}NULL)", []
        return f"coalesce({column} {_SQL_OPS[node.op]} ?, false)", [value]

    def checked(self, node: Field, kind: str, value: Any) -> Any:
        """`value` made comparable with the profile column of type `kind`, or RuleError."""
        if value is None:
            return None
        base = kind.split("(")[0]
        if base == "BOOLEAN":
            ok, expected = isinstance(value, bool), "true or false"
        elif base in _NUMERIC:
            ok, expected = isinstance(value, int | float) and not isinstance(value, bool), "a number"
        elif base.startswith("TIMESTAMP") or base == "DATE":
            expected = 'a date such as "2025-01-31"'
            ok = False
            if isinstance(value, str):
                try:
                    return pd.Timestamp(value).to_pydatetime()
                except ValueError:
                    pass
        elif base == "VARCHAR":
            ok, expected = isinstance(value, str), "a quoted text"
        else:
            raise _fail(
                self.rule, node.column, f"`{node.name}` holds {kind} values, which rules cannot compare."
            )
        if not ok:
            raise _fail(
                self.rule,
                node.value_column,
                f"`{node.name}` holds {expected}; {_show(value)} cannot be compared with it.",
            )
        return value

    # -- behaviour -------------------------------------------------------------------------------
    def check_event(self, name: str, column: int) -> None:
        if name in STANDARD_EVENTS:
            return
        if self._store_events is None:
            self._store_events = {
                r[0] for r in self.store.con.execute("SELECT DISTINCT type FROM events").fetchall()
            }
        if name in self._store_events:
            return
        known = sorted(set(STANDARD_EVENTS) | self._store_events)
        near = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean `{near[0]}`?" if near else ""
        raise _fail(
            self.rule,
            column,
            f"no event of type `{name}` is in the store, and it is not a standard type.{hint} "
            f"Types: {', '.join(known)}.",
        )

    def source(self, node: Behaviour, event: str, alias: str = "e") -> tuple[str, str, list[Any]]:
        """(FROM, WHERE, params) of `node`'s events of type `event` in its window."""
        joins = f"events {alias}"
        where = [f"{alias}.type = ?", f"{alias}.ts <= ?"]
        params: list[Any] = [event, self.now]
        if node.within is not None and self.now - datetime.min > timedelta(seconds=node.within):
            # (A window reaching before year 1 holds all history: no lower bound.)
            where.append(f"{alias}.ts > ?")
            params.append(self.now - timedelta(seconds=node.within))
        if node.item is not None:
            where.append(f"{alias}.item_id = ?")
            params.append(node.item)
        if node.category is not None:
            joins += f" JOIN items i_{alias} ON i_{alias}.item_id = {alias}.item_id"
            where.append(
                f"(lower(i_{alias}.category) = lower(?) OR starts_with(lower(i_{alias}.category), lower(?) || ' > '))"
            )
            params += [node.category, node.category]
        return joins, " AND ".join(where), params

    def cte(self, sql: str, params: list[Any]) -> str:
        name = f"b{len(self.ctes)}"
        self.ctes.append(f"{name} AS ({sql})")
        self.cte_params += params
        return name

    def behaviour(self, node: Behaviour) -> tuple[str, list[Any]]:
        for event, column in zip(node.events, node.event_columns, strict=True):
            self.check_event(event, column)
        kind = "dropped" if node.kind == "dropped" else "count"
        key = (kind, node.events, node.within, node.category, node.item)
        name = self.behaviours.get(key)
        if name is None:
            name = self.dropped(node) if kind == "dropped" else self.counted(node)
            self.behaviours[key] = name
        if node.kind == "did":
            return f"({name}.user_id IS NOT NULL)", []
        if node.kind == "dropped":
            return f"({name}.user_id IS NOT NULL)", []
        return f"(coalesce({name}.n, 0) {_SQL_OPS[node.op or '>=']} ?)", [node.number]

    def counted(self, node: Behaviour) -> str:
        joins, where, params = self.source(node, node.events[0])
        return self.cte(
            f"SELECT e.user_id, count(*) AS n FROM {joins} WHERE {where} GROUP BY e.user_id", params
        )

    def dropped(self, node: Behaviour) -> str:
        """Earliest time of each step taken in order (a step at or after the one before it), for
        every step but the last; then the customers with no last step at or after that time."""
        joins, where, params = self.source(node, node.events[0])
        previous = self.cte(
            f"SELECT e.user_id, min(e.ts) AS t FROM {joins} WHERE {where} GROUP BY e.user_id", params
        )
        for event in node.events[1:-1]:
            joins, where, params = self.source(node, event)
            previous = self.cte(
                f"SELECT e.user_id, min(e.ts) AS t FROM {joins} JOIN {previous} s ON s.user_id = e.user_id "
                f"WHERE {where} AND e.ts >= s.t GROUP BY e.user_id",
                params,
            )
        joins, where, params = self.source(node, node.events[-1])
        return self.cte(
            f"SELECT s.user_id FROM {previous} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {joins} WHERE {where} AND e.user_id = s.user_id AND e.ts >= s.t)",
            params,
        )

    # -- the tree --------------------------------------------------------------------------------
    def condition(self, node: Node) -> tuple[str, list[Any]]:
        if isinstance(node, BoolOp):
            parts = [self.condition(p) for p in node.parts]
            joiner = " AND " if node.op == "and" else " OR "
            return "(" + joiner.join(s for s, _ in parts) + ")", [v for _, ps in parts for v in ps]
        if isinstance(node, Not):
            sql, params = self.condition(node.part)
            return f"(NOT {sql})", params
        if isinstance(node, Field):
            return self.field(node)
        return self.behaviour(node)

    def key(self, node: Behaviour) -> tuple[Any, ...]:
        kind = "dropped" if node.kind == "dropped" else "count"
        return (kind, node.events, node.within, node.category, node.item)

    def compile(self) -> CompiledRule:
        root = parse_rule(self.rule)
        where, where_params = self.condition(root)
        parts = root.parts if isinstance(root, BoolOp) and root.op == "and" else (root,)
        joined = [c.split(" AS ")[0] for c in self.ctes if c.split(" AS ")[0] in self.behaviours.values()]
        if any(_needs_profile(p) for p in parts):
            # A condition false for customers without a profile: the profiles are the population.
            base, key = "profiles p", "p.user_id"
        else:
            required = next(
                (self.behaviours[self.key(p)] for p in parts if isinstance(p, Behaviour) and _needs_event(p)),
                None,
            )
            if required is not None:
                # Only customers with that behaviour can match, and having an event up to `now`
                # makes them known: no need to list everyone.
                population = f"SELECT user_id FROM {required}"
            else:
                population, params = population_sql(self.store, self.now)
                self.cte_params[:0] = params  # pop comes first in the WITH list
            if required is not None:
                self.ctes.append(f"pop AS ({population})")
            else:
                self.ctes.insert(0, f"pop AS ({population})")
            base, key = "pop", "pop.user_id"
            if self.fields:
                base += " LEFT JOIN profiles p ON p.user_id = pop.user_id"
        joins = "".join(f" LEFT JOIN {name} ON {name}.user_id = {key}" for name in joined)
        sql = f"WITH {', '.join(self.ctes)} SELECT {key} AS user_id FROM {base}{joins} WHERE {where}"
        if not self.ctes:
            sql = f"SELECT {key} AS user_id FROM {base}{joins} WHERE {where}"
        return CompiledRule(
            self.rule, self.now, sql, tuple(self.cte_params + where_params), tuple(self.fields)
        )


def population_sql(store: Store, now: datetime) -> tuple[str, list[Any]]:
    """SQL listing every customer known at `now` once: the profiles, the users table, and anyone
    with an event up to `now`. Profiles already hold everyone with an event up to their `as_of`,
    so only later events are read."""
    events = "SELECT user_id FROM events WHERE ts <= ?"
    params: list[Any] = [now]
    if not store.has_table("profiles"):
        return f"SELECT user_id FROM users WHERE user_id IS NOT NULL UNION {events}", params
    columns = {r[0] for r in store.con.execute("DESCRIBE profiles").fetchall()}
    as_of = (
        store.con.execute("SELECT max(as_of) FROM profiles").fetchall()[0][0] if "as_of" in columns else None
    )
    if as_of is not None:
        events += " AND ts > ?"
        params.append(as_of)
    return (
        f"SELECT user_id FROM profiles UNION SELECT user_id FROM users WHERE user_id IS NOT NULL UNION {events}",
        params,
    )


def _needs_profile(node: Node) -> bool:
    """Whether `node` is false for every customer without a profile (any comparison but `== null`)."""
    return isinstance(node, Field) and not (node.op == "==" and node.values[0] is None)


def _needs_event(node: Node) -> bool:
    """Whether `node` is false for every customer without such an event (a count of 0 fails it)."""
    if not isinstance(node, Behaviour):
        return False
    if node.kind != "count":
        return True
    number = node.number or 0.0
    zero_matches = {
        "<": number > 0,
        "<=": number >= 0,
        ">": number < 0,
        ">=": number <= 0,
        "==": number == 0,
        "!=": number != 0,
    }
    return not zero_matches[node.op or ">="]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    return repr(value)


def compile_rule(store: Store, rule: str, now: datetime | None = None) -> CompiledRule:
    """The parameterised query selecting the customers who match `rule` at `now` (default: the
    current UTC time); RuleError naming the column of the problem when it does not fit."""
    if not store.has_table("events"):  # pragma: no cover - every migrated store has it
        raise NotFoundError("The store has no events table; run `cartwise db migrate`.")
    return _Compiler(store, rule, naive_utc(now)).compile()
