"""The distribution metadata: `server.json` for the MCP Registry and `manifest.json` for the MCP
Bundle (Claude Desktop), each valid against its published schema, at the package's version, and
naming only settings the server really reads.

server.json is checked against the registry's schema vendored in .ci/schemas (the static URL is
out of reach here; .ci/schemas/README.md says where the copy came from). The bundle is built
and validated by the official `mcpb` tool, pinned, from npm: skipped only where npm cannot be
reached, and never in CI (CI=true), which can.
"""

import copy
import json
import os
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kimi_mcp import __version__
from kimi_mcp.config import KEY_VARIABLES, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SERVER_JSON = ROOT / "server.json"
MANIFEST = ROOT / "manifest.json"
REGISTRY_SCHEMA = ROOT / ".ci" / "schemas" / "server.schema.2025-12-11.json"
MCP_NAME = "io.github.kimi-mcp/kimi-mcp"
NPM_TIMEOUT = 300  # seconds: only bounds a hang (npm install of mcpb takes a few seconds)


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _registry_errors(document: Any) -> list[str]:
    schema = _load(REGISTRY_SCHEMA)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def _known_variables() -> set[str]:
    names = {*KEY_VARIABLES, "MOONSHOT_BASE_URL", "KIMI_BASE_URL"}
    return names | {f"KIMI_MCP_{field.upper()}" for field in Settings.model_fields}


# server.json ----------------------------------------------------------------------------------


def test_server_json_is_valid_against_the_registry_schema() -> None:
    assert _registry_errors(_load(SERVER_JSON)) == []


def test_the_registry_schema_check_can_fail() -> None:
    """The control: a description over the registry's 100 characters and a `latest` version."""
    broken = _load(SERVER_JSON)
    broken["description"] = "x" * 101
    broken["packages"][0]["version"] = "latest"
    assert len(_registry_errors(broken)) == 2


def test_server_json_is_at_the_package_version() -> None:
    server = _load(SERVER_JSON)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert server["version"] == project["version"] == __version__
    assert [p["version"] for p in server["packages"]] == [__version__]


def test_server_json_points_at_the_pypi_package_over_stdio() -> None:
    server = _load(SERVER_JSON)
    (package,) = server["packages"]
    assert (package["registryType"], package["identifier"]) == ("pypi", "kimi-mcp")
    assert package["transport"] == {"type": "stdio"}
    assert server["name"] == MCP_NAME


def test_server_json_asks_for_the_key_as_a_required_secret() -> None:
    (package,) = _load(SERVER_JSON)["packages"]
    variables = {v["name"]: v for v in package["environmentVariables"]}
    key = variables["MOONSHOT_API_KEY"]
    assert key["isSecret"] is True and key["isRequired"] is True
    assert not any(v.get("isSecret") for n, v in variables.items() if n != "MOONSHOT_API_KEY")
    assert set(variables) <= _known_variables(), set(variables) - _known_variables()
    assert "KIMI_MCP_ALLOWED_DIRS" in variables


def test_the_readme_carries_the_mcp_name_line_the_registry_checks() -> None:
    """The registry proves PyPI ownership by this line in the package description (the README)."""
    assert f"mcp-name: {MCP_NAME}" in (ROOT / "README.md").read_text()


# manifest.json (the MCP Bundle) ---------------------------------------------------------------


def test_the_bundle_manifest_is_at_the_package_version() -> None:
    assert _load(MANIFEST)["version"] == __version__


def test_the_bundle_keeps_the_key_secret_and_the_folder_a_directory() -> None:
    manifest = _load(MANIFEST)
    options, env = manifest["user_config"], manifest["server"]["mcp_config"]["env"]
    assert options["api_key"]["sensitive"] is True and options["api_key"]["required"] is True
    assert env["MOONSHOT_API_KEY"] == "${user_config.api_key}"
    directories = [name for name, o in options.items() if o["type"] == "directory"]
    assert [env["KIMI_MCP_ALLOWED_DIRS"]] == [f"${{user_config.{d}}}" for d in directories]
    assert set(env) <= _known_variables(), set(env) - _known_variables()


def test_the_bundle_settings_load_as_claude_desktop_fills_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The env the manifest maps, with the values a user picks, is a valid configuration."""
    folder = tmp_path / "papers"
    folder.mkdir()
    picked = {"api_key": "sk-bundle-test", "allowed_directory": str(folder), "region": "china"}
    for name, value in _load(MANIFEST)["server"]["mcp_config"]["env"].items():
        for option, chosen in picked.items():
            value = value.replace(f"${{user_config.{option}}}", chosen)
        assert "${" not in value, f"{name} maps an option the test does not fill"
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.allowed_dirs == [folder]
    assert settings.region == "china"
    assert settings.api_key is not None


def _npm_reachable() -> bool:
    if shutil.which("npm") is None:
        return False
    probe = subprocess.run(
        ["npm", "view", "@anthropic-ai/mcpb", "version"],
        capture_output=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The bundle scripts/build_bundle.sh builds (installing the pinned mcpb), and its log."""
    if os.environ.get("CI") != "true" and not _npm_reachable():
        pytest.skip("npm cannot be reached: the bundle is built by mcpb from npm (CI runs this)")
    out = tmp_path_factory.mktemp("bundle") / "kimi-mcp.mcpb"
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_bundle.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out, built.stderr


@pytest.mark.subprocess
def test_the_bundle_builds_and_mcpb_validates_it(bundle: tuple[Path, str]) -> None:
    """scripts/build_bundle.sh validates the manifest and packs the package with uv's files."""
    path, log = bundle
    assert "Manifest schema validation passes" in log
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert {"manifest.json", "pyproject.toml", "README.md", "LICENSE"} <= names
    assert "kimi_mcp/__main__.py" in names
    assert not [n for n in names if n.startswith(("tests/", ".venv/")) or "__pycache__" in n]


@pytest.mark.subprocess
def test_mcpb_validate_refuses_a_broken_manifest(bundle: tuple[Path, str], tmp_path: Path) -> None:
    """The control: the validator CI runs can fail (a user setting of a type mcpb lacks)."""
    broken: dict[str, Any] = copy.deepcopy(_load(MANIFEST))
    broken["user_config"]["api_key"]["type"] = "secret"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(broken))
    checked = subprocess.run(
        [str(ROOT / ".ci" / "npm" / "node_modules" / ".bin" / "mcpb"), "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    assert checked.returncode != 0, checked.stdout + checked.stderr
