"""`kimi-mcp demo`: the emulator, the real server as a subprocess and the SDK client; no key."""

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from kimi_mcp.emulator import Emulator, serve_emulator

SAMPLE = """\
kimi-mcp demo document

Kimi is a family of large language models from Moonshot AI. This file was written by
`kimi-mcp demo`, uploaded to the emulator, and read back through read_file.
"""


def server_parameters(base_url: str, api_key: str, workdir: Path) -> StdioServerParameters:
    """How a client config would launch kimi-mcp, pointed at the emulator."""
    env = {
        "MOONSHOT_API_KEY": api_key,
        "MOONSHOT_BASE_URL": base_url,
        # The documents folder, not the whole (stand-in) home: a home is never a safe place to
        # allow, and the server would say so at start-up.
        "KIMI_MCP_ALLOWED_DIRS": str(workdir / "documents"),
        "KIMI_MCP_DATA_DIR": str(workdir / "data"),
        "HOME": str(workdir),
        "XDG_CONFIG_HOME": str(workdir / "config"),
    }
    return StdioServerParameters(
        command=sys.executable, args=["-m", "kimi_mcp"], env=env, cwd=str(workdir)
    )


async def run_demo() -> None:
    emulator = Emulator()
    with tempfile.TemporaryDirectory(prefix="kimi-mcp-demo-") as tmp:
        workdir = Path(tmp)
        (workdir / "documents").mkdir()
        document = workdir / "documents" / "about-kimi.txt"
        document.write_text(SAMPLE, encoding="utf-8")
        async with serve_emulator(emulator) as base_url:
            _say(f"Kimi emulator listening at {base_url}; starting kimi-mcp over stdio...")
            params = server_parameters(base_url, emulator.api_key, workdir)
            async with Client(params) as client:
                await _tour(client, document)
    _say(
        "\nDone: every tool answered. To use the real Kimi: set MOONSHOT_API_KEY, run "
        "`kimi-mcp install <client>` (claude-code, cursor, vscode...) and `kimi-mcp doctor` "
        "(see README)."
    )


async def _tour(client: Client, document: Path) -> None:
    tools = (await client.list_tools()).tools
    _say(f"Server offers {len(tools)} tools: {', '.join(tool.name for tool in tools)}")
    await _call(client, "list_models", {})
    await _call(client, "check_balance", {})
    await _call(client, "estimate_tokens", {"text": "How many tokens is this sentence?"})
    answer = await _call(client, "ask_kimi", {"prompt": "In one line: what is MCP?"})
    follow_up = {"prompt": "And in five words?", "conversation_id": answer.get("conversation_id")}
    await _call(client, "ask_kimi", follow_up)
    await _call(client, "ask_kimi", {"prompt": "Summarise this file.", "files": [str(document)]})
    await _call(client, "ask_kimi", {"prompt": "Think it through: 17 * 23?", "thinking": True})
    searched = await _call(client, "web_search", {"query": "What is new in Kimi K2?"})
    _say_sources_and_cost(searched)
    with_tools = {
        "prompt": "Fetch https://example.org/kimi, then compute 17*23",
        "kimi_tools": ["fetch", "code_runner"],
    }
    _say_sources_and_cost(await _call(client, "ask_kimi", with_tools))
    await _call(client, "list_conversations", {"limit": 3})
    conversation = {"conversation_id": answer.get("conversation_id")}
    await _call(client, "delete_conversation", conversation)
    uploaded = await _call(client, "upload_file", {"path": str(document)})
    file_id = str(uploaded.get("id", ""))
    await _call(client, "list_files", {})
    await _call(client, "read_file", {"file_id": file_id, "limit": 200})
    await _call(client, "delete_file", {"file_id": file_id})
    await _call(client, "upload_file", {"path": "/etc/passwd"}, expect_error=True)
    if not answer:
        raise SystemExit("ask_kimi returned nothing: the demo failed")


async def _call(
    client: Client, name: str, arguments: dict[str, Any], *, expect_error: bool = False
) -> dict[str, Any]:
    _say(f"\n>>> {name}({json.dumps(arguments, ensure_ascii=False)})")
    result = await client.call_tool(name, arguments)
    if result.is_error != expect_error:
        raise SystemExit(
            f"{name} {'failed' if result.is_error else 'succeeded'} unexpectedly: {_text(result)}"
        )
    if result.is_error:
        _say(f"(refused, as it should be) {_text(result)}")
        return {}
    structured = result.structured_content or {}
    _say(json.dumps(structured, indent=2, ensure_ascii=False))
    return structured


def _say_sources_and_cost(result: dict[str, Any]) -> None:
    """The line a user looks for: where the answer came from and what it cost."""
    for source in result.get("sources") or []:
        _say(f"source: {source.get('title') or source['url']} <{source['url']}>")
    cost = result.get("cost")
    if cost:
        ran = (
            f"{result['searches']} search(es)"
            if "searches" in result
            else f"{len(result.get('tool_calls') or [])} tool call(s)"
        )
        tools = cost["breakdown"]["tools"]
        _say(f"cost: {cost['amount']:.6f} {cost['currency']} (estimated; {ran}, tools {tools:.4f})")
    else:
        _say(f"cost: unknown ({result.get('cost_note')})")


def _text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


def _say(text: str) -> None:
    print(text, flush=True)
