"""Versioned migrations of the store. Append to MIGRATIONS; never edit an applied one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from cartwise.schema import TABLES
from cartwise.store.erasure_log import key_the_erasure_log


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    after: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    """A step SQL alone cannot take (e.g. one needing a secret), run after the statements in
    the same transaction."""


def _canonical_tables() -> tuple[str, ...]:
    return tuple(t.ddl() for t in TABLES.values())


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "canonical tables, load log and quarantine",
        (
            *_canonical_tables(),
            """CREATE TABLE IF NOT EXISTS loads (
                load_id VARCHAR, table_name VARCHAR, source VARCHAR, started_at TIMESTAMP,
                finished_at TIMESTAMP, "read" BIGINT, loaded BIGINT, duplicates BIGINT,
                rejected BIGINT, warnings BIGINT, mapping JSON)""",
            """CREATE TABLE IF NOT EXISTS quarantine (
                load_id VARCHAR, table_name VARCHAR, source VARCHAR, "row" BIGINT,
                "column" VARCHAR, "value" VARCHAR, reason VARCHAR, record JSON)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        2,
        "API keys and dashboard users",
        (
            # Only a sha256 of each key is kept; the key itself is shown once at creation.
            """CREATE TABLE IF NOT EXISTS api_keys (
                key_id VARCHAR PRIMARY KEY, name VARCHAR, scope VARCHAR, key_hash VARCHAR,
                created_at TIMESTAMP, revoked_at TIMESTAMP)""",
            # Passwords are stored as `scrypt$n$r$p$salt_hex$hash_hex`.
            """CREATE TABLE IF NOT EXISTS dashboard_users (
                username VARCHAR PRIMARY KEY, password_hash VARCHAR, created_at TIMESTAMP)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        3,
        "saved segments, their members and size history",
        (
            """CREATE TABLE IF NOT EXISTS segments (
                name VARCHAR PRIMARY KEY, rule VARCHAR, description VARCHAR, created_at TIMESTAMP)""",
            "CREATE TABLE IF NOT EXISTS segment_members (segment VARCHAR, user_id VARCHAR)",
            """CREATE TABLE IF NOT EXISTS segment_history (
                segment VARCHAR, computed_at TIMESTAMP, size BIGINT, revenue DOUBLE)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        4,
        "recommendation impressions",
        (
            # One row per item shown; clicks, add-to-carts and purchases are attributed at read time.
            """CREATE TABLE IF NOT EXISTS rec_impressions (
                request_id VARCHAR, ts TIMESTAMP, user_id VARCHAR, session_id VARCHAR, item_id VARCHAR,
                position INTEGER, score DOUBLE, reason VARCHAR, model_version VARCHAR, surface VARCHAR)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        5,
        "daily rollup of events for analytics",
        (
            # Partial sums per (day, user, session, order), appended by `analytics.refresh_rollup`;
            # rows with the same key may repeat until the next compaction, so readers sum them.
            """CREATE TABLE IF NOT EXISTS event_rollup (
                ts TIMESTAMP, user_id VARCHAR, session VARCHAR, order_key VARCHAR, purchases BIGINT,
                units BIGINT, revenue DOUBLE, refunds BIGINT, refund_amount DOUBLE,
                anon_orders BIGINT)""",
            # `watermark`: the largest events rowid folded in; `folded`: how many events that was
            # (a mismatch means `events` was replaced, and the rollup is rebuilt);
            # `compacted_rows`: rollup rows after the last compaction.
            """CREATE TABLE IF NOT EXISTS event_rollup_state (
                watermark BIGINT, folded BIGINT, compacted_rows BIGINT)""",
            "INSERT INTO event_rollup_state VALUES (-1, 0, 0)",
            # What the rollup does not hold yet; read with it in one query, the two never overlap.
            """CREATE VIEW IF NOT EXISTS events_after_rollup AS
                SELECT * FROM events WHERE rowid > (SELECT max(watermark) FROM event_rollup_state)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        6,
        "events sorted for funnels",
        (
            # (ts, user_id, type) of every event, appended by `analytics.refresh_rollup` in blocks
            # sorted by (month, type, user, time); a month is sorted again as one block when
            # the rows appended after its last sort grow large (`analytics._timeline`).
            "CREATE TABLE IF NOT EXISTS event_timeline (ts TIMESTAMP, user_id VARCHAR, type VARCHAR)",
            # Per month: rows sorted together, rows appended in later blocks.
            """CREATE TABLE IF NOT EXISTS event_timeline_months (
                month TIMESTAMP, sorted_rows BIGINT, appended_rows BIGINT)""",
            # The timeline shares the rollup's watermark: fold both again from the first event.
            "DELETE FROM event_rollup",
            "UPDATE event_rollup_state SET watermark = -1, folded = 0, compacted_rows = 0",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        7,
        "dashboard sessions kept on the server",
        (
            # The cookie carries a random token; only its sha256 is kept (`token_hash`).
            # `session_id` is a public handle for listing and ending a session.
            # `kind` is `user` (name and password) or `key` (an admin key, `key_id`).
            """CREATE TABLE IF NOT EXISTS sessions (
                session_id VARCHAR PRIMARY KEY, token_hash VARCHAR, kind VARCHAR, name VARCHAR,
                key_id VARCHAR, created_at TIMESTAMP, expires_at TIMESTAMP, ended_at TIMESTAMP,
                ended_reason VARCHAR)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        8,
        "erasure log",
        (
            # One row per erasure request (`cartwise customers forget`): no personal data, only a
            # sha256 of the customer id (to answer "was this id erased?") and rows removed per table.
            """CREATE TABLE IF NOT EXISTS erasures (
                erased_at TIMESTAMP, subject_sha256 VARCHAR, removed JSON, total BIGINT, via VARCHAR)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        10,
        "campaigns, their recipients and holdout, the send log, suppressions and tracking",
        (
            """CREATE TABLE IF NOT EXISTS campaigns (
                name VARCHAR, rule VARCHAR, template VARCHAR, channel VARCHAR, holdout DOUBLE,
                created_at TIMESTAMP, started_at TIMESTAMP, finished_at TIMESTAMP)""",
            # Everyone in the audience when the campaign started, and whether the hash put them in
            # the holdout (who gets nothing and is measured against the recipients).
            "CREATE TABLE IF NOT EXISTS campaign_members (campaign VARCHAR, user_id VARCHAR, holdout BOOLEAN)",
            # One row per message identity, written before delivery (the outbox). `state` is
            # pending, sent, failed_temporary, failed_permanent or skipped:<reason>; a held row
            # stays pending with `not_before` set.
            """CREATE TABLE IF NOT EXISTS send_log (
                message_key VARCHAR, source VARCHAR, step VARCHAR, user_id VARCHAR, occurrence INTEGER,
                channel VARCHAR, template VARCHAR, address VARCHAR, message_id VARCHAR, state VARCHAR,
                reason VARCHAR, attempts INTEGER, transactional BOOLEAN, created_at TIMESTAMP,
                updated_at TIMESTAMP, sent_at TIMESTAMP, not_before TIMESTAMP)""",
            # Addresses that hard-bounced (a permanent SMTP refusal of the recipient).
            "CREATE TABLE IF NOT EXISTS suppressions (address VARCHAR, reason VARCHAR, ts TIMESTAMP)",
            # Opens (pixel), clicks (signed redirects) and unsubscribes, per message.
            """CREATE TABLE IF NOT EXISTS message_events (
                ts TIMESTAMP, message_key VARCHAR, source VARCHAR, user_id VARCHAR, kind VARCHAR, url VARCHAR)""",
            # The key signing unsubscribe, open and click links; made once per store.
            "CREATE TABLE IF NOT EXISTS link_secret (secret VARCHAR)",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        11,
        "experiment definitions and exposures",
        (
            # `definition`: the `cartwise.experiments.Experiment` as JSON (variants, salt, layer, audience).
            """CREATE TABLE IF NOT EXISTS experiments (
                key VARCHAR PRIMARY KEY, definition JSON, status VARCHAR, created_at TIMESTAMP,
                stopped_at TIMESTAMP)""",
            # One row per (experiment, user) first seen by a process; readers take each user's
            # earliest row (a restart may write a user again). `source`: api, recs, journey, import.
            """CREATE TABLE IF NOT EXISTS exposures (
                experiment VARCHAR, user_id VARCHAR, variant VARCHAR, ts TIMESTAMP, source VARCHAR)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        12,
        "audiences and their size history",
        (
            """CREATE TABLE IF NOT EXISTS audiences (
                name VARCHAR PRIMARY KEY, rule VARCHAR, description VARCHAR,
                created_at TIMESTAMP, updated_at TIMESTAMP)""",
            # One row per count, refresh, save or export of a saved audience: `now` is the time the
            # rule was evaluated at (its windows end there), `computed_at` the wall-clock time.
            """CREATE TABLE IF NOT EXISTS audience_sizes (
                audience VARCHAR, computed_at TIMESTAMP, "now" TIMESTAMP, size BIGINT, reason VARCHAR)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        13,
        "identity stitching: anonymous ids on events, linked identities and the merge log",
        (
            'ALTER TABLE events ADD COLUMN IF NOT EXISTS "anonymous_id" VARCHAR',
            # Each linked id (an anonymous id, an alias, a merged customer) points at the
            # customer it belongs to now; a customer's own id has no row (`ingest.identity`).
            """CREATE TABLE IF NOT EXISTS identities (
                alias_id VARCHAR PRIMARY KEY, customer_id VARCHAR, evidence VARCHAR,
                first_seen TIMESTAMP)""",
            # Every merge tried: `outcome` is `merged` or `refused` (with `reason`).
            """CREATE TABLE IF NOT EXISTS merges (
                merged_at TIMESTAMP, from_id VARCHAR, into_id VARCHAR, evidence VARCHAR,
                outcome VARCHAR, reason VARCHAR, event_id VARCHAR)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        14,
        "journeys: versioned definitions, each customer's run with its durable timer, and the step log",
        (
            # One row per version of a journey; `definition` is the file as applied. The newest
            # version of a name is the one new customers enter while `active`.
            """CREATE TABLE IF NOT EXISTS journeys (
                name VARCHAR, version INTEGER, definition VARCHAR, created_at TIMESTAMP,
                active BOOLEAN, PRIMARY KEY (name, version))""",
            # One row per customer per entry: `run_key` is the trigger's id (the event id, the
            # audience entry or the run-out date), so replaying a trigger never enters twice.
            # `step` is the path of the step the run is at; `due_at` the durable timer of a
            # `wait` or a `wait_for` timeout; `state` active, waiting, done or exited.
            """CREATE TABLE IF NOT EXISTS journey_runs (
                journey VARCHAR, version INTEGER, user_id VARCHAR, run_key VARCHAR,
                occurrence INTEGER, step VARCHAR, state VARCHAR, due_at TIMESTAMP,
                wait_event VARCHAR, variant VARCHAR, context JSON, entered_at TIMESTAMP,
                updated_at TIMESTAMP, exit_reason VARCHAR,
                PRIMARY KEY (journey, version, user_id, run_key))""",
            # Every step a run passes, with its outcome (entered, waited, sent, skipped:REASON,
            # failed_permanent, branch:then, variant:a, timeout, exited:REASON, done).
            """CREATE TABLE IF NOT EXISTS journey_steps (
                journey VARCHAR, version INTEGER, step VARCHAR, user_id VARCHAR, run_key VARCHAR,
                outcome VARCHAR, ts TIMESTAMP)""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        15,
        "recommender A/B: impressions carry the experiment and variant that chose the model",
        (
            # Null for lists served outside a recommender experiment (`cartwise.pipelines.recs_ab`).
            "ALTER TABLE rec_impressions ADD COLUMN IF NOT EXISTS experiment VARCHAR",
            "ALTER TABLE rec_impressions ADD COLUMN IF NOT EXISTS variant VARCHAR",
        ),
    ),
)


def _window_of_the_demo_campaign(con: duckdb.DuckDBPyConnection) -> None:
    # A demo store made before campaigns kept their window: its past campaign was measured over
    # the simulator's outcome window, and keeps it. The name is the one the demo used then.
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'truth_campaign'").fetchall()[0][
        0
    ]:
        con.execute(
            """UPDATE campaigns SET attribution_days = (SELECT max(window_days) FROM truth_campaign)
            WHERE name = 'demo-past-campaign' AND attribution_days IS NULL"""
        )


MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        16,
        "campaigns keep the attribution window they were started with",
        # Null for a campaign started before: measured over the `attribution_days` setting.
        ("ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS attribution_days DOUBLE",),
        after=_window_of_the_demo_campaign,
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        17,
        "erasure log keyed by a per-store secret",
        (
            # The secret of `subject_hash` (see `cartwise.store.erasure_log`); made once per store.
            "CREATE TABLE IF NOT EXISTS erasure_key (secret VARCHAR)",
        ),
        after=key_the_erasure_log,
    ),
)
