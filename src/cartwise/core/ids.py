"""Deterministic identifiers."""

from __future__ import annotations

import hashlib
import secrets


def stable_id(*parts: object, prefix: str = "") -> str:
    """A 32-hex-digit id derived from `parts` (md5 of their `repr`s joined by `\\x1f`); same parts, same id."""
    digest = hashlib.md5("\x1f".join(repr(p) for p in parts).encode("utf-8"), usedforsecurity=False)
    return prefix + digest.hexdigest()


def random_token(nbytes: int = 24) -> str:
    """A URL-safe random secret (for API keys, sessions)."""
    return secrets.token_urlsafe(nbytes)
