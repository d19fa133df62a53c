"""JSON errors: every failure the API answers is `{"error", "message", "fields"}`, never HTML."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cartwise.core.errors import CartwiseError, ConfigError, InputError, NotFoundError, StoreError
from cartwise.jobs.collector import CollectorBusy

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
}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": code or _CODES.get(status, "error"), "message": message, "fields": fields or []}
    return JSONResponse(body, status_code=status, headers=headers)


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


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "")
        return error_response(
            400,
            f"The body is not valid JSON ({reason}); send a JSON document with Content-Type: application/json.",
            code="invalid_json",
        )
    fields = [{"field": _field_name(tuple(e["loc"])), "problem": _problem(e)} for e in errors[:20]]
    summary = "; ".join(f"`{f['field']}` {f['problem']}" for f in fields[:3])
    return error_response(422, f"The request is invalid: {summary}.", fields=fields)


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
    if isinstance(exc, CollectorBusy):
        return error_response(503, str(exc), code="busy", headers={"Retry-After": "2"})
    if isinstance(exc, NotFoundError):
        return error_response(404, str(exc))
    if isinstance(exc, StoreError):
        return error_response(503, str(exc))
    if isinstance(exc, InputError | ConfigError):
        return error_response(400, str(exc))
    return error_response(400, str(exc))


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "An unexpected error happened; it has been logged.", code="internal_error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(CartwiseError, _cartwise_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
