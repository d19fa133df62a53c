"""Built-in journeys: YAML files shipped in the package (`cartwise/campaigns/journeys/NAME.yaml`).

`cartwise journeys apply NAME` takes one by its name when no file of that name exists, and
`cartwise demo` applies them all. They are ordinary journey files: copy one, change it and
apply the copy.
"""

from __future__ import annotations

from importlib import resources

from cartwise.core.errors import NotFoundError

BUILTIN_AUDIENCES: dict[str, tuple[str, str]] = {
    "win-back": ("lapsing-buyers", "p_alive < 0.3 and orders >= 1"),
}
"""The saved audience a built-in journey's trigger names: journey -> (audience name, rule)."""


def _folder() -> resources.abc.Traversable:
    return resources.files("cartwise.campaigns").joinpath("journeys")


def builtin_journey_names() -> list[str]:
    """Names of the built-in journeys, sorted."""
    return sorted(p.name.removesuffix(".yaml") for p in _folder().iterdir() if p.name.endswith(".yaml"))


def builtin_journey(name: str) -> str:
    """The YAML text of built-in journey `name`; NotFoundError listing the names otherwise."""
    if name not in builtin_journey_names():
        raise NotFoundError(
            f"No built-in journey named {name!r}; use one of {', '.join(builtin_journey_names())}, "
            "or give the path of a journey file.",
            parameter="file",
        )
    return _folder().joinpath(f"{name}.yaml").read_text(encoding="utf-8")


__all__ = ["BUILTIN_AUDIENCES", "builtin_journey", "builtin_journey_names"]
