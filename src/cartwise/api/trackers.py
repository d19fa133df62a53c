"""Segment- and PostHog-compatible collection, answered by the collector lane (`api.collect`).

Segment: `POST /v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`,
`/v1/group`, `/v1/alias`, the write key as HTTP Basic user (a `collect` key; `writeKey` in
the body also works). PostHog: `POST /batch/`, `/capture/`, `/e/`, `/i/v0/e/` with the
project key as `api_key` (or `token`) in the body, or as `properties.token` of the first
event (posthog-js), a `collect` key too. Bodies may be gzip (`Content-Encoding: gzip`), and
PostHog bodies may come as posthog-js sends them: `?compression=gzip-js` (a gzip body without
the header), `?compression=base64` (a form field `data=` holding base64 of the JSON) or a
plain `data=` form field; a JSON array is a batch, and a batched event's `offset` (ms before
sending) stands in for its `timestamp`.
Both answer 200 once the mapped events are durable, with `accepted`, `duplicates` and
`rejected` (`index`: the message's position in the request) as `POST /api/v1/events` does.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import HTTPException

from cartwise.api.auth import check_scope, key_principal
from cartwise.service.service import Service
from cartwise.service.trackers import Mapped, posthog_events, segment_events

SEGMENT_PATHS: dict[str, str | None] = {
    "/v1/batch": None,
    "/v1/track": "track",
    "/v1/identify": "identify",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/group": "group",
    "/v1/alias": "alias",
}
POSTHOG_PATHS = frozenset({"/batch/", "/capture/", "/e/", "/i/v0/e/", "/batch", "/capture", "/e", "/i/v0/e"})
TRACKER_PATHS = frozenset(SEGMENT_PATHS) | POSTHOG_PATHS
MAX_MESSAGES = 1000
MAX_INFLATED = 16 * 1024 * 1024
"""Largest request body once gunzipped, in bytes."""


POSTHOG_COMPRESSIONS = ("gzip-js", "gzip", "base64")
"""posthog-js's `?compression=` values that the PostHog endpoints read."""


def _inflate(body: bytes, headers: Mapping[str, str], force: bool = False) -> bytes:
    if not force and headers.get("content-encoding", "").lower() != "gzip":
        return body
    try:
        inflater = zlib.decompressobj(wbits=31)
        data = inflater.decompress(body, MAX_INFLATED)
    except zlib.error:
        raise HTTPException(400, "The body says `Content-Encoding: gzip` but is not gzip data.") from None
    if inflater.unconsumed_tail:
        raise HTTPException(
            413, f"The gunzipped body is larger than {MAX_INFLATED} bytes; send smaller batches."
        )
    return data


def _query(query_string: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(query_string, keep_blank_values=True).items()}


def _posthog_body(body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> bytes:
    """The JSON text of a PostHog request, however posthog-js encoded it (module docstring)."""
    compression = query.get("compression", "")
    if compression and compression not in POSTHOG_COMPRESSIONS:
        raise HTTPException(
            400,
            f"`compression={compression}` is not read; use gzip-js, base64 or none "
            "(posthog-js picks one of these when the server's answer to /flags or /decide "
            "does not offer lz64).",
        )
    gzipped = compression in ("gzip-js", "gzip") or body[:2] == b"\x1f\x8b"
    body = _inflate(body, headers, force=gzipped)
    if gzipped or not body.startswith(b"data="):
        return body
    try:
        field = parse_qs(body.decode("ascii"), strict_parsing=True).get("data", [""])[-1]
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "The form body is not `data=` with URL-encoded text.") from None
    if compression != "base64":
        return field.encode()
    try:
        return base64.b64decode(field, validate=True)
    except binascii.Error:
        raise HTTPException(
            400, "`compression=base64`, but the form field `data` is not base64 text."
        ) from None


def _basic_key(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        raise HTTPException(401, "The Basic credentials are not valid base64 of `WRITE_KEY:`.") from None
    return user or None


def _authorize(service: Service, header: str | None, body_key: Any) -> None:
    key = _basic_key(header)
    if key is None and header and header.lower().startswith("bearer "):
        check_scope(key_principal(service, header), "collect")
        return
    key = key or (body_key if isinstance(body_key, str) and body_key else None)
    if key is None:
        raise HTTPException(
            401,
            "No key: send a `collect` key as the Basic user (Segment) or as `api_key` in the body (PostHog).",
        )
    check_scope(key_principal(service, f"Bearer {key}"), "collect")


def _messages(payload: dict[str, Any] | list[Any], single: bool) -> list[Any]:
    if isinstance(payload, list):  # posthog-js sends a batch as a bare array
        if not payload:
            raise HTTPException(400, "The body is an empty list; send at least one event.")
        return payload
    if "batch" in payload:
        batch = payload["batch"]
        if not isinstance(batch, list) or not batch:
            raise HTTPException(400, "`batch` must be a non-empty list of messages.")
        return batch
    if not single:
        raise HTTPException(400, "The body needs `batch`, a list of messages.")
    return [payload]


def _posthog_key(payload: dict[str, Any] | list[Any]) -> Any:
    """The project key of a PostHog body: `api_key` or `token`, else the first event's `properties.token`."""
    first = payload if isinstance(payload, dict) else (payload[0] if payload else None)
    if not isinstance(first, dict):
        return None
    if isinstance(payload, dict) and (payload.get("api_key") or payload.get("token")):
        return payload.get("api_key") or payload.get("token")
    if isinstance(payload, dict) and isinstance(payload.get("batch"), list) and payload["batch"]:
        first = payload["batch"][0] if isinstance(payload["batch"][0], dict) else {}
    properties = first.get("properties")
    return properties.get("token") if isinstance(properties, dict) else None


async def answer(
    service: Service, path: str, headers: Mapping[str, str], raw: bytes, query_string: str = ""
) -> dict[str, Any]:
    """Map, check and collect one tracker request; raises HTTPException for the whole request."""
    segment = path in SEGMENT_PATHS
    text = _inflate(raw, headers) if segment else _posthog_body(raw, headers, _query(query_string))
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise HTTPException(400, "The body is not JSON.") from None
    if not isinstance(payload, dict) and (segment or not isinstance(payload, list)):
        raise HTTPException(400, "The body must be a JSON object" + ("." if segment else " or array."))
    if segment:
        assert isinstance(payload, dict)
        body_key = payload.get("writeKey")
    else:
        body_key = _posthog_key(payload)
    _authorize(service, headers.get("authorization"), body_key)
    if segment:
        kind = SEGMENT_PATHS[path]
        assert isinstance(payload, dict)
        messages = _messages(payload, kind is not None)
        mapped: Mapped = segment_events(messages, kind)
    else:
        messages = _messages(payload, True)
        mapped = posthog_events(messages, received=datetime.now(UTC))
    if len(messages) > MAX_MESSAGES:
        raise HTTPException(413, f"{len(messages)} messages in one request; send at most {MAX_MESSAGES}.")
    collector = service.collector
    if collector is None:
        raise HTTPException(503, "The collector is not running.")
    accepted, duplicates, rejected = 0, 0, list(mapped.rejected)
    if mapped.events:
        ack = await collector.submit_async(mapped.events)
        accepted, duplicates = ack.accepted, ack.duplicates
        rejected += [{"index": mapped.owners[r["index"]], "reason": r["reason"]} for r in ack.rejected]
    rejected.sort(key=lambda r: r["index"])
    result: dict[str, Any] = {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}
    return {"success": True, **result} if segment else {"status": 1, **result}
