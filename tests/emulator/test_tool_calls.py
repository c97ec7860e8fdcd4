"""The emulated model calling declared tools (kimi-api.md sections 2.2 and 2.8), over raw HTTP:
the trigger grammar, rounds, the final answer, streaming and token counts."""

import json
from typing import Any

import httpx2
import pytest

from kimi_mcp.emulator import Emulator
from kimi_mcp.emulator.formulas import TOOLS
from tests.emulator.tool_helpers import ALL_TOOLS, arguments, ask, chat, tool_loop

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("question", "name", "expected"),
    [
        ("Please search for kimi k2?", "web_search", {"query": "kimi k2"}),
        ("fetch https://example.org/a.", "fetch", {"url": "https://example.org/a"}),
        ("compute 17*23", "code_runner", {"code": "print(17*23)"}),
        ("Calculate (2+3)*4?", "code_runner", {"code": "print((2+3)*4)"}),
        ("what date is it today", "date", {"operation": "now"}),
        ("Tell me today's date", "date", {"operation": "now"}),
    ],
)
async def test_each_trigger_calls_its_tool(
    http: httpx2.AsyncClient, question: str, name: str, expected: dict[str, str]
) -> None:
    choice = await chat(http, ask(question))
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == f"{name}:0" and call["type"] == "function"
    assert call["function"]["name"] == name and isinstance(call["function"]["arguments"], str)
    assert arguments(call) == expected
    assert choice["message"]["content"] == f"Let me use {name}."


async def test_asks_joined_by_and_are_calls_of_one_round(http: httpx2.AsyncClient) -> None:
    choice = await chat(http, ask("search for cats and dogs and fetch https://example.org/b"))
    calls = choice["message"]["tool_calls"]
    assert [c["id"] for c in calls] == ["web_search:0", "fetch:1"]
    assert [arguments(c) for c in calls] == [
        {"query": "cats and dogs"},
        {"url": "https://example.org/b"},
    ]


async def test_asks_joined_by_then_are_separate_rounds(http: httpx2.AsyncClient) -> None:
    question = "search for kimi k2, then fetch https://example.org/c, then compute 6*7"
    final, rounds = await tool_loop(http, ask(question))
    assert [[c["function"]["name"] for c in calls] for calls in rounds] == [
        ["web_search"],
        ["fetch"],
        ["code_runner"],
    ]
    assert final["finish_reason"] == "stop" and "tool_calls" not in final["message"]


async def test_final_answer_cites_search_sources_as_markdown_links(
    http: httpx2.AsyncClient,
) -> None:
    question = "search for kimi k2, then fetch https://example.org/c, then compute 6*7"
    final, _ = await tool_loop(http, ask(question))
    content = final["message"]["content"]
    assert "Sources: [kimi k2](https://example.com/search/kimi-k2)." in content
    assert "> The content of https://example.org/c." in content
    assert "The result is 42." in content


async def test_keep_searching_calls_web_search_every_round(http: httpx2.AsyncClient) -> None:
    with pytest.raises(AssertionError, match="still calling tools after 6 rounds"):
        await tool_loop(http, ask("keep searching for moons"), max_rounds=6)
    choice = await chat(http, ask("keep searching"))
    assert arguments(choice["message"]["tool_calls"][0]) == {"query": "more"}


async def test_undeclared_tool_is_answered_in_text(http: httpx2.AsyncClient) -> None:
    fetch_only = [TOOLS["moonshot/fetch:latest"]]
    choice = await chat(http, ask("search for cats", tools=fetch_only))
    assert choice["finish_reason"] == "stop"
    assert (
        "There is no web_search tool here, so I answer without it."
        in (choice["message"]["content"])
    )


async def test_tool_choice_none_answers_in_text(http: httpx2.AsyncClient) -> None:
    choice = await chat(http, ask("search for cats", tool_choice="none"))
    assert choice["finish_reason"] == "stop" and "tool_calls" not in choice["message"]
    auto = await chat(http, ask("search for cats", tool_choice="auto"))
    assert auto["finish_reason"] == "tool_calls"


async def test_a_question_without_trigger_is_answered_in_text(http: httpx2.AsyncClient) -> None:
    choice = await chat(http, ask("hello there"))
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == "Emulated kimi-k2.6 reply: hello there"


def _answered(question: str, call: dict[str, Any], output: str) -> dict[str, Any]:
    turn = {"role": "assistant", "content": "", "tool_calls": [call]}
    result = {"role": "tool", "tool_call_id": call["id"], "content": output}
    return ask(question) | {"messages": [ask(question)["messages"][0], turn, result]}


async def test_tool_error_message_is_acknowledged(http: httpx2.AsyncClient) -> None:
    call = (await chat(http, ask("fetch https://example.org/x")))["message"]["tool_calls"][0]
    body = _answered("fetch https://example.org/x", call, "Error: fiber status failed")
    choice = await chat(http, body)
    assert choice["finish_reason"] == "stop"
    assert (
        "The fetch tool failed (fiber status failed); answering without it."
        in (choice["message"]["content"])
    )


async def test_unreadable_search_result_is_acknowledged(http: httpx2.AsyncClient) -> None:
    call = (await chat(http, ask("search for x")))["message"]["tool_calls"][0]
    choice = await chat(http, _answered("search for x", call, "not an envelope"))
    assert (
        "The web_search result could not be read; answering without it."
        in (choice["message"]["content"])
    )


async def test_thinking_reasoning_comes_first_on_tool_call_turns(
    http: httpx2.AsyncClient,
) -> None:
    body = ask("search for cats", thinking={"type": "enabled"})
    message = (await chat(http, body))["message"]
    assert message["reasoning_content"].startswith("Thinking about: search for cats")
    final, rounds = await tool_loop(http, ask("search for cats", "kimi-k3"))
    assert len(rounds) == 1 and final["message"]["reasoning_content"]
    kinds = [kind for kind in await _delta_kinds(http, body) if kind != "role"]
    assert kinds[0] == "reasoning_content" and "tool_calls" in kinds
    assert kinds.index("tool_calls") > max(i for i, k in enumerate(kinds) if k != "tool_calls")


async def _stream(http: httpx2.AsyncClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    async with http.stream("POST", "/chat/completions", json=body | {"stream": True}) as reply:
        assert reply.status_code == 200
        lines = [line.removeprefix("data: ") async for line in reply.aiter_lines()]
    assert lines[-2] == "[DONE]"
    return [json.loads(line) for line in lines if line.startswith("{")]


async def _delta_kinds(http: httpx2.AsyncClient, body: dict[str, Any]) -> list[str]:
    kinds = []
    for chunk in await _stream(http, body):
        delta = chunk["choices"][0]["delta"]
        kinds += ["role"] if "role" in delta else [k for k in delta if delta[k]]
    return kinds


async def test_streamed_calls_assembled_by_index_equal_the_non_streamed_ones(
    http: httpx2.AsyncClient,
) -> None:
    body = ask("search for the longest river in the world and fetch https://example.org/river")
    expected = (await chat(http, body))["message"]["tool_calls"]
    chunks = await _stream(http, body)
    assembled: dict[int, dict[str, Any]] = {}
    order, fragments = [], {0: 0, 1: 0}
    for chunk in chunks:
        for delta in chunk["choices"][0]["delta"].get("tool_calls", []):
            index, function = delta["index"], delta["function"]
            order.append(index)
            if "id" in delta:  # the first delta of a call: id, type, name, empty arguments
                assert function["arguments"] == "" and index not in assembled
                assembled[index] = {"id": delta["id"], "type": delta["type"]}
                assembled[index]["function"] = {"name": function["name"], "arguments": ""}
            else:
                assert set(delta) == {"index", "function"} and set(function) == {"arguments"}
                assembled[index]["function"]["arguments"] += function["arguments"]
                fragments[index] += 1
    assert [assembled[i] for i in sorted(assembled)] == expected
    assert min(fragments.values()) >= 2 and order[:4] == [0, 1, 0, 1]  # interleaved
    finish = chunks[-1]["choices"][0]
    assert finish["finish_reason"] == "tool_calls" and finish["delta"] == {}
    assert finish["usage"]["completion_tokens"] > 0


async def test_prompt_tokens_count_the_tool_declarations(http: httpx2.AsyncClient) -> None:
    without = await http.post("/chat/completions", json=ask("hello") | {"tools": None})
    with_tools = await http.post("/chat/completions", json=ask("hello"))
    added = -(-len(json.dumps(ALL_TOOLS).encode()) // 4)
    prompt = [r.json()["usage"]["prompt_tokens"] for r in (without, with_tools)]
    assert prompt[1] - prompt[0] == added


async def test_calls_that_do_not_fit_max_tokens_end_with_length(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    question = "search for a rather long query text"
    choice = await chat(http, ask(question, max_tokens=3))
    assert choice["finish_reason"] == "length" and "tool_calls" not in choice["message"]
    assert (await chat(http, ask(question, max_tokens=100)))["finish_reason"] == "tool_calls"


async def test_a_web_search_system_prompt_makes_the_model_search_the_whole_question(
    http: httpx2.AsyncClient,
) -> None:
    body = ask("latest python release")
    body["messages"].insert(0, {"role": "system", "content": "Search the web; cite links."})
    final, rounds = await tool_loop(http, body)
    assert [arguments(call) for call in rounds[0]] == [{"query": "latest python release"}]
    assert "(https://example.com/search/latest-python-release)" in final["message"]["content"]
    plain, _ = await tool_loop(http, ask("latest python release"))
    assert "example.com" not in plain["message"]["content"]
