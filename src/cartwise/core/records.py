"""JSON-ready rows: the one conversion of database and frame values for the API and the pages."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.times import utc_iso


def json_value(value: Any, *, money: bool = False) -> Any:
    """One value made JSON-ready: None, NA, NaN and infinities become None; NumPy scalars Python
    ones; datetimes ISO 8601 UTC with a `Z`, dates ISO 8601; money (`money=True`) rounded to cents."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 2) if money else value
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def json_rows(
    names: Sequence[str], rows: Iterable[Sequence[Any]], *, money: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """`rows` (tuples in the order of `names`) as JSON-ready dictionaries; columns in `money` are
    rounded to cents."""
    return [{n: json_value(v, money=n in money) for n, v in zip(names, row, strict=True)} for row in rows]


__all__ = ["json_rows", "json_value"]
