"""Right to erasure and right of access: every table that holds a customer, in one registry.

`forget_customer(store, user_id)` removes the customer, and every id linked to it by identity
stitching (`ingest.identity`), from every registered table (events
with the orders derived from them, orders and their lines, the users row, profiles, scores,
segment memberships, recommendation impressions, quarantined rows, suppressed addresses of
the customer's messages; the send journal is folded first, see `send_journal`), then from any other
table with a `user_id` column, so a table added later is never skipped silently; it rebuilds
the analytics rollup and writes one row to `erasures` with a keyed hash of the id (HMAC under
the store's secret, `subject_hash`) and the counts (no personal data); `erasures_of` answers
"was this id erased?". The saved recommender anonymises the customer at once
(`privacy_artefacts`); a running server's model too (`Service.forget_customer`).
Erasing twice removes nothing the second time.

`export_customer(store, user_id)` returns every row held about the customer, per table.

A feature that stores customer data registers how to find (and, when a plain delete is not
enough, erase) it: `register_personal_data("send_log", "user_id = ?")`.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cartwise.analytics import refresh_rollup
from cartwise.core.errors import ConfigError, InputError
from cartwise.ingest.identity import linked_ids
from cartwise.pipelines.event_delete import remove_events
from cartwise.pipelines.privacy_artefacts import artefacts_note, forget_in_artefacts
from cartwise.pipelines.send_journal import held_for_erasure
from cartwise.store import Store
from cartwise.store.erasure_log import erasure_secret, keyed_subject_hash

Eraser = Callable[[Store, str], dict[str, int]]

NOT_SWEPT = frozenset({"event_rollup", "event_timeline", "erasures"})
"""Tables with a `user_id` that are not erased row by row: the rollup and timeline are rebuilt
from the events (`reset_rollup`), and the erasure log holds no ids."""


@dataclass(frozen=True)
class PersonalData:
    """A table holding customer data: `where` selects one customer's rows (one `?`, the id);
    `erase`, when given, replaces the plain DELETE and returns rows removed per table."""

    table: str
    where: str = "user_id = ?"
    description: str = ""
    erase: Eraser | None = None


REGISTRY: dict[str, PersonalData] = {}
"""Registered tables, in the order they are erased."""


def register_personal_data(
    table: str, where: str = "user_id = ?", description: str = "", *, erase: Eraser | None = None
) -> PersonalData:
    """Register `table` as holding customer data (see `PersonalData`); a table registers once."""
    if table in REGISTRY:
        raise ConfigError(f"Table {table!r} is already registered as personal data.")
    if where.count("?") != 1:
        raise ConfigError(
            f"`where` for {table!r} must hold exactly one `?` (the customer id); got {where!r}."
        )
    entry = PersonalData(table, where, description, erase)
    REGISTRY[table] = entry
    return entry


def _erase_events(store: Store, user_id: str) -> dict[str, int]:
    removed = remove_events(store, "user_id = ?", [user_id])
    return {"events": removed["events"], "orders": removed["orders"], "order_lines": removed["order_lines"]}


def _erase_orders(store: Store, user_id: str) -> dict[str, int]:
    """Orders loaded from transactions (and any left), with their lines."""
    con = store.con
    lines = con.execute(
        "DELETE FROM order_lines WHERE order_id IN (SELECT order_id FROM orders WHERE user_id = ?)", [user_id]
    ).fetchall()[0][0]
    orders = con.execute("DELETE FROM orders WHERE user_id = ?", [user_id]).fetchall()[0][0]
    return {"orders": int(orders), "order_lines": int(lines)}


register_personal_data(
    "events", description="Behaviour events, and the orders derived from purchases", erase=_erase_events
)
register_personal_data("orders", description="Orders and their lines", erase=_erase_orders)
register_personal_data("users", description="Customer record: e-mail, country, consents")
register_personal_data("profiles", description="RFM, CLV and segment profile")
register_personal_data("churn_scores", description="Churn risk scores")
register_personal_data("segment_members", description="Saved segment memberships")
register_personal_data("rec_impressions", description="Recommendations shown")
register_personal_data(
    "identities", "? IN (alias_id, customer_id)", "Ids linked to the customer (identity stitching)"
)
register_personal_data("merges", "? IN (from_id, into_id)", "Merges tried with the customer's ids")
register_personal_data(
    "quarantine",
    "json_extract_string(record, '$.user_id') = ?",
    "Rows refused at load, kept for review",
)
# Before `send_log` is swept (found later by its user_id column): its addresses say which.
register_personal_data(
    "suppressions",
    "address IN (SELECT address FROM send_log WHERE user_id = ?)",
    "Addresses of the customer's messages that hard-bounced",
)


def subject_hash(store: Store, user_id: str) -> str:
    """What `erasures` logs instead of the id: an HMAC under the store's secret (see
    `cartwise.store.erasure_log`), so the log cannot be searched by hashing guessed ids."""
    return keyed_subject_hash(erasure_secret(store.con), user_id)


def erasures_of(store: Store, user_id: str) -> list[dict[str, Any]]:
    """Whether `user_id` was erased: the erasure log's rows for it, oldest first (empty if never)."""
    user_id = _check_id(user_id)
    rows = store.con.execute(
        "SELECT erased_at, total, via FROM erasures WHERE subject_hash = ? ORDER BY erased_at",
        [subject_hash(store, user_id)],
    ).fetchall()
    return [{"erased_at": _plain(at), "total": int(total), "via": via} for at, total, via in rows]


def _check_id(user_id: str) -> str:
    if not isinstance(user_id, str) or not user_id.strip():
        raise InputError("USER_ID must be a non-empty customer id, e.g. `cartwise customers forget u123`.")
    return user_id


def _columns(store: Store, table: str) -> set[str]:
    rows = store.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
        [table],
    ).fetchall()
    return {str(r[0]) for r in rows}


def holders(store: Store) -> list[PersonalData]:
    """Registered tables present in the store, then every other table with a `user_id` column."""
    present = set(store.table_names())
    found = [entry for name, entry in REGISTRY.items() if name in present]
    for name in sorted(present - set(REGISTRY) - NOT_SWEPT):
        if "user_id" in _columns(store, name):
            found.append(PersonalData(name, "user_id = ?", "(found by its user_id column)"))
    return found


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def forget_customer(
    store: Store, user_id: str, *, via: str = "cli", artefacts: bool = True
) -> dict[str, Any]:
    """Erase customer `user_id` everywhere (see the module docstring), in one transaction.

    Returns `{"subject_hash", "removed": {table: rows}, "total", "artefacts"}`. With
    `artefacts=False` the saved models are left to the caller (`forget_in_artefacts`), e.g. to
    rewrite them after releasing the store's writer.
    """
    user_id = _check_id(user_id)
    # The send journal holds recipients' addresses until it is folded: fold it first and hold it
    # until the send-log rows are gone, so no file keeps the address once this returns.
    with held_for_erasure(store) as forget_messages:
        logged_as, subjects, removed, erased_keys = _erase(store, user_id, via)
        forget_messages(erased_keys)
    if removed.get("events"):
        refresh_rollup(store)
    return {
        "subject_hash": logged_as,
        "removed": removed,
        "total": sum(removed.values()),
        "artefacts": artefacts_note(forget_in_artefacts(store, subjects)) if artefacts else "",
    }


def _message_keys(store: Store, subjects: list[str]) -> list[str]:
    if not store.has_table("send_log"):
        return []
    rows = store.con.execute(
        "SELECT message_key FROM send_log WHERE list_contains(?, user_id)", [subjects]
    ).fetchall()
    return [str(r[0]) for r in rows]


def _erase(store: Store, user_id: str, via: str) -> tuple[str, list[str], dict[str, int], list[str]]:
    """The erasure's one transaction: (subject hash, ids erased, rows removed per table, message
    keys of the send-log rows removed)."""
    removed: dict[str, int] = {}
    with store.transaction():
        logged_as = subject_hash(store, user_id)
        # Every id linked to the customer (an anonymous id, an alias) is the same person.
        subjects = list(linked_ids(store, user_id))
        erased_keys = _message_keys(store, subjects)
        for subject in subjects:
            for entry in holders(store):
                if entry.erase is not None:
                    counts = entry.erase(store, subject)
                else:
                    deleted = store.con.execute(
                        f"DELETE FROM {_quote(entry.table)} WHERE {entry.where}", [subject]
                    ).fetchall()
                    counts = {entry.table: int(deleted[0][0])}
                for table, n in counts.items():
                    removed[table] = removed.get(table, 0) + int(n)
        total = sum(removed.values())
        if store.has_table("erasures"):
            store.con.execute(
                "INSERT INTO erasures VALUES (?, ?, ?, ?, ?)",
                [
                    datetime.now(UTC).replace(tzinfo=None),
                    logged_as,
                    json.dumps(removed),
                    total,
                    via,
                ],
            )
    return logged_as, subjects, removed, erased_keys


def _plain(value: Any) -> Any:
    """A JSON-ready value: times as ISO text (UTC), JSON columns parsed, non-finite floats null."""
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def export_customer(store: Store, user_id: str) -> dict[str, Any]:
    """Everything held about `user_id`: `{"user_id", "exported_at", "tables": {table: [rows]},
    "rows"}`, orders with their lines (`order_lines` of the customer's orders). Tables with
    no rows for the customer are left out."""
    user_id = _check_id(user_id)
    tables: dict[str, list[dict[str, Any]]] = {}
    for entry in holders(store):
        cursor = store.con.execute(f"SELECT * FROM {_quote(entry.table)} WHERE {entry.where}", [user_id])
        names = [d[0] for d in cursor.description or []]
        rows = [dict(zip(names, (_plain(v) for v in row), strict=True)) for row in cursor.fetchall()]
        if rows:
            tables[entry.table] = rows
    if store.has_table("order_lines") and "orders" in tables:
        cursor = store.con.execute(
            "SELECT * FROM order_lines WHERE order_id IN (SELECT order_id FROM orders WHERE user_id = ?)",
            [user_id],
        )
        names = [d[0] for d in cursor.description or []]
        lines = [dict(zip(names, (_plain(v) for v in row), strict=True)) for row in cursor.fetchall()]
        if lines:
            tables["order_lines"] = lines
    for rows in tables.values():
        for row in rows:
            for key, value in row.items():
                if isinstance(value, str) and key in ("properties", "attributes", "record", "mapping"):
                    with contextlib.suppress(ValueError):
                        row[key] = json.loads(value)
    return {
        "user_id": user_id,
        "exported_at": datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z",
        "tables": tables,
        "rows": sum(len(r) for r in tables.values()),
    }
