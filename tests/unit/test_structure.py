"""The package's shape: one storage boundary, and an import graph that is a tree.

- Only the SQLite backend (``honker/backends/sqlite/``) imports ``sqlite3``;
  framework adapters under ``honker/contrib/`` (handed a framework's own
  connection) are the one allowed exception.
- Only the PostgreSQL backend (``honker/backends/postgres/``) imports
  ``psycopg`` or ``psycopg_pool``, and only when a PostgreSQL URL is opened:
  the package works with the standard library alone.
- Outside ``honker/backends/``, code reaches storage through the boundary
  (``honker.backends`` and ``honker.backends.base``), never a backend's own
  modules.
- No import cycle: counting every import that runs (module level and inside
  functions), not the ones under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import honker

PACKAGE = Path(honker.__file__).resolve().parent
ROOT = "honker"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement except those inside ``if TYPE_CHECKING:``."""
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for alt in child.orelse:
                    visit(alt)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                out.append(child)
            visit(child)

    visit(tree)
    return out


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Absolute names of what ``node`` (in ``module``) imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if _is_package(module) else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    names = []
    for alias in node.names:
        sub = f"{prefix}.{alias.name}"
        names.append(sub if sub in MODULES else prefix)
    return names


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"))
        edges = set()
        for node in _runtime_imports(tree):
            for target in _targets(name, node):
                if target == ROOT or target.startswith(ROOT + "."):
                    edges.add(target)
        graph[name] = edges - {name}
    return graph


GRAPH = _graph()


def _all_imports(path: Path) -> list[str]:
    name = next(n for n, p in MODULES.items() if p == path)
    tree = ast.parse(path.read_text("utf-8"))
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    return [t for node in nodes for t in _targets(name, node)]


def test_only_the_sqlite_backend_imports_sqlite3() -> None:
    offenders = sorted(
        name
        for name, path in MODULES.items()
        if not name.startswith(("honker.backends.sqlite", "honker.contrib"))
        and any(t == "sqlite3" or t.startswith("sqlite3.") for t in _all_imports(path))
    )
    assert offenders == [], f"sqlite3 imported outside honker/backends/sqlite/: {offenders}"


def test_only_the_postgres_backend_imports_psycopg() -> None:
    offenders = sorted(
        name
        for name, path in MODULES.items()
        if not name.startswith("honker.backends.postgres")
        and any(t.split(".")[0] in ("psycopg", "psycopg_pool") for t in _all_imports(path))
    )
    assert offenders == [], f"psycopg imported outside honker/backends/postgres/: {offenders}"
    eager = sorted(
        name for name in GRAPH if name.startswith("honker.backends.postgres")
    )  # only open_backend's function-level import reaches the package
    importers = sorted(
        name
        for name, edges in GRAPH.items()
        if not name.startswith("honker.backends.postgres") and edges & set(eager)
    )
    assert importers == ["honker.backends"], importers


NO_PSYCOPG = """
import sys
sys.modules["psycopg"] = None  # as if it were not installed
sys.modules["psycopg_pool"] = None
import honker
db = honker.open(sys.argv[1])
db.queue("q").enqueue(1)
db.close()
try:
    honker.open("postgresql://nobody@127.0.0.1:1/x")
except ValueError as exc:
    print(exc)
"""


def test_the_package_needs_no_psycopg_until_a_postgres_url(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_PSYCOPG, str(tmp_path / "t.db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "pip install 'honker-py[postgres]'" in done.stdout, done.stdout + done.stderr


def test_the_api_layer_reaches_storage_only_through_the_boundary() -> None:
    allowed = {"honker.backends", "honker.backends.base"}
    offenders = sorted(
        f"{name} -> {target}"
        for name, path in MODULES.items()
        if not name.startswith("honker.backends")
        for target in _all_imports(path)
        if target.startswith("honker.backends") and target not in allowed
    )
    assert offenders == [], offenders


def test_the_import_graph_has_no_cycle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_graph_sees_the_package() -> None:
    """Guards the tests above against vacuous passes (a parsing mistake)."""
    assert "honker.backends.sqlite.backend" in MODULES
    assert "honker._queue" in GRAPH["honker._database"]  # a function-level import
    assert "honker.backends.base" in GRAPH["honker._queue"]
    assert "honker._queue" not in GRAPH["honker._results"]  # TYPE_CHECKING only


def test_framework_adapters_use_only_the_public_api() -> None:
    """``honker/contrib/`` imports ``honker`` itself (and its own modules), nothing private."""
    offenders = sorted(
        f"{name} -> {target}"
        for name, path in MODULES.items()
        if name.startswith("honker.contrib")
        for target in _all_imports(path)
        if target.startswith(ROOT + ".") and not target.startswith("honker.contrib")
    )
    assert any(n.startswith("honker.contrib.django") for n in MODULES)
    assert offenders == [], offenders
