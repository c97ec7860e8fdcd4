"""The official MCP suites (conformance, Inspector CLI) from npm: where .ci/suites-install.sh put
them, and a Node new enough to run them."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".ci" / "npm" / "node_modules"
CONFORMANCE = NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
INSPECTOR = NODE_MODULES / "@modelcontextprotocol" / "inspector" / "clients" / "launcher"
INSPECTOR_CLI = INSPECTOR / "build" / "index.js"
MIN_NODE = (22, 19)  # the Inspector's engines field; the conformance suite needs 22 (fs.globSync)
SUITE_TIMEOUT = 300  # seconds for one whole suite run; ~1 min here
SETUP_HINT = (
    "run `bash .ci/suites-install.sh` (it installs the pinned suites and Node 22 if needed)"
)


@pytest.fixture(scope="session")
def node() -> str:
    """The Node binary: the registry's `node` package when installed, else the machine's."""
    found = NODE_MODULES / ".bin" / "node"
    binary = str(found) if found.exists() else shutil.which("node")
    if binary is None:
        pytest.fail(f"no node found: {SETUP_HINT}")
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if numbers < MIN_NODE:
        pytest.fail(f"node {version.strip()} is older than 22.19: {SETUP_HINT}")
    for path in (CONFORMANCE, INSPECTOR_CLI):
        if not path.exists():
            pytest.fail(f"{path.relative_to(ROOT)} is missing: {SETUP_HINT}")
    return binary
