"""The simulator's headline defaults, importable without pydantic (`cartwise demo --help` shows them)."""

from __future__ import annotations

from datetime import date

SEED = 42
"""Random seed; the same seed and config give identical tables."""
USERS = 20_000
"""Number of customers."""
ITEMS = 2_000
"""Number of catalogue items."""
DAYS = 365
"""Length of the simulated period in days."""
START = date(2025, 1, 1)
"""First day of the simulated period."""

__all__ = ["DAYS", "ITEMS", "SEED", "START", "USERS"]
