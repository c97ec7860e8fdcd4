"""The package's walls: import-linter holds the layers, and a wrong arrow fails the check.

CI runs `lint-imports` on the tree as it is; these tests run it on a copy of the package with
one bad import added, so a contract that could never fail would show here.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

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
]


@pytest.mark.parametrize(
    ("module", "line", "contract", "arrow"), BAD_IMPORTS, ids=[case[0] for case in BAD_IMPORTS]
)
def test_a_wrong_arrow_breaks_its_contract(
    tree: Path, module: str, line: str, contract: str, arrow: str
) -> None:
    path = tree / "kimi_mcp" / module
    path.write_text(path.read_text() + f"\n{line}  # the wrong arrow\n")
    checked = lint_imports(tree)
    assert checked.returncode != 0, checked.stdout
    broken = _contract_name(contract)
    assert f"{broken} BROKEN" in " ".join(checked.stdout.split()), checked.stdout
    assert arrow in checked.stdout, checked.stdout


def _contract_name(contract_id: str) -> str:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (name,) = [c["name"] for c in config["contracts"] if c["id"] == contract_id]
    return " ".join(str(name).split())


def test_every_package_says_what_it_is_and_what_it_may_import() -> None:
    for name in SUBPACKAGES:
        init = PACKAGE / name / "__init__.py"
        doc = init.read_text().split('"""')[1]
        assert len(doc.strip().splitlines()) >= 3, f"{init}: say what the package is"
        assert "May import:" in doc, f"{init}: say what it may import"


def test_every_module_is_in_a_package_with_a_docstring() -> None:
    """A folder without `__init__.py` would be a namespace package the wheel might drop."""
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__" or not any(folder.glob("*.py")):
            continue
        assert (folder / "__init__.py").is_file(), f"{folder} is not a package"


@pytest.mark.subprocess
def test_the_wheel_ships_every_module_and_the_type_marker(tmp_path: Path) -> None:
    """`pip install .` installs what the tree holds: packages are discovered, not listed."""
    # Built from a copy: setuptools leaves build/ behind, and a stale one would ship old files.
    source = tmp_path / "source"
    shutil.copytree(PACKAGE, source / "kimi_mcp", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("kimi_mcp-*.whl")
    listed = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shipped = {line.split()[0] for line in listed.splitlines()[1:] if line.strip()}
    wanted = {
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*")
        if path.suffix in {".py", ".typed"} and "__pycache__" not in path.parts
    }
    assert wanted <= shipped, sorted(wanted - shipped)
