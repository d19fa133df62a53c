"""Identity stitching: one customer per person, however many ids the trackers gave them.

Rules (README "Identity stitching" says the same):
- A customer's id is the id it is known by; every other id linked to it (an anonymous
  visitor id, an alias, a merged customer) has one row in `identities` pointing at it.
- Links come from evidence in the events: an event carrying both `user_id` and
  `anonymous_id` (`identify`, a signed-in event from a tracker that still sends the anonymous
  id), a guest purchase whose `properties.email` is a known customer's e-mail (`email`), and
  an explicit `alias` event (`user_id` the new id, `anonymous_id` the previous one).
- Linking is retroactive: the linked id's events, orders, rollup and timeline rows are
  rewritten to the customer's id (the old id stays in `events.anonymous_id`), so funnels,
  profiles and recommendations count the person once; later events under the linked id are
  rewritten as they are stored.
- An id is *known* when it is in `users`, is a customer others are linked to, or has an event
  not marked anonymous (an event is anonymous when its `user_id` equals its `anonymous_id`).
  Two known customers are merged only on an explicit `alias`; weaker evidence is refused and
  the refusal is logged in `merges`.
- Merges are idempotent: evidence for a link that already holds changes and logs nothing.
- `identify` events also write their properties (the traits) to `users` (see `TRAIT_COLUMNS`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cartwise.store import Store

STRONG_EVIDENCE = frozenset({"alias"})
"""Evidence that may merge two known customers."""

TRAIT_COLUMNS = (
    "email",
    "country",
    "acquisition_channel",
    "email_consent",
    "email_consent_at",
    "sms_consent",
    "sms_consent_at",
    "created_at",
)
"""`identify` traits that fill `users` columns; other traits go to `users.attributes`."""

_REWRITTEN = ("orders", "event_rollup", "event_timeline", "rec_impressions", "segment_members")
"""Tables besides `events` whose `user_id` follows a merge."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def resolve(store: Store, user_id: str) -> str:
    """The customer id `user_id` belongs to (itself when it is not linked)."""
    row = store.con.execute("SELECT customer_id FROM identities WHERE alias_id = ?", [user_id]).fetchone()
    return str(row[0]) if row else user_id


def linked_ids(store: Store, customer_id: str) -> list[str]:
    """Every id linked to the customer `customer_id` resolves to, the customer's own id first."""
    if not store.has_table("identities"):
        return [customer_id]
    canonical = resolve(store, customer_id)
    rows = store.con.execute(
        "SELECT alias_id FROM identities WHERE customer_id = ? ORDER BY first_seen, alias_id", [canonical]
    ).fetchall()
    return [canonical, *(str(r[0]) for r in rows if str(r[0]) != canonical)]


def is_known(store: Store, user_id: str) -> bool:
    """Whether `user_id` is a known customer (module docstring)."""
    con = store.con
    found = con.execute(
        """SELECT (SELECT count(*) FROM users WHERE user_id = $1)
                + (SELECT count(*) FROM identities WHERE customer_id = $1)
                + (SELECT count(*) FROM (SELECT 1 FROM events WHERE user_id = $1
                     AND (anonymous_id IS NULL OR anonymous_id <> user_id) LIMIT 1))""",
        [user_id],
    ).fetchone()
    return bool(found and found[0])


def _log(
    store: Store, from_id: str, into_id: str, evidence: str, outcome: str, reason: str, event_id: str | None
) -> None:
    store.con.execute(
        "INSERT INTO merges VALUES (?, ?, ?, ?, ?, ?, ?)",
        [_now(), from_id, into_id, evidence, outcome, reason, event_id],
    )


def _derived_tables(store: Store) -> tuple[str, ...]:
    """The tables of `_REWRITTEN` this store has (one catalogue query, ~5 ms: once per batch,
    not once per link, which cost a GA4 export with 1,300 sign-ins 32 s)."""
    present = set(store.table_names())
    return tuple(t for t in _REWRITTEN if t in present)


def _repoint(store: Store, old: str, new: str, tables: tuple[str, ...] | None = None) -> None:
    """Rewrite `old`'s rows to `new` in the events and the tables derived from them."""
    con = store.con
    con.execute(
        "UPDATE events SET user_id = $2, anonymous_id = coalesce(anonymous_id, $1) WHERE user_id = $1",
        [old, new],
    )
    for table in _derived_tables(store) if tables is None else tables:
        con.execute(f"UPDATE {table} SET user_id = $2 WHERE user_id = $1", [old, new])


def link(
    store: Store,
    from_id: str,
    into_id: str,
    evidence: str,
    *,
    event_id: str | None = None,
    tables: tuple[str, ...] | None = None,
) -> str:
    """Link `from_id` to `into_id` on `evidence`; returns `merged`, `already` or `refused`.

    Call inside the writer's transaction. When the first side is a known customer and the
    second is not, the second is merged into the first instead.
    """
    source, target = resolve(store, from_id), resolve(store, into_id)
    if source == target:
        return "already"
    source_known, target_known = is_known(store, source), is_known(store, target)
    if source_known and target_known and evidence not in STRONG_EVIDENCE:
        _log(
            store,
            source,
            target,
            evidence,
            "refused",
            f"both `{source}` and `{target}` are known customers; only an explicit alias merges them",
            event_id,
        )
        return "refused"
    if source_known and not target_known:
        source, target = target, source
    con = store.con
    con.execute("UPDATE identities SET customer_id = ? WHERE customer_id = ?", [target, source])
    con.execute(
        "INSERT INTO identities SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM identities WHERE alias_id = ?)",
        [source, target, evidence, _now(), source],
    )
    _repoint(store, source, target, tables)
    _log(store, source, target, evidence, "merged", "", event_id)
    return "merged"


def _trait_value(column: str, value: Any) -> Any:
    if column.endswith("_consent") and isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "granted", "subscribed")
    return value


def _apply_traits(store: Store, user_id: str, ts: datetime, traits: dict[str, Any]) -> None:
    """Fill `users` from identify traits: named columns replace, other traits merge into `attributes`."""
    con = store.con
    columns = {c: _trait_value(c, traits[c]) for c in TRAIT_COLUMNS if traits.get(c) is not None}
    rest = {k: v for k, v in traits.items() if k not in TRAIT_COLUMNS}
    exists = con.execute("SELECT count(*) FROM users WHERE user_id = ?", [user_id]).fetchone()
    if not (exists and exists[0]):
        con.execute("INSERT INTO users (user_id, created_at) VALUES (?, ?)", [user_id, ts])
    for column, value in columns.items():
        con.execute(f'UPDATE users SET "{column}" = ? WHERE user_id = ?', [value, user_id])
    if rest:
        con.execute(
            "UPDATE users SET attributes = json_merge_patch(coalesce(attributes, '{}'), ?) WHERE user_id = ?",
            [json.dumps(rest, default=str), user_id],
        )


def _link_new_visitors(store: Store, source: str, tables: tuple[str, ...]) -> set[tuple[str, str, str]]:
    """Link in one pass the visitors of `source` that `link` would merge without a choice:
    an anonymous id seen beside exactly one user id in the batch, that is not known, linked,
    nor itself a customer, and whose customer is not being linked in the batch. Returns the
    evidence applied, as the `tried` keys of `stitch`; the rest goes through `link`.

    One statement per table instead of ~10 per link: a GA4 export signs in thousands of
    browsers at once (1,269 links took 56 s one by one on a loaded 2-core machine).
    """
    con = store.con
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cw_links AS
        WITH pairs AS (
            SELECT anonymous_id AS alias_id, user_id, arg_min(event_id, ts) AS event_id
            FROM {source}
            WHERE anonymous_id IS NOT NULL AND anonymous_id <> user_id AND type <> 'alias'
            GROUP BY anonymous_id, user_id
        ), single AS (
            SELECT * FROM pairs
            WHERE alias_id IN (SELECT alias_id FROM pairs GROUP BY alias_id HAVING count(*) = 1)
        )
        SELECT s.alias_id, coalesce(i.customer_id, s.user_id) AS customer_id, s.user_id, s.event_id
        FROM single s LEFT JOIN identities i ON i.alias_id = s.user_id
        WHERE s.alias_id NOT IN (SELECT alias_id FROM identities)
          AND s.alias_id NOT IN (SELECT customer_id FROM identities WHERE customer_id IS NOT NULL)
          AND s.alias_id NOT IN (SELECT user_id FROM users)
          AND s.alias_id NOT IN (SELECT user_id FROM pairs)
          AND s.user_id NOT IN (SELECT alias_id FROM pairs)
          AND coalesce(i.customer_id, s.user_id) <> s.alias_id
          AND NOT EXISTS (SELECT 1 FROM events e WHERE e.user_id = s.alias_id
                          AND (e.anonymous_id IS NULL OR e.anonymous_id <> e.user_id))"""
    )
    try:
        done = con.execute("SELECT alias_id, user_id FROM _cw_links").fetchall()
        if not done:
            return set()
        now = _now()
        con.execute(
            "INSERT INTO identities SELECT alias_id, customer_id, 'identify', ? FROM _cw_links", [now]
        )
        con.execute(
            """UPDATE events SET user_id = l.customer_id, anonymous_id = coalesce(events.anonymous_id, l.alias_id)
               FROM _cw_links l WHERE events.user_id = l.alias_id"""
        )
        for table in tables:
            con.execute(
                f"UPDATE {table} SET user_id = l.customer_id FROM _cw_links l WHERE {table}.user_id = l.alias_id"
            )
        con.execute(
            "INSERT INTO merges SELECT ?, alias_id, customer_id, 'identify', 'merged', '', event_id FROM _cw_links",
            [now],
        )
    finally:
        con.execute("DROP TABLE IF EXISTS _cw_links")
    return {("identify", str(alias), str(user)) for alias, user in done}


def stitch(store: Store, source: str, *, evidence: bool = True) -> dict[str, int]:
    """Apply the identity evidence in just-stored events (`source`, a relation with the
    canonical event columns) and rewrite their linked ids; inside the writer's transaction.
    `evidence=False` (the caller saw no `anonymous_id`, `identify`, `alias` or purchase in
    `source`) skips the search for evidence: only linked ids are rewritten.

    Returns `{"merged": n, "refused": n, "users": identify traits written}`.
    """
    counts = {"merged": 0, "refused": 0, "users": 0}
    if not store.has_table("identities"):
        return counts
    con = store.con
    found = (
        []
        if not evidence
        else con.execute(
            f"""SELECT event_id, user_id, anonymous_id, type, ts, properties,
                   CASE WHEN type = 'purchase' THEN json_extract_string(properties, '$.email') END
            FROM {source}
            WHERE (anonymous_id IS NOT NULL AND anonymous_id <> user_id) OR type = 'identify'
               OR (type = 'purchase' AND json_extract_string(properties, '$.email') IS NOT NULL)
            ORDER BY ts"""
        ).fetchall()
    )
    tables = _derived_tables(store) if found else ()
    # Evidence already applied in this batch: first the plain sign-ins, all at once.
    tried = _link_new_visitors(store, source, tables) if found else set()
    counts["merged"] += len(tried)
    for event_id, user_id, anonymous_id, kind, ts, properties, email in found:
        if kind == "identify" and anonymous_id != user_id:  # an anonymous visitor stays unknown
            traits = json.loads(properties) if properties else {}
            if isinstance(traits, dict) and traits:
                _apply_traits(store, resolve(store, str(user_id)), ts, traits)
                counts["users"] += 1
        how = "alias" if kind == "alias" else "identify"
        pair = (how, str(anonymous_id), str(user_id))
        # A signed-in browser repeats its pair on every event: it is applied once per batch.
        if anonymous_id is not None and anonymous_id != user_id and pair not in tried:
            tried.add(pair)
            outcome = link(store, str(anonymous_id), str(user_id), how, event_id=str(event_id), tables=tables)
            counts[outcome] = counts.get(outcome, 0) + 1
        if email:
            owner = con.execute(
                "SELECT min(user_id) FROM users WHERE lower(email) = lower(?)", [email]
            ).fetchone()
            if owner and owner[0] is not None and owner[0] != user_id:
                outcome = link(
                    store, str(user_id), str(owner[0]), "email", event_id=str(event_id), tables=tables
                )
                counts[outcome] = counts.get(outcome, 0) + 1
    # Ids linked earlier that the batch used again: rewrite those rows too.
    linked = con.execute(
        f"SELECT DISTINCT s.user_id, i.customer_id FROM {source} s JOIN identities i ON s.user_id = i.alias_id"
    ).fetchall()
    for old, new in linked:
        # Their earlier rows were rewritten when they were linked, and these rows are not in
        # the rollup yet (they are after its watermark): the batch's events and orders suffice.
        con.execute(
            f"""UPDATE events SET user_id = $2, anonymous_id = coalesce(anonymous_id, $1)
                WHERE user_id = $1 AND event_id IN (SELECT event_id FROM {source})""",
            [str(old), str(new)],
        )
        con.execute(
            f"""UPDATE orders SET user_id = $2 WHERE user_id = $1 AND source = 'events'
                AND order_id IN (SELECT COALESCE(order_id, event_id) FROM {source})""",
            [str(old), str(new)],
        )
    counts.pop("already", None)
    return counts
