"""Shared foundations: errors, settings, and small helpers. Imports nothing from the project."""

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
from cartwise.core.settings import Settings, get_settings

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
