"""Shared foundations: errors, settings, and small helpers. Imports nothing from the project.

`Settings` and `get_settings` are imported on first use (PEP 562): the errors alone cost no
pydantic import, which keeps `cartwise --help` quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cartwise.core.errors import (
    CartwiseError,
    CartwiseWarning,
    ConfigError,
    DataWarning,
    InputError,
    ModelError,
    NotFoundError,
    StoreError,
)

if TYPE_CHECKING:
    from cartwise.core.settings import Settings, get_settings


def __getattr__(name: str) -> Any:
    if name in {"Settings", "get_settings"}:
        from cartwise.core import settings

        return getattr(settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CartwiseError",
    "CartwiseWarning",
    "ConfigError",
    "DataWarning",
    "InputError",
    "ModelError",
    "NotFoundError",
    "Settings",
    "StoreError",
    "get_settings",
]
