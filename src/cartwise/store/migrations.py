"""Versioned migrations of the store. Append to MIGRATIONS; never edit an applied one."""

from __future__ import annotations

from dataclasses import dataclass

from cartwise.schema import TABLES


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


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
