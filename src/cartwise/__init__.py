"""Cartwise: an AI growth engine for online shops, embedded on DuckDB."""

__all__ = ["__version__"]
__version__ = "0.1.0"
