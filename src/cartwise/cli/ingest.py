"""`cartwise ingest` (in progress)."""

import click


@click.group()
def ingest() -> None:
    """Load events, items, users or transactions from files."""
