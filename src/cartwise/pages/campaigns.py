"""The Campaigns page: every broadcast with its counts and what it earned over its holdout, and
every journey with its per-step counts and what its sends and splits earned."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cartwise.pages import dashboard
from cartwise.service import campaigns as running
from cartwise.service.journey_view import journey_overview

if TYPE_CHECKING:
    from cartwise.service.service import Service


def campaigns_page(service: Service) -> dict[str, Any]:
    """`{"campaigns": [...], "journeys": [...], "templates": [...]}`: see
    `pipelines.campaign_results.measure` for a campaign's fields and
    `service.journey_view.journey_overview` for a journey's."""
    return {
        "campaigns": running.results(service),
        "journeys": journey_overview(service),
        "templates": running.template_names(service),
    }


dashboard.register_page(
    dashboard.Page(
        "campaigns",
        "Campaigns",
        60,
        "Broadcasts and journeys, who got them, and what they earned.",
        data=campaigns_page,
        template="campaigns.html",
    )
)
