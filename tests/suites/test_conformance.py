"""The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
.ci/suites-install.sh) against kimi-mcp over streamable HTTP, its token added by a loopback proxy.

Every scenario must pass except those `.ci/conformance-expected-failures.yml` lists (fixture
tools, resources and prompts this server does not have); a listed scenario that passes fails the
run too (the suite calls the baseline stale), so the file cannot rot.
"""

import json
import os
from pathlib import Path

import anyio
import pytest

from tests.e2e.conftest import TEST_TOKEN, serving
from tests.suites.bearer_proxy import bearer_proxy
from tests.suites.conftest import CONFORMANCE, ROOT, SUITE_TIMEOUT

pytestmark = [pytest.mark.anyio, pytest.mark.suites, pytest.mark.subprocess]

EXPECTED_FAILURES = ROOT / ".ci" / "conformance-expected-failures.yml"


def _scenario_counts(results: Path) -> tuple[list[str], list[str]]:
    """Scenarios whose checks all passed, and those with a failed check, from checks.json."""
    passed: list[str] = []
    failed: list[str] = []
    for checks_file in sorted(results.rglob("checks.json")):
        checks = json.loads(checks_file.read_text())
        name = checks_file.parent.name.removeprefix("server-").split("-20")[0]  # + timestamp
        bad = [c for c in checks if c.get("status") not in ("SUCCESS", "INFO", "SKIPPED")]
        (failed if bad else passed).append(name)
    return passed, failed


async def test_conformance_suite_passes_all_but_the_fixture_scenarios(
    node: str, workdir: Path, tmp_path: Path
) -> None:
    results = tmp_path / "conformance"
    async with serving(workdir) as served, bearer_proxy(served.base, TEST_TOKEN) as proxy:
        command = [
            node, str(CONFORMANCE), "server", "--url", f"{proxy}/mcp",
            "--expected-failures", str(EXPECTED_FAILURES), "-o", str(results),
        ]  # fmt: skip
        with anyio.fail_after(SUITE_TIMEOUT):
            done = await anyio.run_process(
                command, check=False, env={**os.environ, "NO_COLOR": "1"}
            )
    output = (done.stdout + done.stderr).decode(errors="replace")
    passed, failed = _scenario_counts(results)
    print(f"conformance: {len(passed)} scenarios passed, {len(failed)} failed: {failed}")
    assert done.returncode == 0, output[-6000:]
