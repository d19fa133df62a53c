"""Checks on input files that cost no import, so a command can refuse a missing file at once."""

from __future__ import annotations

from pathlib import Path

from cartwise.core.errors import InputError


def require_file(path: Path | str) -> Path:
    """`path` as a Path, or an `InputError` when it is missing or not a file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file.")
    return path
