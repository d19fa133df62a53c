"""The Campaigns page: every broadcast with its counts and what it earned over its holdout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cartwise.pages import dashboard
from cartwise.service import campaigns as running

if TYPE_CHECKING:
    from cartwise.service.service import Service


def campaigns_page(service: Service) -> dict[str, Any]:
    """`{"campaigns": [...], "templates": [...]}`: see `pipelines.campaign_results.measure` for a campaign's fields."""
    return {"campaigns": running.results(service), "templates": running.template_names(service)}


dashboard.register_page(
    dashboard.Page(
        "campaigns",
        "Campaigns",
        60,
        "Broadcasts, who got them, and what they earned beyond the holdout.",
        data=campaigns_page,
        template="campaigns.html",
    )
)
