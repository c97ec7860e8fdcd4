"""tools/list carries lean schemas (every host sends it to its model on every turn) that still
say what a model needs and still hold every result the tools return."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.types import Tool

from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.server.compact_schemas import compact_input, compact_output
from tests.tool_results import ok

pytestmark = pytest.mark.anyio


# The rules, one by one ---------------------------------------------------------------------------


def test_titles_go_but_a_property_named_title_stays() -> None:
    schema = {
        "type": "object",
        "title": "Args",
        "properties": {"title": {"title": "Title", "type": "string", "description": "d"}},
    }
    assert compact_input(schema) == {
        "type": "object",
        "properties": {"title": {"type": "string", "description": "d"}},
    }


def test_an_optional_argument_loses_its_null_and_empty_defaults_but_keeps_one_that_matters() -> (
    None
):
    schema = {
        "type": "object",
        "properties": {
            "model": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": None,
                "description": "m",
            },
            "files": {"type": "array", "items": {"type": "string"}, "default": []},
            "json_mode": {"type": "boolean", "default": False},
            "limit": {"type": "integer", "default": 20},
            "offset": {"type": "integer", "default": 0},
            "shape": {
                "anyOf": [{"type": "object", "additionalProperties": True}, {"type": "null"}],
                "default": None,
            },
        },
    }
    assert compact_input(schema)["properties"] == {
        "model": {"type": "string", "description": "m"},
        "files": {"type": "array", "items": {"type": "string"}},
        "json_mode": {"type": "boolean"},
        "limit": {"type": "integer", "default": 20},
        "offset": {"type": "integer", "default": 0},
        "shape": {"type": "object"},
    }


def test_a_null_a_required_argument_may_take_stays() -> None:
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    schema = {"type": "object", "properties": {"x": nullable}, "required": ["x"]}
    assert compact_input(schema)["properties"]["x"] == nullable


def test_input_definitions_are_inlined_unless_one_refers_to_another() -> None:
    message = {"type": "object", "properties": {"role": {"type": "string"}}}
    schema = {
        "type": "object",
        "properties": {"messages": {"type": "array", "items": {"$ref": "#/$defs/Message"}}},
        "$defs": {"Message": message},
    }
    assert compact_input(schema) == {
        "type": "object",
        "properties": {"messages": {"type": "array", "items": message}},
    }
    recursive = {"$defs": {"Node": {"properties": {"next": {"$ref": "#/$defs/Node"}}}}}
    assert compact_input(recursive) == recursive


def test_a_result_names_every_field_and_types_only_the_described_ones() -> None:
    schema = {
        "type": "object",
        "title": "Result",
        "properties": {
            "model": {"type": "string", "title": "Model"},
            "usage": {"anyOf": [{"$ref": "#/$defs/Usage"}, {"type": "null"}]},
            "reason": {
                "anyOf": [{"enum": ["length", "size"], "type": "string"}, {"type": "null"}],
                "description": "size: see the resource.",
            },
            "next": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "n"},
        },
        "required": ["model", "usage", "reason", "next"],
        "$defs": {"Usage": {"type": "object", "properties": {"total": {"type": "integer"}}}},
    }
    assert compact_output(schema) == {
        "type": "object",
        "required": ["model", "usage", "reason", "next"],
        "properties": {
            "reason": {"enum": ["length", "size", None], "description": "size: see the resource."},
            "next": {"type": ["integer", "null"], "description": "n"},
        },
    }


# The real tool list --------------------------------------------------------------------------


async def _tools(client: Client) -> dict[str, Tool]:
    return {tool.name: tool for tool in (await client.list_tools()).tools}


async def test_every_argument_of_every_tool_says_what_it_is(mcp_client: Client) -> None:
    for tool in (await _tools(mcp_client)).values():
        assert tool.description and "\n" not in tool.description, tool.name
        for name, schema in tool.input_schema.get("properties", {}).items():
            assert str(schema.get("description", "")).strip(), (tool.name, name)


async def test_input_schemas_hold_nothing_a_model_provider_may_refuse(mcp_client: Client) -> None:
    """No `anyOf`, type list, `$ref` or `title`: some providers refuse the first three in a
    function's parameters, and pydantic's titles only repeat the names."""
    for tool in (await _tools(mcp_client)).values():
        text = json.dumps(tool.input_schema)
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        for keyword in ('"anyOf"', '"$ref"', '"$defs"', '"title"', '"type": ['):
            assert keyword not in text, (tool.name, keyword)


async def test_an_explicit_null_is_still_accepted_where_the_schema_now_leaves_it_out(
    mcp_client: Client,
) -> None:
    schema = (await _tools(mcp_client))["ask_kimi"].input_schema
    assert schema["properties"]["model"]["type"] == "string"
    ok(await mcp_client.call_tool("ask_kimi", {"prompt": "hi", "model": None, "system": None}))


async def test_every_result_of_every_tool_conforms_to_its_published_output_schema(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    """One call of each tool, and ask_kimi's other shapes (tool calls, sources, JSON, a cut
    stream with nulls), checked against the compact schema exactly as tools/list sent it."""
    (workdir / "doc.txt").write_text("some text to read", encoding="utf-8")
    uploaded = ok(await mcp_client.call_tool("upload_file", {"path": "doc.txt"}))
    asked = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "hello"}))
    calls: list[tuple[str, dict[str, Any]]] = [
        ("ask_kimi", {"prompt": "search for kimi k2", "kimi_tools": ["web-search"]}),
        ("ask_kimi", {"prompt": "give json", "json_mode": True}),
        ("web_search", {"query": "kimi k3"}),
        ("list_models", {}),
        ("read_file", {"file_id": uploaded["id"], "limit": 4}),
        ("list_files", {}),
        ("estimate_tokens", {"text": "count me", "file_ids": [uploaded["id"]]}),
        ("check_balance", {}),
        ("list_conversations", {}),
        ("delete_conversation", {"conversation_id": asked["conversation_id"]}),
        ("delete_file", {"file_id": uploaded["id"]}),
    ]
    results = [("upload_file", uploaded), ("ask_kimi", asked)]
    results += [(name, ok(await mcp_client.call_tool(name, args))) for name, args in calls]
    emulator.inject(Fault("cut_stream", after_chunks=1))
    cut = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "echo a long answer " * 5}))
    assert cut["usage"] is None and cut["cost"] is None  # the null branches are checked too
    results.append(("ask_kimi", cut))

    tools = await _tools(mcp_client)
    assert {name for name, _ in results} == set(tools)
    for name, structured in results:
        schema = tools[name].output_schema
        assert schema is not None and schema["type"] == "object"
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(structured, schema)
        assert set(schema["required"]) == set(structured), name  # every field is named
