"""What a release ships: `python -m build` makes an sdist and a wheel without a warning; the wheel
installs every module and data file of the package, the sdist everything the tests and CI need,
and the metadata names the licence, the project's home and the Python versions.

One build serves every test here (it takes a few seconds; setuptools comes from PyPI into the
isolated build environment, as for any `pip install .`).
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kimi_mcp"
BUILD_TIMEOUT = 300  # seconds: only bounds a hang (a build takes ~10 s)
# A working tree's leftovers, never part of a release (the build is made from a copy without them).
NOT_SOURCE = [".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "node_modules", "npm"]
NOT_SOURCE += [".mypy_cache", ".ruff_cache", ".pytest_cache", ".coverage*"]


@dataclass(frozen=True)
class Release:
    output: str  # what `python -m build` printed
    wheel: set[str]  # the wheel's file names
    sdist: set[str]  # the sdist's file names, below its top folder
    metadata: str  # the wheel's METADATA


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The sdist and wheel built from a copy of the tree (setuptools leaves build/ behind)."""
    source = tmp_path_factory.mktemp("source") / "kimi-mcp"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    dist = source.parent / "dist"
    # This machine's PYTHONDONTWRITEBYTECODE makes setuptools warn "byte-compiling is disabled".
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-3000:]
    (wheel_path,) = dist.glob("kimi_mcp-*.whl")
    (sdist_path,) = dist.glob("kimi_mcp-*.tar.gz")
    with zipfile.ZipFile(wheel_path) as wheel:
        names = set(wheel.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = wheel.read(metadata_name).decode()
    with tarfile.open(sdist_path) as sdist:
        top = sdist_path.name.removesuffix(".tar.gz") + "/"
        members = {m.name.removeprefix(top) for m in sdist.getmembers() if m.isfile()}
    return Release(output, names, members, metadata)


pytestmark = pytest.mark.subprocess


def test_the_build_prints_no_warning(release: Release) -> None:
    """A licence table (`license = {text = ...}`) or a pattern matching nothing warns here."""
    warnings = [
        line for line in release.output.splitlines() if re.search(r"warn|deprecat", line, re.I)
    ]
    assert warnings == []


def test_the_wheel_ships_every_module_and_data_file_of_the_package(release: Release) -> None:
    """Packages are discovered, not listed; data files (the type marker, the example config, the
    tool list snapshot, wherever they live in the package) are named by kind in pyproject.toml."""
    wanted = {
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*")
        if path.suffix in {".py", ".typed", ".toml", ".json"} and "__pycache__" not in path.parts
    }
    assert wanted <= release.wheel, sorted(wanted - release.wheel)
    assert "kimi_mcp/py.typed" in release.wheel


def test_the_wheel_ships_the_license(release: Release) -> None:
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in release.wheel)


def test_the_sdist_holds_what_the_tests_and_ci_need(release: Release) -> None:
    """From the sdist alone: `pip install -e '.[dev]' && pytest` and `.ci/run` have their files."""
    wanted = {"LICENSE", "README.md", "pyproject.toml", "server.json", "manifest.json"}
    wanted |= {"config.example.toml"} if (ROOT / "config.example.toml").exists() else set()
    wanted |= {_relative(p) for p in (ROOT / "tests").rglob("*.py") if "__pycache__" not in p.parts}
    wanted |= {_relative(p) for p in _files(ROOT / ".ci") if "npm" not in p.parts}
    wanted |= {_relative(p) for p in _files(ROOT / "scripts")}
    wanted |= {_relative(p) for p in _files(ROOT / "deploy")}
    missing = sorted(wanted - release.sdist)
    assert missing == [], f"add to MANIFEST.in: {missing}"
    shipped_by_accident = [
        n for n in release.sdist if "node_modules" in n or ".ci/npm" in n or "__pycache__" in n
    ]
    assert shipped_by_accident == []


def test_the_metadata_names_the_license_home_and_python_versions(release: Release) -> None:
    fields = [line.split(": ", 1) for line in release.metadata.splitlines() if ": " in line]
    values: dict[str, list[str]] = {}
    for name, value in fields:
        values.setdefault(name, []).append(value)
    assert values["License-Expression"] == ["MIT"]
    assert values["License-File"] == ["LICENSE"]
    urls = dict(url.split(", ", 1) for url in values["Project-URL"])
    assert set(urls) >= {"Homepage", "Repository", "Issues", "Changelog"}
    assert all(u.startswith("https://github.com/kimi-mcp/kimi-mcp") for u in urls.values())
    assert values.get("Author") or values.get("Author-email")
    classifiers = set(values["Classifier"])
    for minor in (11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the expression says it


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))
