"""Argument validation errors a model can act on: one sentence per field, in JSON terms.

The SDK reports a wrong argument as pydantic prints it ("Input should be a valid tuple
[type=tuple_type, input_value='abc', input_type=str] For further information visit
https://errors.pydantic.dev/..."): Python type names and a link no model can follow. Here each
field with a problem gets one sentence: its name, what the tool's input schema expects ("an array
of strings", "an integer >= 1", "one of: a, b") and, briefly, what came.
"""

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kimi_mcp.server.results import wire_safe

Schema = dict[str, Any]
MAX_SENTENCES = 10  # a 20-item array of wrong items is one mistake, not twenty lines to read
_SHOWN_CHARS = 32  # a short value is worth echoing; a long one is described by its size
_PLURALS = {"string": "strings", "integer": "integers", "number": "numbers", "boolean": "booleans"}


def describe_invalid_arguments(tool: str, exc: ValidationError, schema: Schema) -> str:
    sentences: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field_schema, path = _walk(schema, error["loc"])
        sentences.setdefault(path, _sentence(path, error, field_schema, schema))
    shown = list(sentences.values())[:MAX_SENTENCES]
    if len(sentences) > len(shown):
        shown.append(f"And {len(sentences) - len(shown)} more fields like these.")
    return f"Invalid arguments for {tool}; nothing was done. " + " ".join(shown)


def _sentence(path: str, error: ErrorDetails, field_schema: Schema | None, root: Schema) -> str:
    name = path or "arguments"
    if field_schema is None:  # outside the schema (a model-level check): pydantic's own words
        return f"{name}: {error['msg'].rstrip('.')}."
    expected = expected_json(field_schema, root)
    if error["type"] == "missing":
        return f"{name}: required, expected {expected}."
    return f"{name}: expected {expected}; got {came(error['input'])}."


def _walk(root: Schema, loc: tuple[int | str, ...]) -> tuple[Schema | None, str]:
    """The schema at `loc` and its path as a model would write it (`messages[0].role`)."""
    current: Schema | None = root
    path = ""
    for part in loc:
        step = _step(current, part, root) if current is not None else None
        union = current is not None and len(_members(current, root)) > 1
        if step is None and union and isinstance(part, str):
            continue  # a union member's tag in the location ("str", "list[...]"), not a key
        current = step
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return current, path


def _step(schema: Schema, part: int | str, root: Schema) -> Schema | None:
    for member in _members(schema, root):
        if isinstance(part, int) and member.get("type") == "array":
            items = member.get("items")
            return items if isinstance(items, dict) else None
        properties = member.get("properties", {})
        if isinstance(part, str) and part in properties:
            return _resolve(properties[part], root)
    return None


def _resolve(schema: Schema, root: Schema) -> Schema:
    for _ in range(32):  # a $ref chain is short; a loop in one must not hang an error message
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            break
        schema = root.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {})
    return schema


def _members(schema: Schema, root: Schema) -> list[Schema]:
    """The non-null alternatives of a schema: an optional argument may always be left out."""
    schema = _resolve(schema, root)
    members = [_resolve(m, root) for m in schema.get("anyOf", [schema])]
    return [m for m in members if m.get("type") != "null"] or members


def expected_json(schema: Schema, root: Schema) -> str:
    """What `schema` accepts, in JSON words: "an array of strings (at most 20 items)"."""
    return " or ".join(dict.fromkeys(_one(m, root) for m in _members(schema, root)))


def _one(schema: Schema, root: Schema) -> str:
    if "enum" in schema:
        return "one of: " + ", ".join(_plain(value) for value in schema["enum"])
    if "const" in schema:
        return f"exactly {json.dumps(schema['const'])}"
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        bounds = _bounds(schema)
        return f"{noun} {' and '.join(bounds)}" if bounds else noun
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        return _array(schema, root)
    if kind == "object":
        keys = list(schema.get("properties", {}))
        return f"an object with keys {', '.join(keys)}" if keys else "an object"
    return "a valid value"


def _string(schema: Schema) -> str:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    notes = [f"at least {low} characters"] if low > 1 else []
    notes += [f"at most {high} characters"] if high is not None else []
    notes += [f"matching {schema['pattern']}"] if "pattern" in schema else []
    noun = "a non-empty string" if low == 1 else "a string"
    expected = f"{noun} ({', '.join(notes)})" if notes else noun
    if "pattern" in schema and schema.get("description"):
        # A regex alone is hard to act on: the field's own words say what such a value is.
        expected += f": {str(schema['description']).rstrip('.')}"
    return expected


def _bounds(schema: Schema) -> list[str]:
    signs = (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    )
    return [f"{sign} {schema[key]}" for key, sign in signs if key in schema]


def _array(schema: Schema, root: Schema) -> str:
    items = _members(schema.get("items", {}), root)
    if len(items) == 1 and items[0].get("type") in _PLURALS and len(items[0]) == 1:
        what = f"an array of {_PLURALS[items[0]['type']]}"
    elif len(items) == 1 and items[0].get("type") == "object":
        keys = ", ".join(items[0].get("properties", {}))
        what = f"an array of objects with keys {keys}" if keys else "an array of objects"
    else:
        what = f"an array whose items are each {expected_json(schema.get('items', {}), root)}"
    notes = [f"at least {schema['minItems']} items"] if schema.get("minItems", 0) > 1 else []
    notes += [f"at most {schema['maxItems']} items"] if "maxItems" in schema else []
    if schema.get("minItems") == 1:
        what = what.replace("an array", "a non-empty array", 1)
    return f"{what} ({', '.join(notes)})" if notes else what


def came(value: object) -> str:
    """What the caller sent, briefly and in JSON words."""
    if value is None or isinstance(value, bool | int | float):
        text = json.dumps(value)
        return text if len(text) <= _SHOWN_CHARS else f"a number of {len(text)} digits"
    if isinstance(value, str):
        if len(value) <= _SHOWN_CHARS:
            return f"the string {wire_safe(json.dumps(value, ensure_ascii=False))}"
        return f"a string of {len(value)} characters"
    if isinstance(value, list | tuple):
        if not value:
            return "an empty array"
        return f"an array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "an object"
    return "a value of another kind"


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)
