"""Journeys over a store: apply a file (versioned), list them, show one with per-step counts.

Applying the same text again is a no-op (same version); a changed text becomes version + 1 and
the only one new customers enter, while customers already in flight finish the version they
entered (their runs name it). The engine's store steps are in `pipelines.journey_engine`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cartwise.campaigns import (
    CHANNELS,
    Journey,
    JourneyError,
    Templates,
    canonical_text,
    journey_dict,
    parse_journey,
)
from cartwise.core.errors import NotFoundError
from cartwise.core.settings import Settings
from cartwise.pipelines.sender import now_utc
from cartwise.store import Store

__all__ = [
    "apply_journey",
    "journey_source",
    "list_journeys",
    "load_journey",
    "show_journey",
    "validate_journey",
]


def journey_source(name: str, version: int) -> str:
    """The send log's `source` of a journey version: `journey:NAME:vN`."""
    return f"journey:{name}:v{version}"


def validate_journey(settings: Settings, text: str) -> Journey:
    """The parsed journey, checked against the templates (built-ins and `templates_dir`) and the
    registered channels; JourneyError with the line and the fix otherwise."""
    return parse_journey(text, templates=Templates(settings.templates_dir).names(), channels=CHANNELS)


def apply_journey(store: Store, settings: Settings, text: str) -> dict[str, Any]:
    """Save the journey in `text`: `{"journey", "version", "changed"}`. The same text as the
    newest version changes nothing; another text is saved as the next version."""
    journey = validate_journey(settings, text)
    if journey.trigger.kind == "audience":
        known = [r[0] for r in store.con.execute("SELECT name FROM audiences ORDER BY name").fetchall()]
        if journey.trigger.value not in known:
            raise JourneyError(
                f"no saved audience {journey.trigger.value!r} (saved: {', '.join(known) or 'none yet'}); "
                "save it first with `cartwise audiences save NAME --rule RULE`.",
                line=journey.trigger.line,
                parameter="trigger.audience",
            )
    clean = canonical_text(text)
    with store.transaction() as con:
        latest = con.execute(
            "SELECT version, definition FROM journeys WHERE name = ? ORDER BY version DESC LIMIT 1",
            [journey.name],
        ).fetchall()
        if latest and latest[0][1] == clean:
            con.execute(
                "UPDATE journeys SET active = true WHERE name = ? AND version = ?",
                [journey.name, latest[0][0]],
            )
            return {"journey": journey.name, "version": int(latest[0][0]), "changed": False}
        version = int(latest[0][0]) + 1 if latest else 1
        con.execute("UPDATE journeys SET active = false WHERE name = ?", [journey.name])
        con.execute(
            "INSERT INTO journeys VALUES (?, ?, ?, ?, true)", [journey.name, version, clean, now_utc()]
        )
    return {"journey": journey.name, "version": version, "changed": True}


def load_journey(store: Store, settings: Settings, name: str, version: int) -> Journey:
    """Version `version` of journey `name` as saved (parsed again; a template removed since
    still fails at its send, with the reason, not here)."""
    rows = store.con.execute(
        "SELECT definition FROM journeys WHERE name = ? AND version = ?", [name, version]
    ).fetchall()
    if not rows:
        raise NotFoundError(f"No journey {name!r} version {version}; `cartwise journeys list` shows them.")
    # Templates and channels are not re-checked: a saved version stays runnable as it was applied.
    return parse_journey(str(rows[0][0]), templates=None, channels=None)


def _run_counts(store: Store, name: str | None = None) -> dict[tuple[str, int], dict[str, int]]:
    sql = "SELECT journey, version, state, count(*) FROM journey_runs"
    params: list[Any] = []
    if name is not None:
        sql += " WHERE journey = ?"
        params.append(name)
    out: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for journey, version, state, n in store.con.execute(sql + " GROUP BY ALL", params).fetchall():
        out[(journey, int(version))][state] = int(n)
    return out


def list_journeys(store: Store) -> list[dict[str, Any]]:
    """Every journey's newest version: name, version, active, trigger, created_at, and its
    customers by run state (`active`, `waiting`, `done`, `exited`) over all versions."""
    rows = store.con.execute(
        """SELECT name, version, definition, created_at, active FROM journeys
        QUALIFY version = max(version) OVER (PARTITION BY name) ORDER BY name"""
    ).fetchall()
    counts = _run_counts(store)
    out = []
    for name, version, definition, created_at, active in rows:
        journey = parse_journey(str(definition), templates=None, channels=None)
        runs: dict[str, int] = defaultdict(int)
        for (j, _v), states in counts.items():
            if j == name:
                for state, n in states.items():
                    runs[state] += n
        out.append(
            {
                "journey": name,
                "version": int(version),
                "active": bool(active),
                "created_at": created_at,
                "trigger": journey_dict(journey)["trigger"],
                "runs": {s: runs.get(s, 0) for s in ("active", "waiting", "done", "exited", "skipped")},
            }
        )
    return out


def show_journey(store: Store, name: str) -> dict[str, Any]:
    """Journey `name`: every version with its definition (text and parsed steps), its runs by
    state and, per step path, the count of each outcome (entered, sent, skipped:REASON, ...)
    plus the customers waiting there now."""
    rows = store.con.execute(
        "SELECT version, definition, created_at, active FROM journeys WHERE name = ? ORDER BY version DESC",
        [name],
    ).fetchall()
    if not rows:
        known = [
            r[0] for r in store.con.execute("SELECT DISTINCT name FROM journeys ORDER BY name").fetchall()
        ]
        raise NotFoundError(
            f"No journey named {name!r} (saved: {', '.join(known) or 'none yet'}); apply one with "
            "`cartwise journeys apply FILE`."
        )
    steps: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for version, step, outcome, n in store.con.execute(
        "SELECT version, step, outcome, count(*) FROM journey_steps WHERE journey = ? GROUP BY ALL", [name]
    ).fetchall():
        steps[int(version)][step][outcome] = int(n)
    for version, step, n in store.con.execute(
        """SELECT version, step, count(*) FROM journey_runs WHERE journey = ? AND state IN ('active', 'waiting')
        GROUP BY ALL""",
        [name],
    ).fetchall():
        steps[int(version)][step]["here_now"] = int(n)
    counts = _run_counts(store, name)
    versions = []
    for version, definition, created_at, active in rows:
        journey = parse_journey(str(definition), templates=None, channels=None)
        states = counts.get((name, int(version)), {})
        versions.append(
            {
                "version": int(version),
                "active": bool(active),
                "created_at": created_at,
                "definition": str(definition),
                "parsed": journey_dict(journey),
                "runs": {
                    s: int(states.get(s, 0)) for s in ("active", "waiting", "done", "exited", "skipped")
                },
                "steps": [
                    {"path": path, "counts": dict(sorted(steps[int(version)].get(path, {}).items()))}
                    for path, _step in journey.paths()
                ],
            }
        )
    return {"journey": name, "version": versions[0]["version"], "versions": versions}
