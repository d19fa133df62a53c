"""JSON errors: every failure the API answers is `{"error", "message", "fields", "parameter"}`, never HTML.

`parameter` is the request parameter an error is about (e.g. `min_support`), or null; `fields`
names it with the problem. The CLI's `--json` errors carry the same `parameter` key."""

from __future__ import annotations

import logging
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from cartwise.core.errors import CartwiseError, ConfigError, NotFoundError, QueryTimeout, StoreError
from cartwise.service.collector import CollectorBusy

log = logging.getLogger("cartwise.api")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
    504: "query_timeout",
}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, code=code, fields=fields), status_code=status, headers=headers
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _problem(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "too_long" and err["loc"][-1] == "events":
        return (
            f"has {ctx.get('actual_length')} events; send at most {ctx.get('max_length')} per request "
            "(split the batch)"
        )
    if kind == "too_short" and err["loc"][-1] == "events":
        return "is empty; send at least one event"
    if kind == "extra_forbidden":
        return "is not a known field; remove it (event data goes inside `events`, extras in `properties`)"
    if kind == "missing":
        return "is required"
    return f"{err.get('msg', 'is invalid')} (got {str(err.get('input'))[:80]!r})"


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    return {
        "error": code or _CODES.get(status, "error"),
        "message": message,
        "fields": fields or [],
        "parameter": parameter,
    }


def validation_error(errors: list[Any]) -> tuple[int, dict[str, Any]]:
    """Status and body for request validation errors (pydantic's `errors()` list)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "")
        message = f"The body is not valid JSON ({reason}); send a JSON document with Content-Type: application/json."
        return 400, error_body(400, message, code="invalid_json")
    fields = [{"field": _field_name(tuple(e["loc"])), "problem": _problem(e)} for e in errors[:20]]
    summary = "; ".join(f"`{f['field']}` {f['problem']}" for f in fields[:3])
    # One query or path parameter at fault: name it as the API does (`grain`, not `query.grain`).
    places = {tuple(e["loc"][:2]) for e in errors}
    parameter = None
    if len(places) == 1 and errors[0]["loc"][0] in ("query", "path") and len(errors[0]["loc"]) > 1:
        parameter = str(errors[0]["loc"][1])
    return 422, error_body(422, f"The request is invalid: {summary}.", fields=fields, parameter=parameter)


def cartwise_error(exc: CartwiseError) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """Status, body and headers for an error raised by Cartwise's own code."""
    if isinstance(exc, CollectorBusy):
        return 503, error_body(503, str(exc), code="busy"), {"Retry-After": "2"}
    status = (
        404
        if isinstance(exc, NotFoundError)
        else 504
        if isinstance(exc, QueryTimeout)  # a read stopped by `read_timeout_seconds`
        else 503
        if isinstance(exc, StoreError)
        else 400
    )
    message = str(exc)  # the parameter named as the API names it: `min_support`
    fields = [] if exc.parameter is None else [{"field": exc.parameter, "problem": message}]
    return status, error_body(status, message, fields=fields, parameter=exc.parameter), None


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, body = validation_error(list(exc.errors()))
    return JSONResponse(body, status_code=status)


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"No such endpoint: {request.method} {request.url.path}; see /api/v1/openapi.json."
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /api/v1/openapi.json."
    return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _cartwise_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CartwiseError)
    status, body, headers = cartwise_error(exc)
    return JSONResponse(body, status_code=status, headers=headers)


def unexpected_error(method: str, path: str) -> dict[str, Any]:
    """Log the exception being handled; the body of the 500 that answers it (no details leak)."""
    log.exception("unexpected error on %s %s", method, path)
    return error_body(500, "An unexpected error happened; it has been logged.", code="internal_error")


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # The route's template (`/api/v1/customers/{user_id}`), not the path: a path can hold a
    # customer id, and the log outlives an erasure.
    route = getattr(request.scope.get("route"), "path", "(no route)")
    return JSONResponse(unexpected_error(request.method, route), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(CartwiseError, _cartwise_handler)
    app.add_exception_handler(Exception, _unexpected_handler)


def known_query_parameters(request: Request) -> None:
    """Refuse query parameters the matched route does not declare, naming them and the valid
    ones: a misspelt or misremembered parameter (`?by=month` for `grain`) otherwise answers
    silently with the default. An app-wide dependency, so it covers every route."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    given = list(dict.fromkeys(request.query_params.keys()))
    valid = _declared_query(route)
    unknown = [name for name in given if name not in valid]
    if not unknown:
        return
    others = ", ".join(f"`{name[:40]}`" for name in unknown[1:5])
    also = f" (so are {others})" if others else ""
    takes = f"it takes {', '.join(sorted(valid))}" if valid else "it takes no query parameters"
    raise ConfigError(
        f"unknown query parameter of {request.url.path}{also}; {takes} (see /api/v1/openapi.json).",
        parameter=unknown[0][:40],
    )


def _declared_query(route: APIRoute) -> frozenset[str]:
    """The route's query parameter names, computed once and kept on the route."""
    names = getattr(route, "_cartwise_query_names", None)
    if names is None:
        names = frozenset(_query_names(route.dependant))
        setattr(route, "_cartwise_query_names", names)  # noqa: B010 (not a declared attribute)
    return cast(frozenset[str], names)


def _query_names(dependant: Dependant) -> set[str]:
    """Names of the query parameters of a route and of its dependencies (as sent: the alias)."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
