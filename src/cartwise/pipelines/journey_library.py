"""The built-in journeys over a store: list them, read one, apply them (the demo applies all).

A built-in whose trigger names a saved audience (`win-back`: `lapsing-buyers`, the rule
`p_alive < 0.3 and orders >= 1`) has that audience saved first when the store has none of
that name; the rule needs the profiles' `p_alive` (`cartwise train` or `cartwise profiles`).
"""

from __future__ import annotations

from typing import Any

from cartwise.campaigns import BUILTIN_AUDIENCES, builtin_journey, builtin_journey_names
from cartwise.core.errors import CartwiseError
from cartwise.core.settings import Settings
from cartwise.pipelines.journeys import apply_journey
from cartwise.store import Store

__all__ = ["apply_builtin_journey", "apply_builtin_journeys", "builtin_journey", "builtin_journey_names"]


def apply_builtin_journey(store: Store, settings: Settings, name: str) -> dict[str, Any]:
    """Apply built-in journey `name` (saving the audience its trigger names when missing):
    `apply_journey`'s `{"journey", "version", "changed"}`. RuleError when that audience's rule
    cannot be used on this store yet (e.g. no `p_alive` before training)."""
    text = builtin_journey(name)
    if name in BUILTIN_AUDIENCES:
        from cartwise.pipelines.audiences import save_audience

        audience, rule = BUILTIN_AUDIENCES[name]
        saved = store.con.execute("SELECT count(*) FROM audiences WHERE name = ?", [audience]).fetchall()
        if not saved[0][0]:
            save_audience(store, audience, rule, f"Saved for the built-in journey {name}.")
    return apply_journey(store, settings, text)


def apply_builtin_journeys(
    store: Store, settings: Settings, names: list[str] | None = None
) -> list[dict[str, Any]]:
    """Apply the built-in journeys `names` (default: all). A journey that cannot be applied to
    this store yet is left out with its reason: `{"journey", "skipped"}`."""
    out: list[dict[str, Any]] = []
    for name in names or builtin_journey_names():
        try:
            out.append(apply_builtin_journey(store, settings, name))
        except CartwiseError as exc:
            out.append({"journey": name, "skipped": str(exc)})
    return out
