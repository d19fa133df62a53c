"""The built-in journeys over a store: list them, read one, apply them all (the demo does)."""

from __future__ import annotations

from typing import Any

from cartwise.campaigns import builtin_journey, builtin_journey_names
from cartwise.core.settings import Settings
from cartwise.pipelines.journeys import apply_journey
from cartwise.store import Store

__all__ = ["apply_builtin_journeys", "builtin_journey", "builtin_journey_names"]


def apply_builtin_journeys(
    store: Store, settings: Settings, names: list[str] | None = None
) -> list[dict[str, Any]]:
    """Apply the built-in journeys `names` (default: all); each result is `apply_journey`'s
    `{"journey", "version", "changed"}`."""
    return [apply_journey(store, settings, builtin_journey(n)) for n in names or builtin_journey_names()]
