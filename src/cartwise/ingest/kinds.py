"""What `ingest` can load and read: the table kinds and the input formats.

Kept apart from the loaders, which need DuckDB and Arrow, so that a command can list the
choices in its `--help` without importing them.
"""

from __future__ import annotations

from typing import Literal

KINDS: tuple[str, ...] = ("events", "items", "users", "transactions")
"""The canonical tables a file can be loaded into."""

Format = Literal["auto", "csv", "tsv", "whitespace", "parquet", "jsonl", "recbole", "cdnow"]
FORMATS: tuple[str, ...] = ("auto", "csv", "tsv", "whitespace", "parquet", "jsonl", "recbole", "cdnow")
"""Input formats; `auto` detects one from the file name and first line."""

__all__ = ["FORMATS", "KINDS", "Format"]
