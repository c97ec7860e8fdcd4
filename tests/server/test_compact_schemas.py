"""tools/list without pydantic's generated titles, and output schemas with merged type lists:
the same schemas in less of the host model's context."""

import json
from typing import Any

import jsonschema
import pytest
from mcp import Client

from kimi_mcp.server.compact_schemas import merged_types, without_titles

pytestmark = pytest.mark.anyio


def test_titles_go_but_a_property_named_title_stays() -> None:
    schema = {
        "title": "SourceResult",
        "properties": {"title": {"title": "Title", "type": "string"}},
        "$defs": {"X": {"title": "X", "items": {"title": "Item", "type": "integer"}}},
    }
    assert without_titles(schema) == {
        "properties": {"title": {"type": "string"}},
        "$defs": {"X": {"items": {"type": "integer"}}},
    }


def test_bare_type_alternatives_merge_and_richer_ones_stay() -> None:
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "d"}
    assert merged_types(nullable) == {"type": ["string", "null"], "description": "d"}
    ref = {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}]}
    enum = {"anyOf": [{"enum": ["a"], "type": "string"}, {"type": "null"}]}
    assert merged_types(ref) == ref and merged_types(enum) == enum


async def test_every_published_schema_is_valid_and_accepts_what_the_tools_return(
    mcp_client: Client,
) -> None:
    tools = (await mcp_client.list_tools()).tools
    schemas = json.dumps([[t.input_schema, t.output_schema] for t in tools])
    # Only a property named "title" (sources' titles) is left.
    assert schemas.count('"title":') == schemas.count('"title": {"type"')
    for tool in tools:
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        if tool.output_schema:
            jsonschema.Draft202012Validator.check_schema(tool.output_schema)
    schema: dict[str, Any] | None = next(t.output_schema for t in tools if t.name == "ask_kimi")
    assert schema is not None
    result = await mcp_client.call_tool("ask_kimi", {"prompt": "hello"})
    jsonschema.validate(result.structured_content, schema)
