"""What a stdio start loads: a client pays for every import before its first answer (issue 13:
cold start within 1.05x a bare SDK server), so what start-up does not need stays unimported: the
tools are listed from a snapshot, and imported, registered and given their services by the first
call that needs them."""

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RAW_INITIALIZE, START_TIMEOUT, server_env

pytestmark = [pytest.mark.subprocess]

# The server, run as `python -m kimi_mcp` is, that names every module it has loaded when it is
# sent SIGUSR1 (the signal interrupts its wait for input, so it answers at once).
RUN_AND_LIST_MODULES = """
import runpy, signal, sys
def name_modules(*_):
    print("MODULES", *sorted(sys.modules), file=sys.stderr, flush=True)
signal.signal(signal.SIGUSR1, name_modules)
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
    "kimi_mcp.setup.clients",  # its clients' paths (the parser has their names)
    "kimi_mcp.setup.show_config",  # `kimi-mcp config`
    "kimi_mcp.server.http_app",  # --transport http
    "redis",  # a redis:// store_url
    "tomllib",  # a config file, and there is none here
    # The first call's: the tools, their result models and validators, the services behind them
    # (the ask pipeline, the Kimi client, the stores, the path guard), prompts and resources.
    "kimi_mcp.server.tools",
    "kimi_mcp.server.search_tool",
    "kimi_mcp.server.conversation_tools",
    "kimi_mcp.server.tool_registry",
    "kimi_mcp.server.results",
    "kimi_mcp.server.argument_errors",
    "kimi_mcp.server.progress",
    "kimi_mcp.server.services",
    "kimi_mcp.server.prompts",
    "kimi_mcp.server.resources",
    "kimi_mcp.ask",
    "kimi_mcp.kimi",
    "kimi_mcp.local_files",
    "kimi_mcp.store.open",
    "kimi_mcp.store.conversations",  # the owner scoping needs only the default owner
    "kimi_mcp.store.sqlite_file",
    "sqlite3",
)


def _request(number: int, method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": number, "method": method, "params": params}


def _send(server: "subprocess.Popen[str]", *requests: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers to `requests` (each one with an id asks for one), in the order they came."""
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
    server.stdin.flush()
    asked = sum("id" in request for request in requests)
    return [json.loads(server.stdout.readline() or "{}") for _ in range(asked)]


def _modules(server: "subprocess.Popen[str]") -> list[str]:
    assert server.stderr is not None
    server.send_signal(signal.SIGUSR1)
    for line in iter(server.stderr.readline, ""):  # the log lines before it, then the names
        if line.startswith("MODULES "):
            return line.split()[1:]
    raise AssertionError("the server exited without naming its modules")


def test_a_stdio_start_lists_the_tools_without_importing_them_and_the_first_call_does(
    workdir: Path,
) -> None:
    # stdin stays open until the last answer: at end of input the SDK's server stops and drops
    # what it has not answered yet, so closing it with the requests raced the answers.
    server = subprocess.Popen(
        [sys.executable, "-c", RUN_AND_LIST_MODULES],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env("http://127.0.0.1:9/v1", workdir),
        cwd=workdir,
        text=True,
    )
    stop = threading.Timer(START_TIMEOUT, server.kill)  # a hung server ends the reads below
    stop.start()
    try:
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        answers = _send(server, RAW_INITIALIZE, initialized, _request(2, "tools/list"))
        modules = _modules(server)
        called = _send(
            server,
            _request(3, "tools/call", name="list_conversations", arguments={}),
            _request(4, "tools/call", name="list_conversations", arguments={"limt": 3}),
            _request(5, "tools/call", name="no_such_tool", arguments={}),
        )
        after_calls = _modules(server)
    finally:
        stop.cancel()
        server.kill()
        server.communicate()
    assert [a.get("id") for a in answers] == [1, 2] and len(answers[1]["result"]["tools"]) == 11
    loaded = [
        name for name in NOT_AT_START if any(m == name or m.startswith(name + ".") for m in modules)
    ]
    assert loaded == []
    # The first call registers the real tools and builds the services: a real result, the
    # argument guard's refusal and the SDK's unknown-tool error, as when all was built at start.
    listing, refusal, unknown = (a["result"] for a in sorted(called, key=lambda a: a["id"]))
    assert listing["structuredContent"] == {"conversations": [], "count": 0}
    assert refusal["isError"] and refusal["content"][0]["text"].startswith(
        "Unknown argument(s) for list_conversations: limt."
    )
    assert unknown["isError"] and unknown["content"][0]["text"] == "Unknown tool: no_such_tool"
    assert {"kimi_mcp.server.tools", "kimi_mcp.ask.chat", "kimi_mcp.store.open"} <= set(after_calls)
