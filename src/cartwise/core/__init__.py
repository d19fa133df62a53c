"""Shared foundations: errors, settings, and small helpers. Imports nothing from the project.

`Settings` and `get_settings` are imported on first use (PEP 562): the errors alone cost no
pydantic import, which keeps `cartwise --help` quick.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

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
from cartwise.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from cartwise.core.settings import Settings, get_settings


__getattr__ = lazy_getattr(
    globals(),
    {"settings": lambda: import_module("cartwise.core.settings")},
    {"Settings": "settings", "get_settings": "settings"},
)

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
