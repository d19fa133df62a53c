"""Campaigns API: broadcasts (admin), results and previews (read), and the links in messages.

The open pixel, click redirects and the unsubscribe link need no sign-in: each carries a token
signed with the store's link key, and an altered token is refused. Unsubscribing follows RFC
8058: a `POST` (what mail clients send for `List-Unsubscribe-Post: List-Unsubscribe=One-Click`)
withdraws consent at once; a `GET` (a person clicking the link) shows a one-button form, so
link scanners that prefetch URLs never unsubscribe anyone.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cartwise.api.auth import Principal, require_admin, require_read, service_of
from cartwise.api.feature_models import CampaignList, CampaignSent, MessagePreview
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.pages import campaigns as page  # registers the Campaigns page
from cartwise.service import campaigns as running

_ERRORS = error_responses(
    {
        400: "Invalid parameter (the message names it)",
        **AUTH_ERRORS,
        422: "The body does not match the schema",
    }
)
router = APIRouter(prefix="/api/v1", tags=["campaigns"], responses=_ERRORS)
Read = Annotated[Principal, Depends(require_read)]
Admin = Annotated[Principal, Depends(require_admin)]
_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class CampaignSend(BaseModel):
    """`POST /api/v1/campaigns` body: the flags of `cartwise campaigns send`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "win-back-may", "rule": "p_alive < 0.3", "template": "win_back", "holdout": 0.1}
            ]
        },
    )

    name: str = Field(
        ..., min_length=1, max_length=120, description="Campaign name; sending it again resumes it."
    )
    rule: str = Field(..., max_length=2000, description="Audience: a rule over profile fields.")
    template: str = Field(..., max_length=120, description="Template name, e.g. `win_back`.")
    channel: str = Field("email", description="`email` or `webhook`.")
    holdout: float = Field(
        0.1, ge=0, lt=1, description="Share of the audience that gets nothing and is measured."
    )
    attribution_days: float | None = Field(
        None,
        gt=0,
        le=365,
        description="Days after the send in which an order counts as a conversion; kept with the "
        "campaign (default: the `attribution_days` setting when it starts).",
    )


@router.post("/campaigns", response_model=CampaignSent, response_model_exclude_unset=True)
def send(body: CampaignSend, request: Request, who: Admin) -> dict[str, Any]:
    """Send (or resume) a broadcast; returns `{"campaign", "audience", "holdout", "sent", "skipped"}`."""
    return running.broadcast(
        service_of(request),
        body.name,
        rule=body.rule,
        template=body.template,
        channel=body.channel,
        holdout=body.holdout,
        attribution_days=body.attribution_days,
    )


@router.get("/campaigns", response_model=CampaignList, response_model_exclude_unset=True)
def list_campaigns(request: Request, who: Read) -> dict[str, Any]:
    """Every campaign with counts, opens, clicks, conversions and incremental revenue (95% interval)."""
    return page.campaigns_page(service_of(request))


@router.get("/campaigns/preview", response_model=MessagePreview, response_model_exclude_unset=True)
def preview(
    request: Request,
    who: Read,
    template: Annotated[str, Query(max_length=120, description="Template name.")],
    user_id: Annotated[str, Query(max_length=200, description="Customer to render it for.")],
) -> dict[str, Any]:
    """A template rendered for one customer: subject, HTML and text."""
    return running.preview(service_of(request), template, user_id)


@router.get("/campaigns/open/{token}", include_in_schema=False)
def opened(token: str, request: Request) -> Response:
    running.record_open(service_of(request), token)
    return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@router.get("/campaigns/click/{token}", include_in_schema=False)
def clicked(token: str, request: Request) -> Response:
    return RedirectResponse(running.record_click(service_of(request), token), status_code=302)


@router.get("/campaigns/unsubscribe/{token}", include_in_schema=False)
def unsubscribe_form(token: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><title>Unsubscribe</title><p>Stop receiving these messages?</p>"
        f'<form method="post" action="{escape(token)}"><button type="submit">Unsubscribe</button></form>'
    )


@router.post("/campaigns/unsubscribe/{token}", include_in_schema=False)
def unsubscribe(token: str, request: Request) -> HTMLResponse:
    running.unsubscribe(service_of(request), token)
    return HTMLResponse("<!doctype html><title>Unsubscribed</title><p>You are unsubscribed.</p>")
