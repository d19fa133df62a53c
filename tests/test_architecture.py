"""Import directions between Cartwise packages (STYLE.md, "Who may import whom").

Parses every module with `ast` and fails on an import arrow that the table below forbids.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cartwise"
MODEL_PACKAGES = {"predict", "recommend", "forecast", "experiments"}
EVERYTHING = {
    "core",
    "schema",
    "store",
    "ingest",
    "simulate",
    "analytics",
    "profiles",
    "predict",
    "recommend",
    "forecast",
    "campaigns",
    "experiments",
    "evaluation",
    "pipelines",
    "service",
    "pages",
    "api",
    "web",
    "cli",
    "",
}

ALLOWED: dict[str, set[str]] = {
    "": {"core"},  # cartwise/__init__.py
    "core": set(),
    "schema": set(),
    "store": {"core", "schema"},
    "ingest": {"core", "schema", "store"},
    "simulate": {"core", "schema", "store"},
    "analytics": {"core", "schema", "store"},
    "profiles": {"core", "schema", "store", "analytics"},
    **{pkg: {"core", "schema", "evaluation.metrics"} for pkg in MODEL_PACKAGES},
    "evaluation": {"core", "schema", *MODEL_PACKAGES},
    "campaigns": EVERYTHING - {"api", "web", "cli"},
    "pipelines": EVERYTHING - {"api", "web", "cli", "service", "pages"},
    "service": EVERYTHING - {"api", "web", "cli"},
    "pages": EVERYTHING - {"api", "web", "cli"},
    "api": EVERYTHING - {"cli"},  # serves web/'s templates and static files
    "cli": EVERYTHING - {"web"},
    "web": {"core"},
}


def _package_of(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts == ("__main__",):
        return "cli"  # `python -m cartwise` is the CLI's entry point
    return parts[0] if len(parts) > 1 else ""


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_parts = ["cartwise", *path.relative_to(SRC).with_suffix("").parts]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module_parts[: len(module_parts) - node.level]
                if path.name == "__init__.py":
                    base = module_parts[: len(module_parts) - node.level + 1][:-1] or base
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name == "cartwise" or name.startswith("cartwise.")]


def _target(name: str) -> tuple[str, str]:
    parts = name.split(".")[1:]
    if not parts:
        return "", ""
    return parts[0], ".".join(parts[:2])


def _violations() -> list[str]:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        source_pkg = _package_of(path)
        allowed = ALLOWED.get(source_pkg)
        if allowed is None:
            problems.append(
                f"{path.relative_to(SRC)}: package `{source_pkg}` is not in the architecture table"
            )
            continue
        for line, name in _imported_modules(path):
            pkg, sub = _target(name)
            if pkg == source_pkg or pkg in allowed or sub in allowed:
                continue
            problems.append(
                f"{path.relative_to(SRC)}:{line}: `{source_pkg or 'cartwise'}` may not import `{name}`"
            )
    return problems


def test_no_forbidden_import_arrows() -> None:
    assert _violations() == []


def test_checker_catches_a_forbidden_arrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself must fail on a model package opening the store."""
    fake = tmp_path / "cartwise"
    (fake / "recommend").mkdir(parents=True)
    (fake / "recommend" / "bad.py").write_text("from cartwise.store import open_store\n")
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    assert any("may not import `cartwise.store`" in p for p in _violations())
