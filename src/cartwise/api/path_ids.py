"""Ids in URL paths: an id holding `/` (sent as `%2F`) must reach its route as one segment.

Servers decode the path before routing, so `/api/v1/customers/a%2Fb` would be routed as
`/customers/a/b` and answer "No such endpoint". `EncodedIds`, a pure ASGI middleware, routes
the paths that carry ids from the raw path instead, decoding every escape except `%2F` and
`%25` (`/` and `%`); the route then takes the id as one segment and `path_id` decodes those
two. Every id the store accepts is reachable this way; a raw `/` still separates segments.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

ID_PATHS = ("/api/v1/customers/", "/api/v1/recommendations/", "/api/v1/items/")
"""Prefixes of the routes that take an id in the path."""
_KEPT = re.compile(r"(%2[fF]|%25)")
_ESCAPE = re.compile(r"%2F|%25")


def route_path(raw: str) -> str:
    """The raw path with every escape decoded except `%2F` and `%25` (written upper-case)."""
    parts = _KEPT.split(raw)
    return "".join(part.upper() if i % 2 else unquote(part) for i, part in enumerate(parts))


def path_id(segment: str) -> str:
    """The id a route got from its path: `%2F` and `%25` (left by `EncodedIds`) decoded."""
    return _ESCAPE.sub(lambda m: "/" if m.group() == "%2F" else "%", segment) if "%" in segment else segment


class EncodedIds:
    """Routes id-carrying paths with `%2F` and `%25` still encoded (see the module's doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(ID_PATHS):
            raw = scope.get("raw_path")
            if raw and b"%" in raw:
                scope = {**scope, "path": route_path(raw.decode("latin-1"))}
        await self.app(scope, receive, send)
