"""Segment- and PostHog-compatible collection, answered by the collector lane (`api.collect`).

Segment: `POST /v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`,
`/v1/group`, `/v1/alias`, the write key as HTTP Basic user (a `collect` key; `writeKey` in
the body also works). PostHog: `POST /batch/`, `/capture/`, `/e/`, `/i/v0/e/` with the
project key as `api_key` (or `token`) in the body, a `collect` key too. Bodies may be gzip.
Both answer 200 once the mapped events are durable, with `accepted`, `duplicates` and
`rejected` (`index`: the message's position in the request) as `POST /api/v1/events` does.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any

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


def _inflate(body: bytes, headers: Mapping[str, str]) -> bytes:
    if headers.get("content-encoding", "").lower() != "gzip":
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


def _messages(payload: dict[str, Any], single: bool) -> list[Any]:
    if "batch" in payload:
        batch = payload["batch"]
        if not isinstance(batch, list) or not batch:
            raise HTTPException(400, "`batch` must be a non-empty list of messages.")
        return batch
    if not single:
        raise HTTPException(400, "The body needs `batch`, a list of messages.")
    return [payload]


async def answer(service: Service, path: str, headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    """Map, check and collect one tracker request; raises HTTPException for the whole request."""
    try:
        payload = orjson.loads(_inflate(raw, headers))
    except orjson.JSONDecodeError:
        raise HTTPException(400, "The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise HTTPException(400, "The body must be a JSON object.")
    segment = path in SEGMENT_PATHS
    body_key = payload.get("writeKey") if segment else payload.get("api_key", payload.get("token"))
    _authorize(service, headers.get("authorization"), body_key)
    if segment:
        kind = SEGMENT_PATHS[path]
        messages = _messages(payload, kind is not None)
        mapped: Mapped = segment_events(messages, kind)
    else:
        messages = _messages(payload, True)
        mapped = posthog_events(messages)
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
