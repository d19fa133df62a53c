"""Audiences in the running service: saves, counts (each adds to a size history), refreshes,
CSV exports, deletions and the saved list with its history, for the audiences API.

They write through `pipelines.audiences` behind the service's gate (the single writer), so
they live here and not in `pages`, whose modules only read. Every function returns JSON-ready
dictionaries (times as ISO 8601 UTC with a trailing `Z`).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cartwise.core.errors import InputError, NotFoundError
from cartwise.pipelines import audiences as job
from cartwise.pipelines.audiences import MAX_RULE_CHARS

if TYPE_CHECKING:
    from cartwise.service.service import Service

__all__ = ["MAX_RULE_CHARS", "count", "delete", "export_csv", "listing", "refresh", "save"]


def _time(value: Any) -> str | None:
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value.replace(tzinfo=None).isoformat() + "Z"


def _check_rule(rule: str) -> str:
    if len(rule) > MAX_RULE_CHARS:
        raise InputError(f"`rule` has {len(rule):,} characters; keep it under {MAX_RULE_CHARS:,}.")
    return rule


def listing(service: Service) -> dict[str, Any]:
    """Saved audiences with their latest size and size history (oldest first)."""
    with service.require_gate() as store:
        saved = job.list_audiences(store)
    return {
        "audiences": [
            {
                **a,
                "created_at": _time(a["created_at"]),
                "updated_at": _time(a["updated_at"]),
                "history": [
                    {**h, "computed_at": _time(h["computed_at"]), "now": _time(h["now"])}
                    for h in a["history"]
                ],
            }
            for a in saved
        ]
    }


def count(service: Service, rule_or_name: str, now: datetime | None = None) -> dict[str, Any]:
    """The live count of a rule or a saved audience (which adds to its size history)."""
    with service.require_gate() as store:
        result = job.count_audience(store, _check_rule(rule_or_name), now)
    return {**result, "now": _time(result["now"])}


def save(
    service: Service, name: str, rule: str, description: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Save or replace audience `name`."""
    with service.require_gate() as store:
        return job.save_audience(store, name, _check_rule(rule), description, now)


def refresh(service: Service, now: datetime | None = None) -> dict[str, Any]:
    """Count every saved audience and add the sizes to their history."""
    with service.require_gate() as store:
        result = job.refresh_audiences(store, now)
    return {**result, "now": _time(result["now"])}


def export_csv(
    service: Service, rule_or_name: str, now: datetime | None = None, *, saved_only: bool = False
) -> tuple[str, dict[str, Any]]:
    """The members as CSV text, and the export's summary; with `saved_only`, NotFoundError unless
    `rule_or_name` is a saved audience's name."""
    buffer = io.StringIO()
    with service.require_gate() as store:
        if saved_only and job.resolve(store, rule_or_name)[0] is None:
            raise NotFoundError(f"No audience named {rule_or_name!r}; `GET /api/v1/audiences` lists them.")
        summary = job.export_audience(store, _check_rule(rule_or_name), buffer, now)
    return buffer.getvalue(), {**summary, "now": _time(summary["now"])}


def delete(service: Service, name: str) -> dict[str, Any]:
    """Delete saved audience `name` and its history."""
    with service.require_gate() as store:
        job.delete_audience(store, name)
    return {"name": name, "deleted": True}
