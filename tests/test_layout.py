"""The package's walls: import-linter holds the layers, and a wrong arrow fails the check.

CI runs `lint-imports` on the tree as it is; these tests run it on a copy of the package with
one bad import added, so a contract that could never fail would show here.
"""

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kimi_mcp"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SUBPACKAGES = ("kimi", "emulator", "store", "local_files", "ask", "server")
CHECK_TIMEOUT = 60  # seconds: only bounds a hang; a check takes well under one


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the package in `tree` (its own copy first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its pyproject.toml (where the contracts live)."""
    shutil.copytree(PACKAGE, tmp_path / "kimi_mcp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_copy_keeps_every_contract(tree: Path) -> None:
    """The control for the cases below: the copy alone breaks nothing."""
    checked = lint_imports(tree)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 broken" in checked.stdout


# (module to edit, the line added, the contract id it breaks, text naming the arrow)
BAD_IMPORTS = [
    ("kimi/client.py", "import mcp", "kimi-knows-no-mcp", "kimi_mcp.kimi.client -> mcp"),
    (
        "kimi/types.py",
        "from kimi_mcp.config import Settings",
        "kimi-knows-no-mcp",
        "kimi_mcp.kimi.types -> kimi_mcp.config",
    ),
    (
        "ask/chat.py",
        "from kimi_mcp.server.results import ChatResult",
        "layers",
        "kimi_mcp.ask.chat -> kimi_mcp.server.results",
    ),
    (
        "ask/fitting.py",
        "from mcp.server import MCPServer",
        "ask-knows-no-mcp",
        "kimi_mcp.ask.fitting -> mcp",
    ),
    (
        "store/sqlite_file.py",
        "from kimi_mcp.config import Settings",
        "store-and-files-stand-alone",
        "kimi_mcp.store.sqlite_file -> kimi_mcp.config",
    ),
    (
        "emulator/rules.py",
        "from kimi_mcp.kimi.types import ModelInfo",
        "emulator-stands-alone",
        "kimi_mcp.emulator.rules -> kimi_mcp.kimi.types",
    ),
    (
        "server/tools.py",
        "from kimi_mcp.emulator import Emulator",
        "product-never-runs-the-emulator",
        "kimi_mcp.server.tools -> kimi_mcp.emulator",
    ),
    (
        # A type-only import is still an arrow: this was the state/app cycle before the move.
        "emulator/state.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from kimi_mcp.emulator.app import Emulator",
        "no-cycles",
        "- .state -> .app",
    ),
    (
        # local_files, store and kimi are independent siblings in one layer.
        "store/uploads.py",
        "from kimi_mcp.kimi import types",
        "layers",
        "kimi_mcp.store.uploads -> kimi_mcp.kimi.types",
    ),
    (
        "local_files/guard.py",
        "from kimi_mcp.config import Settings",
        "store-and-files-stand-alone",
        "kimi_mcp.local_files.guard -> kimi_mcp.config",
    ),
    (
        "ask/chat.py",
        "from kimi_mcp.store.sqlite_conversations import SqliteConversationStore",
        "ask-holds-interfaces",
        "kimi_mcp.ask.chat -> kimi_mcp.store.sqlite_conversations",
    ),
    (
        "config.py",
        "from mcp.server import MCPServer",
        "top-level-knows-no-mcp",
        "kimi_mcp.config -> mcp",
    ),
    (
        # A new package must take its place in the layers before it can land.
        "redis_store/__init__.py",
        '"""A store nobody placed."""',
        "layers",
        "kimi_mcp.redis_store",
    ),
]


@pytest.mark.parametrize(
    ("module", "line", "contract", "arrow"), BAD_IMPORTS, ids=[case[0] for case in BAD_IMPORTS]
)
def test_a_wrong_arrow_breaks_its_contract(
    tree: Path, module: str, line: str, contract: str, arrow: str
) -> None:
    path = tree / "kimi_mcp" / module
    path.parent.mkdir(exist_ok=True)
    before = path.read_text() if path.exists() else ""
    path.write_text(before + f"\n{line}  # the wrong arrow\n")
    checked = lint_imports(tree)
    assert checked.returncode != 0, checked.stdout
    broken = _contract_name(contract)
    assert f"{broken} BROKEN" in " ".join(checked.stdout.split()), checked.stdout
    assert arrow in checked.stdout, checked.stdout


def _contract_name(contract_id: str) -> str:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (name,) = [c["name"] for c in config["contracts"] if c["id"] == contract_id]
    return " ".join(str(name).split())


def packages() -> list[Path]:
    """Every package folder of kimi_mcp, found on disk (a new one is checked too)."""
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)


def test_the_six_packages_are_there() -> None:
    assert {p.name for p in packages()} >= set(SUBPACKAGES)


@pytest.mark.parametrize("package", packages(), ids=lambda p: p.name)
def test_every_package_says_what_it_is_and_what_it_may_import(package: Path) -> None:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    assert len(doc.splitlines()) >= 3, f"{package.name}/__init__.py: say what the package is"
    assert "May import:" in doc, f"{package.name}/__init__.py: say what it may import"


def test_every_folder_of_modules_is_a_package() -> None:
    """A folder without `__init__.py` would be a namespace package the wheel might drop."""
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__" or not any(folder.glob("*.py")):
            continue
        assert (folder / "__init__.py").is_file(), f"{folder} is not a package"


# The whole module graph -------------------------------------------------------------------------
# import-linter's cycle contract looks between siblings only, so a module that imports its own
# package's __init__ (which imports the module back) would pass it and fail at import time.


def module_graph() -> grimp.ImportGraph:
    return grimp.build_graph("kimi_mcp", cache_dir=None)


def find_cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import cycle of `graph` (its modules in import order), or None: a depth-first walk
    in which an import back to a module still on the walk closes a cycle."""
    done: set[str] = set()  # modules whose every import was walked without closing a cycle
    for start in sorted(graph.modules):
        if start in done:
            continue
        path, pending = [start], [iter(sorted(_imports(graph, start)))]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                done.add(path.pop())
                pending.pop()
            elif following in path:
                return [*path[path.index(following) :], following]
            elif following not in done:
                path.append(following)
                pending.append(iter(sorted(_imports(graph, following))))
    return None


def _imports(graph: grimp.ImportGraph, module: str) -> set[str]:
    return {m for m in graph.find_modules_directly_imported_by(module) if m in graph.modules}


def test_the_module_graph_has_no_cycle_at_all() -> None:
    assert find_cycle(module_graph()) is None


def test_a_module_importing_its_own_package_is_a_cycle_found() -> None:
    graph = module_graph()
    graph.add_import(importer="kimi_mcp.server.tools", imported="kimi_mcp.server")
    cycle = find_cycle(graph)
    assert cycle is not None
    assert "kimi_mcp.server" in cycle and "kimi_mcp.server.tools" in cycle


@pytest.mark.parametrize("package", ["kimi_mcp.kimi", "kimi_mcp.emulator"])
def test_the_client_and_the_emulator_take_nothing_from_the_package_root(package: str) -> None:
    """Not even `__version__`: the server hands the client its user agent."""
    graph = module_graph()
    assert _root_imports(graph, package) == []
    graph.add_import(importer=f"{package}.rules", imported="kimi_mcp")  # the check can see one
    assert _root_imports(graph, package) != []


def _root_imports(graph: grimp.ImportGraph, package: str) -> list[object]:
    found: list[object] = []
    for expression in (f"{package} -> kimi_mcp", f"{package}.** -> kimi_mcp"):
        found += graph.find_matching_direct_imports(import_expression=expression)
    return found


# What the wheel and sdist ship is checked in test_packaging.py (one build for every check).
