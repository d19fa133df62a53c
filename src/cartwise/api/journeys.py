"""Journeys API: apply a journey file while the server runs (admin), list them and show one
with its versions, definition and per-step counts (read): the JSON twin a journey diagram
and editor need.

`PUT /api/v1/journeys/{name}` takes the same file as `cartwise journeys apply`, as the raw
request body (YAML or JSON); the file's `name` must be the path's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from cartwise.api.auth import Principal, require_admin, require_read, service_of
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.core.errors import InputError
from cartwise.service import journeys as running

_ERRORS = error_responses(
    {
        400: "Invalid journey file (the message names the line and the fix)",
        **AUTH_ERRORS,
        404: "No such journey",
    }
)
router = APIRouter(prefix="/api/v1", tags=["journeys"], responses=_ERRORS)
Read = Annotated[Principal, Depends(require_read)]
Admin = Annotated[Principal, Depends(require_admin)]
Name = Annotated[str, Path(min_length=1, max_length=80, description="The journey's `name`.")]
_FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The journey file, YAML or JSON, as `cartwise journeys apply FILE` takes it.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class JourneyApplied(_Open):
    journey: str = Field(description="The journey's name.")
    version: int = Field(description="The version new customers now enter.")
    changed: bool = Field(description="False when the file was the newest version already (nothing saved).")


class JourneyValid(_Open):
    journey: str
    valid: bool


class JourneyList(_Open):
    journeys: list[dict[str, Any]] = Field(
        description="Each journey's newest version: trigger, active, customers by run state "
        "(active, waiting, done, exited, skipped)."
    )


class JourneyDetail(_Open):
    journey: str
    version: int = Field(description="The newest version.")
    versions: list[dict[str, Any]] = Field(
        description="Each version, newest first: definition (text and parsed steps with paths), runs by "
        "state, and per step path the count of each outcome (entered, waited, sent, skipped:REASON, "
        "branch:then, variant:a, done, exited:REASON) and the customers there now (`here_now`)."
    )


async def _text(request: Request) -> str:
    raw = await request.body()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("The journey file is not UTF-8 text; save it as UTF-8.", parameter="body") from exc


@router.put("/journeys/{name}", response_model=JourneyApplied, openapi_extra=_FILE_BODY)
async def apply(request: Request, who: Admin, name: Name) -> dict[str, Any]:
    """Apply a journey file: the same text again keeps its version; a changed one is the next
    version, which new customers enter while those in flight finish theirs."""
    text = await _text(request)
    checked = running.validate(service_of(request), text)
    if checked["journey"] != name:
        raise InputError(
            f"The file's name is {checked['journey']!r} but the path says {name!r}; PUT it to "
            f"/api/v1/journeys/{checked['journey']} or change `name:` in the file.",
            parameter="name",
        )
    return running.apply(service_of(request), text)


@router.post("/journeys/validate", response_model=JourneyValid, openapi_extra=_FILE_BODY)
async def validate(request: Request, who: Read) -> dict[str, Any]:
    """Check a journey file without saving it (400 with the line and the fix when it is refused)."""
    return running.validate(service_of(request), await _text(request))


@router.get("/journeys", response_model=JourneyList)
def list_journeys(request: Request, who: Read) -> dict[str, Any]:
    """Every journey's newest version with its trigger and customers by run state."""
    return {"journeys": running.listed(service_of(request))}


@router.get("/journeys/{name}", response_model=JourneyDetail)
def show(request: Request, who: Read, name: Name) -> dict[str, Any]:
    """One journey: every version's definition, runs by state and per-step counts."""
    return running.shown(service_of(request), name)
