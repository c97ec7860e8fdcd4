"""Kimi's documented refusals around tools and Structured Output, the json_schema answers, and
prompt_cache_key (kimi-api.md sections 2.2, 2.7 and 2.8), over raw HTTP."""

import json
from typing import Any

import httpx2
import pytest
from jsonschema import Draft202012Validator

from kimi_mcp.emulator import Emulator
from kimi_mcp.emulator.formulas import TOOLS
from tests.emulator.tool_helpers import ask, chat

pytestmark = pytest.mark.anyio

QUESTION = {"role": "user", "content": "search for cats"}
SEARCH = TOOLS["moonshot/web-search:latest"]


def _call(call_id: str, name: str = "web_search") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def _turn(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": "", "tool_calls": list(calls)}


def _result(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "Error: not run"}


def _history(*messages: dict[str, Any]) -> dict[str, Any]:
    return ask("x") | {"messages": [QUESTION, *messages]}


REFUSALS = [
    (
        ask("x", tools=[SEARCH, SEARCH]),
        "Invalid request: duplicate function name in tools: web_search",
    ),
    (
        _history(_turn(_call("web_search:0"), _call("web_search:1")), _result("web_search:1")),
        "Invalid request: messages[1].tool_calls need one tool message each; missing: web_search:0",
    ),
    (
        _history(_turn(_call("web_search:0")), _result("web_search:0"), _result("web_search:0")),
        "Invalid request: more than one tool message for tool_call_id web_search:0",
    ),
    (
        _history(_turn(_call("web_search:0")), _result("nope:0")),
        "Invalid request: tool_call_id nope:0 not found in messages[1].tool_calls",
    ),
    (
        _history(_result("web_search:0")),
        "Invalid request: messages[1] is a tool message with no preceding assistant tool call",
    ),
    (
        _history(_turn(_call("web_search:0")), {"role": "user", "content": "and?"}),
        "Invalid request: messages[1].tool_calls need one tool message each; missing: web_search:0",
    ),
    (
        _history(_turn({"id": "a:0", "function": {"name": "a"}}), _result("a:0")),
        "Invalid request: messages[1].tool_calls items must be",
    ),
    (
        ask("x", tools=[{"type": "function", "function": {"name": "a b"}}]),
        "Invalid request: tools[0].function.name must match",
    ),
    (
        _history(_turn(_call("w:0"))) | {"thinking": {"type": "enabled"}},
        "thinking is enabled but reasoning_content is missing",
    ),
]


@pytest.mark.parametrize(("body", "message"), REFUSALS)
async def test_tool_requests_kimi_refuses_get_400(
    http: httpx2.AsyncClient, emu: Emulator, body: dict[str, Any], message: str
) -> None:
    response = await http.post("/chat/completions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith(message)
    assert emu.rejections == [("/v1/chat/completions", 400, error["message"])]  # the 400 sweep


async def test_tool_messages_answer_their_calls_in_any_order(http: httpx2.AsyncClient) -> None:
    calls = (_call("web_search:0"), _call("web_search:1"))
    body = _history(_turn(*calls), _result("web_search:1"), _result("web_search:0"))
    assert (await chat(http, body))["finish_reason"] == "stop"


SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 3},
        "score": {"type": "integer", "minimum": 5, "maximum": 9},
        "ratio": {"type": "number", "exclusiveMaximum": 1},
        "ok": {"type": "boolean"},
        "kind": {"enum": ["book", "film"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "when": {"type": "string", "format": "date"},
        "note": {"type": ["string", "null"]},
        "author": {"$ref": "#/$defs/person"},
    },
    "required": ["title", "score", "author"],
    "additionalProperties": False,
    "$defs": {
        "person": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "born": {"type": "integer"}},
            "required": ["name"],
        }
    },
}


def _structured(model: str, text: str) -> dict[str, Any]:
    fmt = {"type": "json_schema", "json_schema": {"name": "review", "schema": SCHEMA}}
    return ask(text, model=model, tools=None, response_format=fmt)


@pytest.mark.parametrize("model", ["kimi-k2.5", "kimi-k2.6", "kimi-k2.7-code", "kimi-k3"])
async def test_json_schema_answer_validates_against_the_schema(
    http: httpx2.AsyncClient, model: str
) -> None:
    content = (await chat(http, _structured(model, "Rate the book Dune")))["message"]["content"]
    document = json.loads(content)
    assert list(Draft202012Validator(SCHEMA).iter_errors(document)) == []
    assert document["title"] == "Rate the book Dune"


async def test_break_the_schema_answers_json_that_does_not_validate(
    http: httpx2.AsyncClient,
) -> None:
    body = _structured("kimi-k2.6", "Rate Dune and break the schema")
    document = json.loads((await chat(http, body))["message"]["content"])
    assert "title" not in document and document["score"] == 5  # otherwise shaped by the schema
    assert list(Draft202012Validator(SCHEMA).iter_errors(document)) != []


@pytest.mark.parametrize("model", ["moonshot-v1-8k", "moonshot-v1-128k"])
async def test_json_schema_to_a_model_that_does_not_take_it_gets_400(
    http: httpx2.AsyncClient, emu: Emulator, model: str
) -> None:
    body = _structured(model, "Rate Dune")
    body.pop("thinking", None)
    response = await http.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f"Invalid request: response_format json_schema is not supported by model {model}; "
        "use json_object"
    )
    emu.rejections.clear()  # refused on purpose


def _long(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "rules " * 400}, {"role": "user", "content": text}]


async def _cached(http: httpx2.AsyncClient, messages: list[Any], key: str | None) -> int:
    body = ask("x", tools=None) | {"messages": messages}
    body |= {} if key is None else {"prompt_cache_key": key}
    response = await http.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    cached: int = response.json()["usage"]["cached_tokens"]
    return cached


async def test_prompt_cache_key_caches_against_the_same_keys_previous_prompt(
    http: httpx2.AsyncClient,
) -> None:
    first, other = _long("first"), [{"role": "system", "content": "other " * 400}]
    follow_up = [*first, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "2"}]
    system_tokens = 4 + 600  # "rules " * 400 is 2,400 bytes
    assert await _cached(http, first, "session-a") == 0
    assert await _cached(http, other, "session-b") == 0
    assert await _cached(http, follow_up, "session-a") == system_tokens + 4 + 2
    # Without a key, only the previous prompt of any request counts (here session-a's).
    assert await _cached(http, other, None) == 0
    assert await _cached(http, follow_up, None) == 0
