"""Audiences API: saved audiences, live counts, size history and CSV export.

Listing and counting need the `read` scope (a saved audience's count adds to its size
history); saving, refreshing, deleting and exporting members (which carries e-mail addresses)
need `admin` (or a signed-in dashboard session sending its `X-CSRF-Token`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cartwise.api.auth import Principal, require_admin, require_read, service_of
from cartwise.api.feature_models import AudienceList, AudiencesRefreshed
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.service import audiences as service_audiences

_ERRORS = error_responses(
    {
        400: "Invalid rule or parameter (the message names the column of the rule and the fix)",
        **AUTH_ERRORS,
        422: "A parameter or the body does not match the schema",
    }
)
_NOT_FOUND = error_responses({404: "No audience of that name"})

router = APIRouter(prefix="/api/v1", tags=["audiences"], responses=_ERRORS)

Read = Annotated[Principal, Depends(require_read)]
Admin = Annotated[Principal, Depends(require_admin)]
Now = Annotated[
    datetime | None,
    Query(description="Evaluate as of this UTC time (windows end there); default: the current time."),
]
EXAMPLE = "did(add_to_cart, within=3d) and not did(purchase, within=3d)"


class AudienceCount(BaseModel):
    """`POST /api/v1/audiences/count` body: a rule, or the name of a saved audience."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rule": EXAMPLE}]})

    rule: str = Field(
        ...,
        min_length=1,
        max_length=service_audiences.MAX_RULE_CHARS,
        description="A rule, or a saved audience's name.",
    )
    now: datetime | None = Field(None, description="Evaluate as of this UTC time; default: now.")


class AudienceCreate(BaseModel):
    """`POST /api/v1/audiences` body."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "cart-abandoners", "rule": EXAMPLE}]}
    )

    name: str = Field(
        ...,
        min_length=1,
        max_length=80,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Audience name: letters, digits, -, _ and .",
    )
    rule: str = Field(
        ..., min_length=1, max_length=service_audiences.MAX_RULE_CHARS, description="The audience's rule."
    )
    description: str = Field("", max_length=500, description="What the audience is for.")
    now: datetime | None = Field(None, description="Count as of this UTC time; default: now.")


class CountOut(BaseModel):
    audience: str | None = Field(..., description="The saved audience's name, or null for a rule.")
    rule: str
    now: str = Field(..., description="The time the rule was evaluated at (ISO 8601, UTC).")
    size: int = Field(..., description="Customers matching.")
    total: int | None = Field(..., description="Customers known at `now` (profiles, users, event senders).")
    share: float | None = Field(..., description="size / total.")


class SavedOut(BaseModel):
    name: str
    rule: str
    description: str
    size: int
    replaced: bool = Field(..., description="True when an audience of that name was replaced.")


class DeletedOut(BaseModel):
    name: str
    deleted: bool


@router.get("/audiences", response_model=AudienceList, response_model_exclude_unset=True)
def list_audiences(request: Request, who: Read) -> dict[str, Any]:
    """Saved audiences with their rule, latest size and size history (oldest first)."""
    return service_audiences.listing(service_of(request))


@router.post("/audiences/count", response_model=CountOut)
def count(body: AudienceCount, request: Request, who: Read) -> dict[str, Any]:
    """The live count of a rule or a saved audience (a bad rule is a 400 naming its column)."""
    return service_audiences.count(service_of(request), body.rule, body.now)


@router.post("/audiences", response_model=SavedOut, status_code=201)
def save(body: AudienceCreate, request: Request, who: Admin) -> dict[str, Any]:
    """Save or replace an audience; its size now starts its history."""
    return service_audiences.save(service_of(request), body.name, body.rule, body.description, body.now)


@router.post("/audiences/refresh", response_model=AudiencesRefreshed, response_model_exclude_unset=True)
def refresh(request: Request, who: Admin, now: Now = None) -> dict[str, Any]:
    """Count every saved audience and add each size to its history."""
    return service_audiences.refresh(service_of(request), now)


@router.get(
    "/audiences/{name}/members.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "user_id, email and profile fields."},
        **_NOT_FOUND,
    },
)
def export(
    request: Request, who: Admin, name: Annotated[str, Path(max_length=80)], now: Now = None
) -> Response:
    """The members of a saved audience as CSV (user_id, email, profile fields), sorted by id."""
    text, _ = service_audiences.export_csv(service_of(request), name, now, saved_only=True)
    filename = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "audience"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


@router.delete("/audiences/{name}", response_model=DeletedOut, responses=_NOT_FOUND)
def delete(request: Request, who: Admin, name: Annotated[str, Path(max_length=80)]) -> dict[str, Any]:
    """Delete a saved audience and its size history."""
    return service_audiences.delete(service_of(request), name)
