"""Dashboard HTML routes: sign-in, sign-out and the registered pages.

Each page renders from `cartwise.pages.dashboard.page_payload`, the same dictionary its JSON
twin `/api/v1/pages/<slug>` returns; the page's script then keeps it fresh from the API.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cartwise import __version__
from cartwise.api.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, service_of, session_principal
from cartwise.core.errors import SignInBusy
from cartwise.pages import dashboard
from cartwise.web import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _money(value: Any) -> str:
    return f"{float(value or 0):,.2f}"


def _number(value: Any) -> str:
    return f"{int(value or 0):,}"


def _percent(value: Any) -> str:
    return f"{float(value or 0) * 100:.1f}%"


COMPACT_FROM = 100_000  # the same threshold as `formats.compact` in web/static/common.js
_UNITS = ("", "K", "M", "B", "T")


def _exact(value: Any, kind: str = "number") -> str:
    """The full figure in `kind` ("number", "money", "percent"); "—" when missing."""
    if value is None:
        return "—"
    return {"money": _money, "percent": _percent}.get(kind, _number)(value)


def _compact(value: Any, kind: str = "number") -> str:
    """A card's figure as common.js's `formats.compact` writes it: exact below COMPACT_FROM,
    else one decimal and a unit (2,097,258 -> "2.1M"); the exact value goes in the title."""
    if value is None:
        return "—"
    number = float(value)
    if abs(number) < COMPACT_FROM or kind == "percent":
        return _exact(value, kind)
    unit = 0
    while unit < len(_UNITS) - 1 and round(abs(number), 1) >= 1000:
        number /= 1000
        unit += 1
    text = f"{round(number, 1):.1f}".removesuffix(".0")
    return text + _UNITS[unit]


def _figure_title(value: Any, kind: str = "number") -> str:
    """The title of a card's figure: the exact value when the card shows it compacted."""
    exact = _exact(value, kind)
    return "" if _compact(value, kind) == exact else exact


templates.env.filters.update(
    money=_money, number=_number, percent=_percent, compact=_compact, figure_title=_figure_title
)


def _safe_next(target: str | None) -> str:
    # Only same-site paths, so the login form cannot be used to redirect elsewhere.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/overview"


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    status: int = 200,
    next_url: str = "/overview",
    retry_after: int | None = None,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"csrf_token": token, "error": error, "next": next_url, "version": __version__},
        status_code=status,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    if session_principal(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/overview",
) -> Response:
    """Sign in with a user and password, or with an admin key; sets the session cookie.

    Attempts are limited per user name and per client address (429 with Retry-After), checked
    before any password is hashed; see `cartwise.service.signin`.
    """
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(
            request, error="The form expired; please sign in again.", status=403, next_url=_safe_next(next)
        )
    service = service_of(request)
    address = request.client.host if request.client else "unknown"
    user = None if key.strip() else username.strip()
    refusal = service.signin.admit(user, address)
    if refusal is not None:
        return _login_page(
            request,
            error=refusal.message,
            status=429,
            next_url=_safe_next(next),
            retry_after=refusal.retry_after,
        )
    kind = name = key_id = None
    if key.strip():
        info = service.verify_key(key.strip())
        if info is not None and info.scope == "admin":
            kind, name, key_id = "key", info.name, info.key_id
    elif user and password:
        try:
            if service.verify_user(user, password):
                kind, name = "user", user
        except SignInBusy as exc:
            service.signin.withdraw(user, address)
            return _login_page(request, error=str(exc), status=503, next_url=_safe_next(next), retry_after=2)
    if kind is None or name is None:
        message = "That key is not an active admin key." if key.strip() else "Wrong user name or password."
        return _login_page(request, error=message, status=401, next_url=_safe_next(next))
    service.signin.succeeded(user, address)
    _info, token = service.open_session(kind=kind, name=name, key_id=key_id)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        max_age=int(service.settings.session_hours * 3600),
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    who = session_principal(request)
    if who is not None and (not who.csrf or not hmac.compare_digest(who.csrf, csrf_token)):
        raise HTTPException(403, "Missing or wrong csrf_token; reload the page and sign out again.")
    if who is not None and who.session_id is not None:
        service_of(request).end_session(who.session_id, reason="logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/overview", status_code=303)


@router.get("/{slug}", response_class=HTMLResponse)
def page(slug: str, request: Request) -> Response:
    if slug not in dashboard.PAGES:
        raise HTTPException(404, f"No dashboard page {slug!r}.")
    who = session_principal(request)
    if who is None:
        return RedirectResponse(f"/login?next=/{slug}", status_code=303)
    service = service_of(request)
    payload = service.run_read(dashboard.page_payload, service, slug)  # reads yield the CPU to the collector
    current = dashboard.PAGES[slug]
    template = f"pages/{current.template}" if current.template else "page.html"
    return templates.TemplateResponse(
        request,
        template,
        {
            "pages": dashboard.pages(),
            "current": current,
            "payload": payload,
            "user": who.name,
            "csrf_token": who.csrf,
            "version": __version__,
        },
    )
