"""Dashboard templates and static files. Pages read the same JSON the API serves."""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "plotly_js_path"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def plotly_js_path() -> Path | None:
    """plotly.min.js shipped inside the installed `plotly` package (served locally, never from a CDN)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None
