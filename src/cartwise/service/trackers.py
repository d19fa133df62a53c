"""Messages from Segment's and PostHog's trackers as canonical events for the collector.

Segment (HTTP Tracking API, `POST /v1/batch|track|identify|page|screen|alias|group`) and
PostHog (`POST /batch/`, `/capture/`, `/e/`, `/i/v0/e/`) messages become the events that
`POST /api/v1/events` takes, so they share its validation, durability and answer. Segment's
e-commerce spec maps to the standard types (`ECOMMERCE`); `Order Completed` becomes one
`purchase` per entry of `products[]` (the order's lines). Any other event name is kept as
a custom type. `identify` and `alias` become events of those types, which identity
stitching (`ingest.identity`) turns into links and `users` rows.

A message that cannot be mapped is refused alone, with its position in the request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

ECOMMERCE: dict[str, str] = {
    "Product Viewed": "view",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Checkout Started": "begin_checkout",
    "Order Completed": "purchase",
    "Products Searched": "search",
    "Order Refunded": "refund",
}
"""Segment e-commerce event names (also accepted from PostHog) and their canonical types."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class _Refused(Exception):
    """A message that cannot be mapped; the text says why and how to fix it."""


@dataclass
class Mapped:
    """Canonical events of a request, the message each came from, and the messages refused."""

    events: list[dict[str, Any]] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, index: int, message: Any, convert: Callable[[dict[str, Any]], list[dict[str, Any]]]
    ) -> None:
        try:
            if not isinstance(message, dict):
                raise _Refused(f"a message must be a JSON object, got {type(message).__name__}")
            events = convert(message)
        except _Refused as exc:
            self.rejected.append({"index": index, "reason": str(exc)})
            return
        self.events.extend(events)
        self.owners.extend([index] * len(events))


def _object(message: dict[str, Any], name: str) -> dict[str, Any]:
    value = message.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Refused(f"`{name}` must be a JSON object, got {type(value).__name__}")
    return dict(value)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _check_traits(traits: dict[str, Any]) -> dict[str, Any]:
    email = traits.get("email")
    if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email)):
        raise _Refused(f"traits.email {email!r} is not an e-mail address (one `@` with text on both sides)")
    return traits


def _item(properties: dict[str, Any]) -> Any:
    for name in ("product_id", "sku", "id"):
        if properties.get(name) is not None:
            return properties.pop(name)
    return None


def commerce_events(base: dict[str, Any], name: str, properties: dict[str, Any]) -> list[dict[str, Any]]:
    """Events for a tracked event `name` with `properties` (`base`: id, time, user fields)."""
    kind = ECOMMERCE.get(name, name)
    if kind == "purchase" and isinstance(properties.get("products"), list):
        products = properties.pop("products")
        order_id = properties.pop("order_id", None) or base["event_id"]
        lines = []
        for n, product in enumerate(products):
            if not isinstance(product, dict):
                raise _Refused(
                    f"properties.products[{n}] must be a JSON object, got {type(product).__name__}"
                )
            line = dict(product)
            event = {**base, "event_id": f"{base['event_id']}:{n}", "type": "purchase", "order_id": order_id}
            event["item_id"] = _item(line)
            event["quantity"] = line.pop("quantity", 1)
            event["price"] = line.pop("price", None)
            event["properties"] = {**properties, **line} or None
            lines.append(event)
        if lines:
            return lines
    event = {**base, "type": kind}
    if kind in ("view", "add_to_cart", "remove_from_cart", "begin_checkout", "purchase", "refund"):
        event["item_id"] = _item(properties) if kind not in ("begin_checkout", "refund") else None
        event["quantity"] = properties.pop("quantity", None)
        event["price"] = properties.pop("price", None)
        event["order_id"] = properties.pop("order_id", None)
    if kind in ("purchase", "refund", "begin_checkout"):
        total = properties.pop("revenue", None)
        total = properties.pop("total", None) if total is None else total
        if isinstance(total, int | float) and not isinstance(total, bool):
            event["revenue"] = -abs(total) if kind == "refund" else total
        elif total is not None:
            properties["revenue"] = total
    event["properties"] = properties or None
    return [{k: v for k, v in event.items() if v is not None}]


def _segment_message(kind: str | None) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    def convert(message: dict[str, Any]) -> list[dict[str, Any]]:
        what = kind or message.get("type")
        message_id, ts = _text(message.get("messageId")), message.get("timestamp")
        if message_id is None:
            raise _Refused("`messageId` is missing; Segment's libraries set it, send a unique id per message")
        if ts is None:
            raise _Refused("`timestamp` is missing; send the time of the message (ISO 8601)")
        user, anonymous = _text(message.get("userId")), _text(message.get("anonymousId"))
        context = _object(message, "context")
        base: dict[str, Any] = {"event_id": message_id, "ts": ts}
        if what == "alias":
            previous = _text(message.get("previousId"))
            if user is None or previous is None:
                raise _Refused("an alias needs `userId` and `previousId`")
            return [{**base, "type": "alias", "user_id": user, "anonymous_id": previous}]
        if user is None and anonymous is None:
            raise _Refused("a message needs `userId` or `anonymousId`")
        base["user_id"] = user or anonymous
        if anonymous is not None:
            base["anonymous_id"] = anonymous
        if what == "identify":
            traits = _object(message, "traits") or _object(context, "traits")
            return [{**base, "type": "identify", "properties": _check_traits(traits) or None}]
        properties = _object(message, "properties")
        if properties.get("session_id") is not None:
            base["session_id"] = _text(properties.pop("session_id"))
        if context:
            properties["context"] = context
        if what == "track":
            name = _text(message.get("event"))
            if name is None:
                raise _Refused("a track message needs `event`, the event's name")
            return commerce_events(base, name, properties)
        if what in ("page", "screen"):
            if message.get("name") is not None:
                properties["name"] = message["name"]
            return [{**base, "type": what, "properties": properties or None}]
        if what == "group":
            properties = {"group_id": message.get("groupId"), "traits": _object(message, "traits")}
            return [{**base, "type": "group", "properties": properties}]
        raise _Refused(f"unknown message type {what!r}; use track, identify, page, screen, group or alias")

    return convert


def segment_events(messages: list[Any], kind: str | None = None) -> Mapped:
    """Map Segment messages (`kind` given by a single-message endpoint, else each `type`)."""
    mapped = Mapped()
    convert = _segment_message(kind)
    for index, message in enumerate(messages):
        mapped.add(index, message, convert)
    return mapped


def _sent_time(message: dict[str, Any], received: datetime | None) -> Any:
    """`timestamp`, or the receipt time less `offset` (ms), which posthog-js's batches send instead."""
    ts = message.get("timestamp")
    offset = message.get("offset")
    if ts is not None or received is None or offset is None:
        return ts
    if isinstance(offset, bool) or not isinstance(offset, int | float) or not 0 <= offset < 1e12:
        raise _Refused(f"`offset` {offset!r} is not a number of milliseconds before sending (0 or more)")
    return (received - timedelta(milliseconds=offset)).isoformat()


def _posthog_message(message: dict[str, Any], received: datetime | None = None) -> list[dict[str, Any]]:
    name = _text(message.get("event"))
    properties = _object(message, "properties")
    properties.pop("token", None)  # the project key (posthog-js puts it in every event)
    distinct = _text(message.get("distinct_id")) or _text(properties.pop("distinct_id", None))
    event_id = _text(message.get("uuid"))
    ts = _sent_time(message, received)
    if name is None:
        raise _Refused("`event` is missing: the event's name")
    if event_id is None or ts is None:
        raise _Refused("`uuid` and `timestamp` (or `offset`) are required; PostHog's libraries set both")
    base: dict[str, Any] = {"event_id": event_id, "ts": ts}
    if name == "$create_alias":
        previous, alias = _text(properties.get("distinct_id")) or distinct, _text(properties.get("alias"))
        if previous is None or alias is None:
            raise _Refused("$create_alias needs properties.distinct_id and properties.alias")
        return [{**base, "type": "alias", "user_id": alias, "anonymous_id": previous}]
    if distinct is None:
        raise _Refused("`distinct_id` is missing: who did it")
    base["user_id"] = distinct
    # posthog-js sends `$device_id` (the browser's anonymous id) with every event and
    # `$is_identified: false` before sign-in; either marks an anonymous visitor.
    anonymous = _text(properties.pop("$anon_distinct_id", None)) or _text(properties.get("$device_id"))
    if anonymous is None and properties.get("$is_identified") is False:
        anonymous = distinct
    if anonymous is not None:
        base["anonymous_id"] = anonymous
    if name in ("$identify", "$set"):
        # posthog-js puts `$set`/`$set_once` beside `properties`, the Python SDK inside them.
        traits = {
            **_object(message, "$set_once"),
            **_object(properties, "$set_once"),
            **_object(message, "$set"),
            **_object(properties, "$set"),
        }
        return [{**base, "type": "identify", "properties": _check_traits(traits) or None}]
    if properties.get("$session_id") is not None:
        base["session_id"] = _text(properties.pop("$session_id"))
    if name == "$pageview":
        return [{**base, "type": "page", "properties": properties or None}]
    return commerce_events(base, name, properties)


def posthog_events(messages: list[Any], received: datetime | None = None) -> Mapped:
    """Map PostHog capture messages ($pageview, $identify, $set, $create_alias, the rest by name).

    `received` (aware UTC) dates the messages that carry an `offset` instead of a `timestamp`.
    """
    mapped = Mapped()
    for index, message in enumerate(messages):
        mapped.add(index, message, lambda m: _posthog_message(m, received))
    return mapped
