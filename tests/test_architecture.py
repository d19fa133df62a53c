"""Import directions between Cartwise packages (STYLE.md and docs, "Who may import whom").

Parses every module with `ast` and fails on an import arrow the table below forbids. Dynamic
imports of project modules (`importlib.import_module(...)`, `__import__(...)`) count as imports
when their argument is a string literal (or a module-level string constant); a computed name is
itself a violation, since nothing could check where it points. `cli` and `api` also may not
touch a database: no DuckDB/Ibis import, no SQL text, no `.con` connection.

Each rule is shown to fail on a planted violation (`test_each_rule_catches_a_planted_violation`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cartwise"

MODEL_PACKAGES = frozenset({"predict", "recommend", "forecast", "experiments"})
# evaluation's metric modules, the "metric types" model packages may use; `splits` is not one.
METRIC_MODULES = frozenset(
    {"evaluation.classification", "evaluation.clv", "evaluation.forecast", "evaluation.ranking"}
)
# What the pipelines stand on: every library package, none of the running process or surfaces.
LIBRARY = frozenset(
    {
        "core",
        "schema",
        "store",
        "ingest",
        "simulate",
        "analytics",
        "profiles",
        "evaluation",
        "campaigns",
        *MODEL_PACKAGES,
    }
)

# Package -> the packages (or `package.module`s) it may import; its own package is always allowed.
ALLOWED: dict[str, frozenset[str]] = {
    "": frozenset(),  # cartwise/__init__.py: the version only
    "core": frozenset(),
    "schema": frozenset(),
    "store": frozenset({"core", "schema"}),
    "ingest": frozenset({"core", "schema", "store"}),
    "simulate": frozenset({"core", "schema", "store"}),
    "analytics": frozenset({"core", "schema", "store"}),
    "profiles": frozenset({"core", "schema", "store", "analytics"}),
    **{pkg: frozenset({"core", "schema", *METRIC_MODULES}) for pkg in MODEL_PACKAGES},
    # Calls models through their public contracts only (see PRIVATE_IMPORTS_FORBIDDEN).
    "evaluation": frozenset({"core", "schema", *MODEL_PACKAGES}),
    # What to send and when: rules over profiles, scores from the models; never the service.
    "campaigns": frozenset({"core", "schema", "profiles", "analytics", *MODEL_PACKAGES}),
    "pipelines": LIBRARY,
    "service": LIBRARY | {"pipelines"},  # retrains through the pipelines
    # Read models: the store, analytics, profiles, the service's public state and the model
    # packages whose results a page displays (public names only).
    "pages": frozenset({"core", "schema", "store", "analytics", "profiles", "service", *MODEL_PACKAGES}),
    # api serves web/'s templates and static files (STATIC_DIR, TEMPLATES_DIR, plotly's path):
    # web is data for the API, not code the API calls.
    "api": frozenset({"core", "schema", "pipelines", "service", "pages", "web"}),
    "cli": frozenset({"core", "schema", "pipelines", "service", "pages"}),
    "web": frozenset({"core"}),  # templates and static files; pages render the API's JSON
}

# Packages whose private modules (`_name`) another package may not import.
PRIVATE_IMPORTS_FORBIDDEN: dict[str, frozenset[str]] = {"evaluation": MODEL_PACKAGES, "pages": MODEL_PACKAGES}

# (module path under src/cartwise, imported module) -> why this one arrow is allowed.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # Kept on purpose (issue 20 point 6 asked whether `service` could build the app instead):
    # a `service.server.run(settings)` would need `service -> api`, which this table forbids
    # (the API stands on the service, not the reverse), and since `api` imports `service` it
    # would be an import cycle even if done lazily (this test resolves lazy imports too). So
    # the surface that starts the process, the CLI, is the one place that names the API.
    ("cli/serve.py", "cartwise.api"): (
        "`cartwise serve` runs the API: `create_app` is the one thing the CLI takes from it."
    ),
}

DATABASE_MODULES = ("duckdb", "ibis", "sqlite3", "pyspark")
NO_DATABASE = frozenset({"cli", "api"})  # they call pipelines, service and pages only
# Statements as the project writes them (keywords in capitals), not prose such as "Create a key".
_SQL = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|DROP|ALTER|WITH|COPY|ATTACH)\s")
_DYNAMIC = {("importlib", "import_module"), ("", "import_module"), ("", "__import__")}


def _package_of(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts == ("__main__",):
        return "cli"  # `python -m cartwise` is the CLI's entry point
    return parts[0] if len(parts) > 1 else ""


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` assignments, to resolve `import_module(NAME)`."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return found


def _call_name(func: ast.expr) -> tuple[str, str] | None:
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id, func.attr
    if isinstance(func, ast.Name):
        return "", func.id
    return None


def _imports(path: Path) -> tuple[list[tuple[int, str]], list[str]]:
    """(line, module) of every import in `path`, and the problems no import arrow can show:
    dynamic imports of computed names, and (in cli and api) database access."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(SRC)
    module_parts = ["cartwise", *rel.with_suffix("").parts]
    is_package = path.name == "__init__.py"
    constants = _constants(tree)
    found: list[tuple[int, str]] = []
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # The package a relative import starts from: the module's own for __init__.py.
                base = module_parts[: len(module_parts) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, node.module] if node.module else base)
                found += [(node.lineno, name)]
                if not node.module:  # `from . import x` imports the modules x
                    found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
            else:
                name = node.module or ""
                found.append((node.lineno, name))
                # `from cartwise.pkg import mod` may name a module: count `cartwise.pkg.mod` too.
                found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and _call_name(node.func) in _DYNAMIC:
            argument = node.args[0] if node.args else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                target = argument.value
            elif isinstance(argument, ast.Name) and argument.id in constants:
                target = constants[argument.id]
            else:
                problems.append(
                    f"{rel}:{node.lineno}: dynamic import of a computed name; import the module "
                    "by a literal name so the architecture test can check the arrow"
                )
                continue
            found.append((node.lineno, target))
    if _package_of(path) in NO_DATABASE:
        problems += _database_access(tree, rel, found)
    return [
        (line, name) for line, name in found if name == "cartwise" or name.startswith("cartwise.")
    ], problems


def _database_access(tree: ast.Module, rel: Path, imports: list[tuple[int, str]]) -> list[str]:
    problems = [
        f"{rel}:{line}: `{_package_of(SRC / rel)}` may not import `{name}`: call a pipeline, the service or a page"
        for line, name in imports
        if name.split(".")[0] in DATABASE_MODULES
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.match(node.value):
            problems.append(
                f"{rel}:{node.lineno}: raw SQL {node.value.strip()[:40]!r}: move it to a pipeline or page"
            )
        elif isinstance(node, ast.Attribute) and node.attr == "con":
            problems.append(f"{rel}:{node.lineno}: uses a store's DuckDB connection (`.con`)")
    return problems


def _allowed(source_pkg: str, rel: Path, name: str) -> bool:
    parts = name.split(".")[1:]
    pkg = parts[0] if parts else ""
    if pkg == source_pkg:
        return True
    private = len(parts) > 1 and any(part.startswith("_") for part in parts[1:])
    if private and pkg in PRIVATE_IMPORTS_FORBIDDEN.get(source_pkg, frozenset()):
        return False
    allowed = ALLOWED[source_pkg]
    if pkg in allowed or ".".join(parts[:2]) in allowed:
        return True
    return any(
        str(rel) == path and (name == target or name.startswith(target + ".")) for path, target in EXCEPTIONS
    )


def _violations() -> list[str]:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        source_pkg = _package_of(path)
        if source_pkg not in ALLOWED:
            problems.append(f"{rel}: package `{source_pkg}` is not in the architecture table")
            continue
        imports, other = _imports(path)
        problems += other
        flagged: set[tuple[int, str]] = set()
        for line, name in sorted(imports):
            if name in {"cartwise", "cartwise.__version__"} and source_pkg:
                continue  # the version string, from the package root
            if (line, name.rsplit(".", 1)[0]) in flagged:
                continue  # `from forbidden import a, b`: one message for the module
            if not _allowed(source_pkg, rel, name):
                flagged.add((line, name))
                problems.append(f"{rel}:{line}: `{source_pkg or 'cartwise'}` may not import `{name}`")
    return problems


def test_no_forbidden_import_arrows() -> None:
    assert _violations() == []


def test_every_package_is_in_the_table() -> None:
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert packages | {""} == set(ALLOWED)


def test_metric_modules_exist() -> None:
    for module in METRIC_MODULES:
        assert (SRC / (module.replace(".", "/") + ".py")).exists(), module


def test_exceptions_name_real_modules() -> None:
    for path, _target in EXCEPTIONS:
        assert (SRC / path).exists(), path


# (file to plant, its source, a phrase the violation must contain): one per rule.
PLANTED = [
    ("core/bad.py", "from cartwise.schema import TABLES\n", "`core` may not import `cartwise.schema`"),
    ("schema/bad.py", "import cartwise.store\n", "`schema` may not import `cartwise.store`"),
    ("store/bad.py", "from cartwise.ingest import KINDS\n", "`store` may not import `cartwise.ingest`"),
    (
        "ingest/bad.py",
        "from cartwise.analytics import kpis\n",
        "`ingest` may not import `cartwise.analytics`",
    ),
    (
        "analytics/bad.py",
        "from cartwise.profiles import x\n",
        "`analytics` may not import `cartwise.profiles`",
    ),
    ("profiles/bad.py", "from cartwise.predict import x\n", "`profiles` may not import `cartwise.predict`"),
    (
        "recommend/bad.py",
        "from cartwise.store import open_store\n",
        "`recommend` may not import `cartwise.store`",
    ),
    (
        "predict/bad.py",
        "from cartwise.evaluation.splits import x\n",
        "may not import `cartwise.evaluation.splits`",
    ),
    (
        "forecast/bad.py",
        "from cartwise.recommend import x\n",
        "`forecast` may not import `cartwise.recommend`",
    ),
    ("experiments/bad.py", "from cartwise.analytics import x\n", "`experiments` may not import"),
    (
        "evaluation/bad.py",
        "from cartwise.recommend._base import x\n",
        "may not import `cartwise.recommend._base`",
    ),
    (
        "evaluation/bad.py",
        "from cartwise.store import Store\n",
        "`evaluation` may not import `cartwise.store`",
    ),
    (
        "campaigns/bad.py",
        "from cartwise.service import keys\n",
        "`campaigns` may not import `cartwise.service`",
    ),
    ("campaigns/bad.py", "from cartwise.pipelines.train import x\n", "`campaigns` may not import"),
    ("pipelines/bad.py", "from cartwise.service.service import Service\n", "`pipelines` may not import"),
    (
        "pipelines/bad.py",
        "from cartwise.pages import dashboard\n",
        "`pipelines` may not import `cartwise.pages",
    ),
    (
        "service/bad.py",
        "from cartwise.pages.dashboard import Page\n",
        "`service` may not import `cartwise.pages",
    ),
    ("service/bad.py", "from cartwise.api import create_app\n", "`service` may not import `cartwise.api"),
    (
        "pages/bad.py",
        "from cartwise.pipelines.train import x\n",
        "`pages` may not import `cartwise.pipelines",
    ),
    (
        "pages/bad.py",
        "from cartwise.recommend._hybrid import x\n",
        "`pages` may not import `cartwise.recommend._hybrid",
    ),
    ("pages/bad.py", "from cartwise.api.models import x\n", "`pages` may not import `cartwise.api"),
    ("cli/bad.py", "from cartwise.store import open_store\n", "`cli` may not import `cartwise.store`"),
    (
        "cli/bad.py",
        "from cartwise.analytics import refresh_rollup\n",
        "`cli` may not import `cartwise.analytics`",
    ),
    ("cli/bad.py", "from cartwise.web import STATIC_DIR\n", "`cli` may not import `cartwise.web`"),
    ("api/bad.py", "from cartwise.ingest import ingest_file\n", "`api` may not import `cartwise.ingest`"),
    ("api/bad.py", "from cartwise.store import SCHEMA_VERSION\n", "`api` may not import `cartwise.store`"),
    ("api/bad.py", "from cartwise.cli import main\n", "`api` may not import `cartwise.cli`"),
    ("web/bad.py", "from cartwise.pages import dashboard\n", "`web` may not import `cartwise.pages"),
    ("web/bad.py", "from cartwise.api import app\n", "`web` may not import `cartwise.api"),
    ("cli/bad.py", "import duckdb\n", "may not import `duckdb`"),
    ("api/bad.py", "import ibis\n", "may not import `ibis`"),
    ("cli/bad.py", "def f(s):\n    return s.arrow('SELECT * FROM events')\n", "raw SQL"),
    ("api/bad.py", "def f(store):\n    return store.con\n", "DuckDB connection"),
    # Relative and dynamic imports are resolved ...
    ("recommend/bad.py", "from ..store import open_store\n", "`recommend` may not import `cartwise.store`"),
    ("recommend/bad.py", "from .. import store\n", "`recommend` may not import `cartwise.store`"),
    (
        "predict/bad.py",
        "import importlib\nm = importlib.import_module('cartwise.store')\n",
        "`predict` may not import `cartwise.store`",
    ),
    (
        "predict/bad.py",
        "m = __import__('cartwise.pipelines')\n",
        "`predict` may not import `cartwise.pipelines`",
    ),
    (
        "predict/bad.py",
        "import importlib\nTARGET = 'cartwise.service'\nm = importlib.import_module(TARGET)\n",
        "`predict` may not import `cartwise.service`",
    ),
    # ... or forbidden when computed.
    (
        "service/bad.py",
        "import importlib\ndef f(x):\n    return importlib.import_module(x)\n",
        "computed name",
    ),
    ("newpkg/bad.py", "x = 1\n", "package `newpkg` is not in the architecture table"),
]


@pytest.mark.parametrize(
    ("path", "source", "expected"), PLANTED, ids=[f"{p}:{e[:40]}" for p, _, e in PLANTED]
)
def test_each_rule_catches_a_planted_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, source: str, expected: str
) -> None:
    fake = tmp_path / "cartwise"
    target = fake / path
    target.parent.mkdir(parents=True)
    (target.parent / "__init__.py").write_text("")
    target.write_text(source)
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    found = _violations()
    assert any(expected in problem for problem in found), found


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("predict/ok.py", "from cartwise.evaluation.ranking import ndcg\n"),
        ("evaluation/ok.py", "from cartwise.recommend import Recommender\n"),
        ("api/ok.py", "from cartwise.web import STATIC_DIR\n"),
        ("cli/serve.py", "def f():\n    from cartwise.api import create_app\n"),
        ("cli/ok.py", "import importlib\nm = importlib.import_module('cartwise.pipelines.train')\n"),
        ("recommend/ok.py", "import importlib\nm = importlib.import_module('numpy')\n"),
    ],
)
def test_allowed_arrows_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, source: str) -> None:
    """The checker is not simply failing everything: arrows the table allows pass."""
    fake = tmp_path / "cartwise"
    target = fake / path
    target.parent.mkdir(parents=True)
    (target.parent / "__init__.py").write_text("")
    target.write_text(source)
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    assert _violations() == []


MAX_MODULE_LINES = 800
MAX_PACKAGE_SHARE = 0.2


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _oversized(root: Path) -> list[str]:
    """Modules over `MAX_MODULE_LINES` and packages over `MAX_PACKAGE_SHARE` of all lines (issue 20:
    a room a newcomer can read)."""
    sizes = {p.relative_to(root): _lines(p) for p in root.rglob("*.py")}
    total = sum(sizes.values())
    found = [
        f"{path}: {n} lines (at most {MAX_MODULE_LINES})" for path, n in sizes.items() if n > MAX_MODULE_LINES
    ]
    packages: dict[str, int] = {}
    for path, n in sizes.items():
        if len(path.parts) > 1:
            packages[path.parts[0]] = packages.get(path.parts[0], 0) + n
    found += [
        f"{name}/: {n / total:.0%} of the code (at most {MAX_PACKAGE_SHARE:.0%})"
        for name, n in packages.items()
        if n > MAX_PACKAGE_SHARE * total
    ]
    return sorted(found)


def test_no_module_or_package_outgrows_its_room() -> None:
    assert _oversized(SRC) == []


def test_the_size_check_catches_a_long_module_and_a_large_package(tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "short.py").write_text("x = 1\n" * 10)
    assert _oversized(tmp_path) == [
        f"big/: 99% of the code (at most {MAX_PACKAGE_SHARE:.0%})",
        f"big/long.py: {MAX_MODULE_LINES + 1} lines (at most {MAX_MODULE_LINES})",
    ]
