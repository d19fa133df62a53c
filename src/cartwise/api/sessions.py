"""Dashboard sessions: admins list them and end them (`/api/v1/sessions`, admin scope).

A session ends at logout, when an admin ends it here, when its user is removed or changes
password, when the key it was opened with is revoked, or `session_hours` after sign-in.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from cartwise.api.auth import Principal, require_admin, service_of
from cartwise.api.models import AUTH_ERRORS, error_responses

router = APIRouter(
    prefix="/api/v1", tags=["sessions"], responses=error_responses({**AUTH_ERRORS, 422: "Invalid parameter"})
)

Admin = Annotated[Principal, Depends(require_admin)]


class SessionOut(BaseModel):
    session_id: str = Field(..., description="Public handle of the session (not its cookie).")
    kind: str = Field(..., description="`user` (name and password) or `key` (signed in with an admin key).")
    name: str = Field(..., description="The user name, or the key's name.")
    key_id: str | None = Field(None, description="The key a `key` session was opened with.")
    created_at: str
    expires_at: str
    ended_at: str | None = Field(None, description="When it was ended; null while live.")
    ended_reason: str | None = Field(
        None, description="logout, ended by an admin, user removed, password changed or key revoked."
    )
    current: bool = Field(False, description="Whether this is the session making the request.")


def _out(info: Any, who: Principal) -> dict[str, Any]:
    return {**info.to_dict(), "current": info.session_id == who.session_id}


@router.get("/sessions", response_model=list[SessionOut])
def list_sessions(
    request: Request,
    who: Admin,
    all: Annotated[bool, Query(description="Also list ended and expired sessions.")] = False,
) -> list[dict[str, Any]]:
    """Live dashboard sessions, newest first (never their cookies)."""
    return [_out(s, who) for s in service_of(request).list_sessions(include_ended=all)]


@router.delete(
    "/sessions/{session_id}",
    response_model=SessionOut,
    responses=error_responses({404: "No session with this id"}),
)
def end_session(
    request: Request, who: Admin, session_id: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    """End a session at once: its cookie's next request gets 401. Ending it again changes nothing."""
    return _out(service_of(request).end_session(session_id, reason="ended by an admin"), who)
