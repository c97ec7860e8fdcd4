"""Tool schemas as lean as the host's model can use them: every host sends tools/list to its model
on every turn, so each character is paid for on every turn by every user.

Each rule below keeps a schema valid JSON Schema and true to the tool: an input schema admits only
calls the tool takes (it may admit fewer: never more), an output schema admits every result the
tool returns (the SDK's client validates each one against it). What goes says nothing to a model
that the names, types, constraints and remaining words do not.
"""

import json
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server import MCPServer
from mcp.types import Tool

LifespanT = TypeVar("LifespanT")
Schema = dict[str, Any]
Rule = Callable[[Schema], Schema]

_SCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")  # name -> schema
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMAS = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
_NULL = {"type": "null"}
_LOCAL_REF = "#/$defs/"


def rewritten(schema: Any, rule: Rule) -> Any:
    """`schema` with `rule` applied to every schema inside it, deepest first, then to itself.

    Only keyword positions that hold schemas are walked: a property named "title" or "default"
    is a name in `properties`, never taken for the keyword."""
    if not isinstance(schema, dict):
        return schema
    node = dict(schema)
    for key in _SCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            node[key] = {name: rewritten(sub, rule) for name, sub in node[key].items()}
    for key in _SCHEMA_LISTS:
        if isinstance(node.get(key), list):
            node[key] = [rewritten(sub, rule) for sub in node[key]]
    for key in _SCHEMAS:
        if key in node:
            node[key] = rewritten(node[key], rule)
    return rule(node)


# Rules for both schemas -------------------------------------------------------------------------


def no_noise(node: Schema) -> Schema:
    """Without `title` (pydantic's "Prompt Tokens" beside `prompt_tokens` says nothing the name
    does not), `additionalProperties: true` (what its absence means) and a `default` of null,
    [] or false (annotations no validator reads; what an omitted value means to any reader)."""
    node.pop("title", None)
    if node.get("additionalProperties") is True:
        del node["additionalProperties"]
    default = node.get("default", ...)
    if default is None or default is False or default == []:
        del node["default"]
    return node


# Input schemas ----------------------------------------------------------------------------------


def omittable(arguments: Schema) -> Schema:
    """Optional arguments whose default is null without the null alternative: the tool reads an
    omitted argument as null, so a model loses nothing, the schema needs no `anyOf` or type list
    (which some model providers refuse in an input schema), and an explicit null a client still
    sends is accepted as before (the server validates with its own, wider model)."""
    if not isinstance(arguments.get("properties"), dict):
        return arguments
    required = set(arguments.get("required", ()))
    properties = dict(arguments["properties"])
    for name, prop in properties.items():
        options = prop.get("anyOf")
        if name in required or prop.get("default", 0) is not None or not isinstance(options, list):
            continue
        rest = [option for option in options if option != _NULL]
        if len(rest) == 1 and len(options) == 2:
            merged = {key: value for key, value in prop.items() if key not in ("anyOf", "default")}
            properties[name] = rest[0] | merged
    return arguments | {"properties": properties}


def inlined(schema: Schema) -> Schema:
    """`$ref`s to `$defs` replaced by the definitions, when no definition refers to another (so
    none can recurse): the same schema, without references some providers do not resolve."""
    definitions = schema.get("$defs")
    if not isinstance(definitions, dict) or _LOCAL_REF in json.dumps(definitions):
        return schema

    def inline(node: Schema) -> Schema:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_LOCAL_REF):
            definition: Schema = definitions[ref.removeprefix(_LOCAL_REF)]
            return definition | {key: value for key, value in node.items() if key != "$ref"}
        return node

    root: Schema = rewritten({k: v for k, v in schema.items() if k != "$defs"}, inline)
    return root


def compact_input(schema: Schema) -> Schema:
    compact: Schema = rewritten(inlined(omittable(schema)), no_noise)
    return compact


# Output schemas ---------------------------------------------------------------------------------


def named_fields(root: Schema) -> Schema:
    """Every field of a result by name in `required`, and in `properties` only the fields that
    carry words (a description) beside their name, with their type.

    A result always holds every field (null when it has nothing), so `required` names them all
    and a validator still refuses a result that lacks one; the model reads each field's value
    beside its name in the JSON text of the result. `"model": {"type": "string"}` says nothing
    the name does not, and `properties` with every field cost about twice the names alone."""
    fields = root.get("properties")
    if not isinstance(fields, dict):
        return root
    described = {name: schema for name, schema in fields.items() if "description" in schema}
    compact = {key: value for key, value in root.items() if key != "properties"}
    compact["required"] = list(fields)
    return compact | {"properties": described} if described else compact


def plain_objects(node: Schema) -> Schema:
    """A nested result model as `{"type": "object"}`: the result still conforms, and the model
    reads its fields by name in the JSON text beside it; the root's `$defs` then go."""
    node.pop("$defs", None)
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith(_LOCAL_REF):
        del node["$ref"]
        node["type"] = "object"
    return node


def merged_types(node: Schema) -> Schema:
    """`anyOf` of bare types (`[{"type": "string"}, {"type": "null"}]`) as one type list, and of
    an enum and null as one enum with null in it: the same values in a third of the text."""
    options = node.get("anyOf")
    if not isinstance(options, list):
        return node
    if all(
        isinstance(o, dict) and o.keys() == {"type"} and isinstance(o["type"], str) for o in options
    ):
        del node["anyOf"]
        node["type"] = [option["type"] for option in options]
    elif len(options) == 2 and _NULL in options:
        enum = next(option for option in options if option != _NULL)
        if enum.keys() == {"enum", "type"} and enum["type"] == "string":
            del node["anyOf"]
            node["enum"] = [*enum["enum"], None]
    return node


def _output_rules(node: Schema) -> Schema:
    return merged_types(plain_objects(no_noise(node)))


def compact_output(schema: Schema | None) -> Schema | None:
    if schema is None:
        return None
    compact: Schema = named_fields(rewritten(schema, _output_rules))
    return compact


def one_line(description: str | None) -> str | None:
    """A docstring's line breaks and indentation as single spaces: the same sentence, without
    the source's layout (Python 3.11 keeps a docstring's indentation)."""
    return " ".join(description.split()) if description else description


class CompactToolsServer(MCPServer[LifespanT]):
    """An MCPServer whose tools/list carries compact schemas and one-line descriptions, each
    tool's computed once (0.7 ms for all eleven, on every session's tools/list otherwise)."""

    _compacted: dict[str, tuple[Tool, Tool]]  # name -> (as the SDK lists it, compact)

    async def list_tools(self) -> list[Tool]:
        cache = self.__dict__.setdefault("_compacted", {})
        listed = []
        for tool in await super().list_tools():
            known = cache.get(tool.name)
            if known is None or known[0] != tool:  # a tool added or replaced since
                known = cache[tool.name] = (tool, compact_tool(tool))
            listed.append(known[1])
        return listed


def compact_tool(tool: Tool) -> Tool:
    return tool.model_copy(
        update={
            "description": one_line(tool.description),
            "input_schema": compact_input(tool.input_schema),
            "output_schema": compact_output(tool.output_schema),
        }
    )
