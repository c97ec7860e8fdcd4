"""Input errors a model can act on: wrong arguments get one sentence per field in JSON terms, and an
unknown prompt or resource is invalid params (-32602) with a short message and no traceback."""

from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult

from kimi_mcp.emulator import Emulator

pytestmark = pytest.mark.anyio

INVALID_PARAMS = -32602
# What pydantic's own dump carries and a model can do nothing with.
PYTHON_WORDS = (
    "pydantic",
    "errors.pydantic.dev",
    "validation error",
    "[type=",
    "input_value",
    "input_type",
    "Input should",
    "tuple",
    "dictionary",
    "Arguments",
)


def _text(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def _no_python_words(text: str) -> None:
    found = [word for word in PYTHON_WORDS if word in text]
    assert not found, f"{found} in {text!r}"


async def test_wrong_argument_types_get_one_sentence_per_field_in_json_terms(
    mcp_client: Client, emulator: Emulator
) -> None:
    arguments = {"prompt": 5, "file_ids": "abc", "max_tokens": 0, "deadline": "soon"}
    result = await mcp_client.call_tool("ask_kimi", arguments)
    text = _text(result)
    assert result.is_error
    _no_python_words(text)
    assert text.startswith("Invalid arguments for ask_kimi; nothing was done.")
    assert "prompt: expected a non-empty string; got 5." in text
    assert (
        'file_ids: expected an array of strings (at most 20 items); got the string "abc".' in text
    )
    assert "max_tokens: expected an integer >= 1 and <= 1048576; got 0." in text
    assert 'deadline: expected a number > 0 and <= 3600; got the string "soon".' in text
    assert text.count(": expected ") == len(arguments)  # one sentence per field
    assert not [r for r in emulator.requests if r.path.endswith("/chat/completions")]


async def test_enum_and_nested_argument_errors_name_the_choices(mcp_client: Client) -> None:
    messages = [{"role": "bob", "content": ""}]
    result = await mcp_client.call_tool("estimate_tokens", {"messages": messages, "text": []})
    text = _text(result)
    _no_python_words(text)
    assert "text: expected a non-empty string; got an empty array." in text
    assert (
        'messages[0].role: expected one of: system, user, assistant; got the string "bob".' in text
    )
    assert 'messages[0].content: expected a non-empty string; got the string "".' in text

    result = await mcp_client.call_tool("upload_file", {"path": "a.txt", "purpose": "docs"})
    assert "purpose: expected one of: file-extract, image, video, batch" in _text(result)

    result = await mcp_client.call_tool("read_file", {"offset": -1})
    text = _text(result)
    assert "file_id: required, expected a non-empty string (at most 128 characters" in text
    assert "offset: expected an integer >= 0; got -1." in text


async def test_every_argument_of_every_tool_is_explained_in_json_terms(mcp_client: Client) -> None:
    """The sweep: an object where each argument goes gets a sentence naming that argument."""
    for tool in (await mcp_client.list_tools()).tools:
        properties: dict[str, Any] = tool.input_schema.get("properties", {})
        for name, schema in properties.items():
            # An argument that takes an object (ask_kimi's json_schema) is given a string.
            takes_object = any(s.get("type") == "object" for s in schema.get("anyOf", [schema]))
            wrong, got = (
                ("wrong", 'got the string "wrong".')
                if takes_object
                else ({"wrong": True}, "got an object.")
            )
            result = await mcp_client.call_tool(tool.name, {name: wrong})
            text = _text(result)
            assert result.is_error, (tool.name, name)
            _no_python_words(text)
            assert f"{name}: expected " in text and f"; {got}" in text, text


async def test_unknown_prompt_answers_invalid_params_without_a_traceback(
    mcp_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(MCPError) as raised:
        await mcp_client.get_prompt("summarize", {})
    assert raised.value.code == INVALID_PARAMS
    assert raised.value.message == (
        "Unknown prompt: 'summarize'. It has: review, second_opinion, summarize_document."
    )
    assert "Traceback" not in caplog.text


async def test_unknown_conversation_resource_answers_invalid_params_without_a_traceback(
    mcp_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    for uri in ("kimi://conversations/conv_nope", "kimi://nothing-here"):
        with pytest.raises(MCPError) as raised:
            await mcp_client.read_resource(uri)
        assert raised.value.code == INVALID_PARAMS, uri
        assert raised.value.message.startswith("Unknown resource"), raised.value.message
        assert len(raised.value.message) < 200
    assert "Traceback" not in caplog.text


async def test_a_malformed_file_id_is_explained_in_words_not_only_a_regex(
    mcp_client: Client, emulator: Emulator
) -> None:
    """read_file and delete_file printed only the pattern; ask_kimi said what an id looks like."""
    for tool in ("read_file", "delete_file"):
        result = await mcp_client.call_tool(tool, {"file_id": "x/../../admin?"})
        text = _text(result)
        assert result.is_error and "letters, digits" in text and "upload_file" in text, text
        _no_python_words(text)
    assert emulator.requests == []
