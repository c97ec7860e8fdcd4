"""What a stdio start loads: a client pays for every import before its first answer (issue 13:
cold start within 1.05x a bare SDK server), so what start-up does not need stays unimported."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import RAW_INITIALIZE, START_TIMEOUT, server_env

pytestmark = [pytest.mark.subprocess]

# The server, run as `python -m kimi_mcp` is, that names every module it loaded when it exits.
RUN_AND_LIST_MODULES = """
import atexit, runpy, sys
atexit.register(lambda: print("MODULES", *sorted(sys.modules), file=sys.stderr, flush=True))
sys.argv = ["kimi_mcp"]
runpy.run_module("kimi_mcp", run_name="__main__", alter_sys=True)
"""
# Each is needed only by a call or a command a stdio start never makes.
NOT_AT_START = (
    "jsonschema",  # ask_kimi's json_schema only
    "kimi_mcp.emulator",  # `kimi-mcp demo` / `emulator`
    "kimi_mcp.demo",
    "kimi_mcp.setup.doctor",  # `kimi-mcp doctor`
    "kimi_mcp.setup.install",  # `kimi-mcp install`
    "kimi_mcp.setup.show_config",  # `kimi-mcp config`
    "kimi_mcp.server.http_app",  # --transport http
    "redis",  # a redis:// store_url
    "tomllib",  # a config file, and there is none here
)


def test_a_stdio_start_imports_nothing_only_other_commands_need(workdir: Path) -> None:
    requests = [
        RAW_INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    # stdin stays open until tools/list is answered: at end of input the SDK's server stops and
    # drops what it has not answered yet, so closing it with the requests raced the answer.
    server = subprocess.Popen(
        [sys.executable, "-c", RUN_AND_LIST_MODULES],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env("http://127.0.0.1:9/v1", workdir),
        cwd=workdir,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    stop = threading.Timer(START_TIMEOUT, server.kill)  # a hung server ends the reads below
    stop.start()
    try:
        server.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
        server.stdin.flush()
        answers = [json.loads(server.stdout.readline() or "{}") for _ in range(2)]
        _, stderr = server.communicate(timeout=START_TIMEOUT)  # closes stdin: the server exits
    finally:
        stop.cancel()
        server.kill()
    assert [a.get("id") for a in answers] == [1, 2] and answers[1]["result"]["tools"]
    modules = stderr.split("MODULES ", 1)[1].split()
    loaded = [
        name for name in NOT_AT_START if any(m == name or m.startswith(name + ".") for m in modules)
    ]
    assert loaded == []
