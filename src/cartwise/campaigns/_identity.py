"""Message identity, Message-IDs, holdout assignment and signed tokens: all derived from inputs.

Every identifier a send carries is a function of (source, step, customer, occurrence), so a
retry or a resumed run produces the same one and a receiver can drop a repeat.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass

from cartwise.core.errors import InputError


@dataclass(frozen=True)
class MessageIdentity:
    """Who gets what, once: `source` is a campaign name or `journey:NAME:vN`; `step` the journey
    step (`send` for a broadcast); `occurrence` counts repeated triggers of the same step."""

    source: str
    step: str
    customer: str
    occurrence: int = 0

    @property
    def key(self) -> str:
        """32 hex digits, the send log's key: sha256 of the four parts, truncated."""
        raw = "\x1f".join((self.source, self.step, self.customer, str(self.occurrence)))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def message_id(self, sender: str) -> str:
        """`<key@domain>`, the domain taken from the sender address (RFC 5322 msg-id)."""
        domain = sender.rpartition("@")[2] or "localhost"
        return f"<{self.key}@{domain}>"


def in_holdout(campaign: str, customer: str, fraction: float) -> bool:
    """Deterministic holdout draw: the first 8 bytes of sha256(campaign, customer) as a uniform
    number in [0, 1), compared with `fraction`. Same campaign and customer, same answer."""
    digest = hashlib.sha256(f"{campaign}\x1f{customer}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


_MAC_BYTES = 16


@functools.lru_cache(maxsize=16)
def _keyed(secret: str) -> hmac.HMAC:
    """HMAC-SHA256 keyed with `secret`, fed nothing yet: copying it skips the key schedule that
    `hmac.new` repeats (a broadcast signs three or four links per message with one secret)."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def sign(secret: str, *parts: str) -> str:
    """A URL-safe token carrying `parts` and their HMAC-SHA256 under `secret`."""
    body = "\x1f".join(parts)
    keyed = _keyed(secret).copy()
    keyed.update(body.encode())
    mac = keyed.digest()[:_MAC_BYTES]
    raw = body.encode() + b"\x1e" + mac
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def verify(secret: str, token: str) -> list[str]:
    """The parts of a token made by `sign`; InputError when it was altered or is not a token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        # The MAC is 16 raw bytes and may itself hold the separator byte: cut by its length.
        body, separator, mac = raw[: -_MAC_BYTES - 1], raw[-_MAC_BYTES - 1 : -_MAC_BYTES], raw[-_MAC_BYTES:]
        expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()[:_MAC_BYTES]
    except (ValueError, TypeError) as exc:
        raise InputError("The link's token is not valid; use the link from the message as sent.") from exc
    if not body or separator != b"\x1e" or not hmac.compare_digest(mac, expected):
        raise InputError("The link's token is not valid; use the link from the message as sent.")
    return body.decode().split("\x1f")
