"""Who is calling: a `Bearer` API key, or a dashboard session cookie (sessions live on the server).

- A key's scope decides what it may do (`cartwise.service.keys.GRANTS`).
- A dashboard session (admin key or user and password) acts as `admin`. It lives on the server
  (`cartwise.service.sessions`); its HttpOnly, SameSite=Lax cookie holds only a random token.
  State-changing requests authenticated by the cookie must echo the session's CSRF token (form
  field `csrf_token` or header `X-CSRF-Token`); Bearer requests need none (browsers never add them).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import HTTPException, Request

from cartwise.service.keys import GRANTS
from cartwise.service.service import Service
from cartwise.service.sessions import csrf_token

SESSION_COOKIE = "cartwise_session"
LOGIN_CSRF_COOKIE = "cartwise_login_csrf"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Principal:
    kind: str  # "key" or "user"
    name: str
    scope: str
    key_id: str | None = None
    csrf: str | None = None  # set for cookie sessions only
    session_id: str | None = None  # set for cookie sessions only

    def may(self, scope: str) -> bool:
        return scope in GRANTS.get(self.scope, frozenset())


def service_of(request: Request) -> Service:
    return request.app.state.service


def session_principal(request: Request) -> Principal | None:
    """The signed-in dashboard user, if the session cookie names a live session."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    info = service_of(request).session(token)
    if info is None:
        return None
    return Principal(info.kind, info.name, "admin", info.key_id, csrf_token(token), info.session_id)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="cartwise"'})


def key_principal(service: Service, header: str) -> Principal:
    """The key named by an `Authorization` header value, or 401."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("The Authorization header must be `Bearer <key>`.")
    info = service.verify_key(token.strip())
    if info is None:
        raise _unauthorized("The API key is unknown or revoked; create one with `cartwise keys create`.")
    return Principal("key", info.name, info.scope, info.key_id)


def check_scope(who: Principal, scope: str) -> None:
    """403 unless `who` holds `scope`."""
    if not who.may(scope):
        raise HTTPException(
            403, f"This key has scope `{who.scope}`; this endpoint needs `{scope}` (or `admin`)."
        )


def principal(request: Request) -> Principal:
    """The caller, or 401: a bad key is refused even when a session cookie is present."""
    header = request.headers.get("authorization")
    if header is not None:
        return key_principal(service_of(request), header)
    session = session_principal(request)
    if session is None:
        raise _unauthorized(
            "No credentials: send `Authorization: Bearer <key>` (create one with `cartwise keys create`) or sign in."
        )
    if request.method in _UNSAFE:
        sent = request.headers.get("x-csrf-token", "")
        if not session.csrf or not hmac.compare_digest(sent, session.csrf):
            raise HTTPException(
                403, "Missing or wrong X-CSRF-Token header for a signed-in request; reload the page."
            )
    return session


class Require:
    """Dependency: the caller must hold `scope` (401 without credentials, 403 without the scope)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def __call__(self, request: Request) -> Principal:
        # async: a plain function would cost every request a hop to the thread pool.
        who = principal(request)
        check_scope(who, self.scope)
        return who


require_collect = Require("collect")
require_read = Require("read")
require_admin = Require("admin")
