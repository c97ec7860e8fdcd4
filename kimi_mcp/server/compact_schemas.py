"""Tool schemas without pydantic's generated titles: every tools/list goes into the host model's
context, and a title such as "Prompt Tokens" beside the property `prompt_tokens` says nothing
the name does not. Descriptions, types and constraints stay."""

from typing import Any, TypeVar

from mcp.server import MCPServer
from mcp.types import Tool

LifespanT = TypeVar("LifespanT")
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")  # name -> schema
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMAS = ("items", "additionalProperties", "not")


def without_titles(schema: Any) -> Any:
    """`schema` with the `title` keyword removed at every level (a property named "title"
    stays: it is a name in `properties`, not the keyword)."""
    if not isinstance(schema, dict):
        return schema
    compact = {key: value for key, value in schema.items() if key != "title"}
    for key in _SCHEMA_MAPS:
        if isinstance(compact.get(key), dict):
            compact[key] = {name: without_titles(sub) for name, sub in compact[key].items()}
    for key in _SCHEMA_LISTS:
        if isinstance(compact.get(key), list):
            compact[key] = [without_titles(sub) for sub in compact[key]]
    for key in _SCHEMAS:
        if key in compact:
            compact[key] = without_titles(compact[key])
    return compact


def merged_types(schema: Any) -> Any:
    """`anyOf` of bare types (`[{"type": "string"}, {"type": "null"}]`) as one type list, the
    same schema in a third of the text; used on output schemas only, which only validators
    read (some model providers take no type lists in a tool's input schema)."""
    if isinstance(schema, list):
        return [merged_types(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    compact = {key: merged_types(value) for key, value in schema.items()}
    options = compact.get("anyOf")
    if isinstance(options, list) and all(
        isinstance(option, dict) and option.keys() == {"type"} and isinstance(option["type"], str)
        for option in options
    ):
        del compact["anyOf"]
        compact["type"] = [option["type"] for option in options]
    return compact


class CompactToolsServer(MCPServer[LifespanT]):
    """An MCPServer whose tools/list carries schemas without generated titles, and output
    schemas with merged type lists."""

    async def list_tools(self) -> list[Tool]:
        return [
            tool.model_copy(
                update={
                    "input_schema": without_titles(tool.input_schema),
                    "output_schema": merged_types(without_titles(tool.output_schema)),
                }
            )
            for tool in await super().list_tools()
        ]
