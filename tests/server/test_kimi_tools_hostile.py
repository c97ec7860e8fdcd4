"""ask_kimi's tool loop against a misbehaving upstream: tool-call turns Kimi streams broken (no
id, one id twice, arguments that are not JSON, lone surrogates), and a round that fails after
earlier rounds were billed. The broken turns are scripted as raw SSE bodies (a "raw" fault on the
chat path); every later request goes to the emulator, whose 400 sweep stays on."""

import json
from typing import Any

import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator, Fault
from tests.tool_results import chats, ok

pytestmark = pytest.mark.anyio

FETCH_FIBERS = "/v1/formulas/moonshot/fetch:latest/fibers"
SSE = {"Content-Type": "text/event-stream"}
URL_ARGUMENTS = '{"url": "https://example.org/a"}'


def _event(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [choice]}
    return f"data: {json.dumps(chunk)}\n\n"


def _tool_turn(*calls: dict[str, Any]) -> Fault:
    """A complete thinking tool-call turn carrying `calls` as its deltas, as Kimi streams one."""
    body = _event({"role": "assistant", "content": "", "reasoning_content": "Let me fetch."})
    body += "".join(_event({"tool_calls": [call]}) for call in calls)
    usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
    body += _event({}, "tool_calls")[:-3] + f', "usage": {json.dumps(usage)}}}\n\n'
    return Fault("raw", status=200, body=body + "data: [DONE]\n\n", headers=SSE)


def _call(index: int, call_id: str | None, arguments: str = URL_ARGUMENTS) -> dict[str, Any]:
    delta: dict[str, Any] = {"index": index, "type": "function"}
    delta["function"] = {"name": "fetch", "arguments": arguments}
    if call_id is not None:
        delta["id"] = call_id
    return delta


async def _ask(client: Client, prompt: str = "fetch https://example.org/a") -> dict[str, Any]:
    arguments = {"prompt": prompt, "kimi_tools": ["fetch"]}
    return ok(await client.call_tool("ask_kimi", arguments))


def _fibers(emulator: Emulator) -> list[Any]:
    return [r for r in emulator.requests if r.path.endswith("/fibers")]


async def test_a_tool_call_without_an_id_is_a_malformed_turn_and_nothing_runs(
    mcp_client: Client, emulator: Emulator
) -> None:
    """Kimi needs each tool message to name its call: a call with no id cannot be answered, so
    its fiber is never run (nor billed) and the next request is never sent (Kimi rejects it)."""
    emulator.inject(_tool_turn(_call(0, None)))
    result = await _ask(mcp_client)
    assert result["truncated"] and result["truncated_reason"] == "upstream_malformed"
    assert "id" in result["upstream_error"] and result["usage"]["total_tokens"] == 70
    assert _fibers(emulator) == [] and len(chats(emulator)) == 1
    assert result["cost"] is not None  # the turn was billed all the same


async def test_tool_calls_sharing_an_id_are_a_malformed_turn_and_nothing_runs(
    mcp_client: Client, emulator: Emulator
) -> None:
    arguments = '{"url": "https://example.org/b"}'
    emulator.inject(_tool_turn(_call(0, "fetch:0"), _call(1, "fetch:0", arguments)))
    result = await _ask(mcp_client)
    assert result["truncated_reason"] == "upstream_malformed"
    assert "fetch:0" in result["upstream_error"]
    assert _fibers(emulator) == [] and len(chats(emulator)) == 1


@pytest.mark.parametrize("arguments", ["not json", "[1, 2]", '{"url": "https://e.org/'])
async def test_tool_call_arguments_that_are_not_a_json_object_never_reach_a_fiber(
    mcp_client: Client, emulator: Emulator, arguments: str
) -> None:
    """Kimi refuses such a fiber with 400; the model is told at once and asked again."""
    emulator.inject(_tool_turn(_call(0, "fetch:0", arguments)))
    result = await _ask(mcp_client)
    (call,) = result["tool_calls"]
    assert call["status"] == "error" and "JSON object" in call["error"]
    assert call["arguments"] is None and _fibers(emulator) == []
    assert result["rounds"] == 1 and not result["truncated"]
    assert "The fetch tool failed (" in result["answer"]


async def test_lone_surrogates_in_a_tool_call_never_crash_the_ask(
    mcp_client: Client, emulator: Emulator
) -> None:
    """Kimi's JSON may hold a lone surrogate escape anywhere the model writes; it goes back to
    Kimi as the same escape, and the result shows U+FFFD."""
    arguments = '{"url": "https://example.org/a", "note": "\udc00"}'  # as Kimi's JSON decodes
    emulator.inject(_tool_turn(_call(0, "fetch:\ud800", arguments)))
    result = await _ask(mcp_client)
    (call,) = result["tool_calls"]
    assert call["status"] == "ok"
    assert call["arguments"] == {"url": "https://example.org/a", "note": "\ufffd"}
    second = chats(emulator)[1].json["messages"]
    assert second[-1]["tool_call_id"] == "fetch:\ud800" == second[-2]["tool_calls"][0]["id"]
    (fiber,) = _fibers(emulator)
    assert fiber.json["arguments"] == arguments  # passed through


async def test_a_later_round_that_fails_keeps_the_billed_rounds(
    mcp_client: Client, emulator: Emulator
) -> None:
    """Round one was billed and its fiber ran: a failing round two (a 500 past the retries)
    returns what was done, charged, with Kimi's error, instead of an error that loses it."""
    emulator.inject(_tool_turn(_call(0, "fetch:0")))
    emulator.inject(Fault.server_error(500, times=3))
    result = await _ask(mcp_client)
    assert result["truncated"] and result["truncated_reason"] == "stream_cut"
    assert "500" in result["upstream_error"]
    assert result["rounds"] == 1 and result["tool_calls"][0]["status"] == "ok"
    assert result["usage"]["total_tokens"] == 70 and result["cost"] is not None
    assert len(_fibers(emulator)) == 1 and len(chats(emulator)) == 4  # 1 + 3 attempts
    # The conversation keeps the round, so asking again goes on from the fetched page.
    args = {"prompt": "go on", "conversation_id": result["conversation_id"]}
    again = ok(await mcp_client.call_tool("ask_kimi", args))
    sent = chats(emulator)[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert again["answer"] and not again["truncated"]


async def test_a_huge_tool_result_is_cut_to_fit_the_next_prompt(
    mcp_client: Client, emulator: Emulator
) -> None:
    """A 2 MB page (kimi-k2.6's window is 262,144 tokens) went whole into the next request,
    which Kimi refuses as too long: the result is cut, and the model is told so."""
    fiber = {"id": "fiber-1", "status": "succeeded", "context": {"output": "x" * 2_000_000}}
    emulator.inject(Fault("raw", path=FETCH_FIBERS, status=200, body=json.dumps(fiber)))
    result = await _ask(mcp_client)
    assert result["tool_calls"][0]["status"] == "ok" and result["upstream_error"] is None
    sent = chats(emulator)[1].json["messages"][-1]["content"]
    assert len(sent) < 300_000 and sent.endswith("characters were left out]")


async def test_a_huge_encrypted_search_result_is_an_error_call_still_charged(
    mcp_client: Client, emulator: Emulator
) -> None:
    """An encrypted result cannot be cut (it would not decrypt): the model hears the search
    was too large, and the search, which ran, is charged."""
    envelope = (
        "----MOONSHOT ENCRYPTED BEGIN----" + "A" * 2_000_000 + "----MOONSHOT ENCRYPTED END----"
    )
    fiber = {"id": "fiber-1", "status": "succeeded", "context": {"encrypted_output": envelope}}
    path = "/v1/formulas/moonshot/web-search:latest/fibers"
    emulator.inject(Fault("raw", path=path, status=200, body=json.dumps(fiber)))
    arguments = {"prompt": "search for moons", "kimi_tools": ["web-search"]}
    result = ok(await mcp_client.call_tool("ask_kimi", arguments))
    (call,) = result["tool_calls"]
    assert call["status"] == "error" and "too large" in call["error"]
    assert result["cost"]["breakdown"]["tools"] == pytest.approx(0.005)
    assert chats(emulator)[1].json["messages"][-1]["content"].startswith("Error: ")


async def test_a_round_of_many_calls_is_a_short_progress_step(
    mcp_client: Client, emulator: Emulator
) -> None:
    """Every call of a round was named in one progress message, repeated in every beat."""
    said: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        said.append(message or "")

    emulator.inject(_tool_turn(*(_call(i, f"fetch:{i}") for i in range(40))))
    arguments = {"prompt": "fetch https://example.org/a", "kimi_tools": ["fetch"]}
    await mcp_client.call_tool("ask_kimi", arguments, progress_callback=on_progress)
    steps = [m for m in said if m.startswith("fetching ")]
    assert steps and max(len(m) for m in steps) < 520, max(map(len, steps))
    assert steps[0].startswith("fetching https://example.org/a; fetching")
