"""What `ingest` can load and read: the table kinds and the input formats.

Kept apart from the loaders, which need DuckDB and Arrow, so that a command can list the
choices in its `--help` without importing them.
"""

from __future__ import annotations

from typing import Literal

KINDS: tuple[str, ...] = ("events", "items", "users", "transactions")
"""The canonical tables a file can be loaded into."""

Format = Literal["auto", "csv", "tsv", "whitespace", "parquet", "jsonl", "recbole", "cdnow", "ga4", "shopify"]
FORMATS: tuple[str, ...] = (
    "auto",
    "csv",
    "tsv",
    "whitespace",
    "parquet",
    "jsonl",
    "recbole",
    "cdnow",
    "ga4",
    "shopify",
)
"""Input formats; `auto` detects one from the file name and first line. `ga4` (GA4's BigQuery
export, Parquet or JSON lines) and `shopify` (Shopify's orders CSV) load events and are never
detected: name them."""

EVENT_FORMATS: tuple[str, ...] = ("ga4", "shopify")
"""Formats that are read as canonical events (only `ingest events` takes them)."""

HEADED_FORMATS: tuple[str, ...] = ("csv", "tsv", "whitespace", "recbole", "shopify")
"""Formats whose first line is a header when one is expected: a record's line in an editor is
its number + 1. (JSON lines have none; a Parquet record has a number, not a line.)"""

__all__ = ["EVENT_FORMATS", "FORMATS", "HEADED_FORMATS", "KINDS", "Format"]

MESSAGE_MENTIONS: tuple[str, ...] = ("map", "set", "format", "delimiter", "no_header", "encoding", "timezone")
"""The load options that stored load messages (quarantine reasons, load warnings) may name,
each written in backticks as `cartwise.core.errors.python_name` does; a surface words them in
its own terms (the CLI as `--map`, ...) with `cartwise.core.errors.reword`."""
