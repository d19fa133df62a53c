"""Who is calling: a `Bearer` API key, or the dashboard's signed session cookie.

- A key's scope decides what it may do (`cartwise.service.keys.GRANTS`).
- A dashboard session (admin key or user and password) acts as `admin`; it is an
  itsdangerous-signed, HttpOnly, SameSite=Lax cookie holding the subject and a CSRF token.
  State-changing requests authenticated by the cookie must echo that token (form field
  `csrf_token` or header `X-CSRF-Token`); Bearer requests need none (browsers never add them).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from cartwise.service.keys import GRANTS
from cartwise.service.service import Service

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

    def may(self, scope: str) -> bool:
        return scope in GRANTS.get(self.scope, frozenset())


def service_of(request: Request) -> Service:
    return request.app.state.service


def _serializer(service: Service) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(service.session_secret, salt="cartwise-session")


def make_session(service: Service, *, kind: str, name: str, key_id: str | None = None) -> tuple[str, str]:
    """A signed session cookie value and its CSRF token."""
    csrf = secrets.token_urlsafe(24)
    value = _serializer(service).dumps({"kind": kind, "name": name, "key_id": key_id, "csrf": csrf})
    return value, csrf


def session_principal(request: Request) -> Principal | None:
    """The signed-in dashboard user, if the session cookie is valid and unexpired."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    service = service_of(request)
    try:
        data: dict[str, Any] = _serializer(service).loads(
            raw, max_age=int(service.settings.session_hours * 3600)
        )
    except BadSignature:
        return None
    key_id = data.get("key_id")
    # A session opened with a key ends when the key is revoked.
    if data.get("kind") == "key" and (not key_id or not service.keyring.is_active(key_id)):
        return None
    return Principal(str(data.get("kind")), str(data.get("name")), "admin", key_id, str(data.get("csrf")))


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
