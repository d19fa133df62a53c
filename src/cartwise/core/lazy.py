"""A package's public names imported on first use (PEP 562), so importing the package is cheap.

A package lists how to load each submodule (`import_module` with a literal name, which the
architecture test can follow) and which submodule defines each name, then sets
`__getattr__ = lazy_getattr(globals(), loaders, module_of)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def lazy_getattr(
    namespace: dict[str, Any],
    loaders: Mapping[str, Callable[[], ModuleType]],
    module_of: Mapping[str, str],
) -> Callable[[str], Any]:
    """A module `__getattr__`: `name` is taken from `loaders[module_of[name]]()` and kept in
    `namespace` (the package's globals), so later lookups do not come back here."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(loaders[module](), name)
        namespace[name] = value
        return value

    return __getattr__
