"""The Recommendations page: the model serving, offline metrics of each model, online results,
and customers to try recommendations on."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cartwise.pages.dashboard import Page, register_page
from cartwise.service.recs import recs_for

if TYPE_CHECKING:
    from cartwise.service.service import Service


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} min"


def offline_note(offline: dict[str, Any], now: datetime | None = None) -> str:
    """What the page says about the offline evaluation: its split, or when it will be ready
    (from `started_at` and `eta_seconds`), or why there is none."""
    if offline.get("error"):
        return f"failed: {offline['error']}"
    status = offline.get("status")
    if status == "disabled":
        return "not configured"
    if status == "waiting":
        return "runs after the first training (`cartwise recs train` or Retrain now)"
    if status == "queued":
        return "queued: starts in a moment"
    if status == "running":
        began = datetime.fromisoformat(str(offline["started_at"]).removesuffix("Z")).replace(tzinfo=UTC)
        elapsed = ((now or datetime.now(UTC)) - began).total_seconds()
        eta = float(offline.get("eta_seconds") or 0)
        events = f"{int(offline.get('interactions') or 0):,} item events"
        ready_at = (began.timestamp() + eta) if eta else None
        if ready_at is not None and elapsed < eta:
            at = datetime.fromtimestamp(ready_at, UTC).strftime("%H:%M")
            timing = f"ready in about {_minutes(eta - elapsed)} (around {at} UTC, {offline.get('eta_basis')})"
        else:
            timing = f"taking longer than the {_minutes(eta)} estimated" if eta else "running"
        redo = "re-evaluating" if offline.get("models") else "evaluating"
        return f"{redo} {events}: {timing}"
    if offline.get("models"):
        return f"{offline.get('split')}, {int(offline.get('test_users') or 0):,} test users"
    return "queued: starts in a moment"


def recommendations_page(service: Service) -> dict[str, Any]:
    """The Recommendations page: the model serving, offline metrics of each model, online results,
    and customers to try recommendations on."""
    server = recs_for(service)
    offline = dict(server.offline) if server.offline is not None else {"status": "queued", "models": []}
    offline["note"] = offline_note(offline)
    return {
        "model": server.model_info(),
        "offline": offline,
        "online": server.online_metrics(),
        "example_users": server.example_users(),
    }


register_page(
    Page(
        "recommendations",
        "Recommendations",
        40,
        "What each shopper is likely to want next, and what recommendations earn.",
        data=recommendations_page,
        template="recommendations.html",
    )
)
