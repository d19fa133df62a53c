"""The Recommendations page: the model serving, offline metrics of each model, online results,
and customers to try recommendations on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cartwise.pages.dashboard import Page, register_page
from cartwise.service.recs import recs_for

if TYPE_CHECKING:
    from cartwise.service.service import Service


def recommendations_page(service: Service) -> dict[str, Any]:
    """The Recommendations page: the model serving, offline metrics of each model, online results,
    and customers to try recommendations on."""
    server = recs_for(service)
    offline = server.offline
    return {
        "model": server.model_info(),
        "offline": offline if offline is not None else {"status": "computing", "models": []},
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
