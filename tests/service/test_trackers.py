"""Segment and PostHog messages mapped to canonical events, message by message."""

from __future__ import annotations

from cartwise.service.trackers import posthog_events, segment_events

BASE = {"messageId": "m1", "timestamp": "2026-11-20T10:00:00Z", "anonymousId": "a1"}


def test_segment_ecommerce_spec_maps_to_the_standard_types() -> None:
    messages = [
        {**BASE, "type": "track", "event": "Product Removed", "properties": {"sku": "s1", "quantity": 1}},
        {
            **BASE,
            "type": "track",
            "event": "Checkout Started",
            "properties": {"order_id": "o1", "revenue": 30},
        },
        {**BASE, "type": "track", "event": "Products Searched", "properties": {"query": "red socks"}},
        {**BASE, "type": "track", "event": "Order Refunded", "properties": {"order_id": "o1", "total": 12.5}},
        {**BASE, "type": "track", "event": "Coupon Entered", "properties": {"coupon_id": "X"}},
    ]
    events = segment_events(messages).events
    assert [e["type"] for e in events] == [
        "remove_from_cart",
        "begin_checkout",
        "search",
        "refund",
        "Coupon Entered",
    ]
    assert events[0]["item_id"] == "s1" and events[0]["anonymous_id"] == "a1" and events[0]["user_id"] == "a1"
    assert events[1]["order_id"] == "o1" and events[1]["revenue"] == 30
    assert events[2]["properties"] == {"query": "red socks"}
    assert events[3]["revenue"] == -12.5 and events[3]["order_id"] == "o1"
    assert events[4]["properties"] == {"coupon_id": "X"}


def test_segment_messages_are_refused_one_by_one_with_the_reason() -> None:
    mapped = segment_events(
        [
            {**BASE, "type": "identify", "userId": "u1", "traits": {"email": "not-an-address"}},
            {"type": "track", "messageId": "m2", "timestamp": "2026-11-20T10:00:00Z", "event": "X"},
            {**BASE, "type": "alias", "userId": "u1"},
            "text",
            {**BASE, "type": "identify", "userId": "u1", "traits": {"email": "u@example.com", "vip": True}},
        ]
    )
    assert [r["index"] for r in mapped.rejected] == [0, 1, 2, 3]
    assert "traits.email" in mapped.rejected[0]["reason"]
    assert "`userId` or `anonymousId`" in mapped.rejected[1]["reason"]
    assert "previousId" in mapped.rejected[2]["reason"]
    assert mapped.owners == [4]
    assert mapped.events[0]["properties"] == {"email": "u@example.com", "vip": True}


def test_posthog_alias_and_set() -> None:
    mapped = posthog_events(
        [
            {
                "event": "$create_alias",
                "uuid": "p1",
                "timestamp": "2026-11-20T10:00:00Z",
                "properties": {"distinct_id": "old", "alias": "new"},
            },
            {
                "event": "$set",
                "uuid": "p2",
                "timestamp": "2026-11-20T10:00:00Z",
                "distinct_id": "u1",
                "properties": {"$set": {"country": "FR"}},
            },
        ]
    )
    assert mapped.events[0] == {
        "event_id": "p1",
        "ts": "2026-11-20T10:00:00Z",
        "type": "alias",
        "user_id": "new",
        "anonymous_id": "old",
    }
    assert mapped.events[1]["type"] == "identify" and mapped.events[1]["properties"] == {"country": "FR"}
