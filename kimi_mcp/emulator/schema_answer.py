"""The emulated model's Structured Output (kimi-api.md section 2.2, `response_format`
`json_schema`): a JSON document built from the schema alone, deterministically, that validates
against it; or, when the question says `break the schema`, one that does not, so that clients can
test their own validation.

Built: objects with every property, strings from the question text, integers and numbers 1 (or
the nearest bound), booleans true, the first `enum` value or the `const`, arrays of `minItems`
(at least one) items, the first branch of `anyOf` / `oneOf`, local `$ref`s. Broken: the first
required property of the top object dropped, else a value of the wrong type.
"""

import json
from typing import Any

from kimi_mcp.emulator.catalogue import Obj

BREAK_TRIGGER = "break the schema"
FORMATS = {
    "date": "2026-01-15",
    "date-time": "2026-01-15T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
}
MAX_DEPTH = 16  # a recursive $ref stops here


def schema_answer(schema: Obj, question: str) -> str:
    """The answer content: JSON that validates against `schema`, or that does not if asked."""
    value = _value(schema, schema, question.strip() or "answer", 0)
    if BREAK_TRIGGER in question.lower():
        value = _broken(schema, value)
    return json.dumps(value, ensure_ascii=False)


def _broken(schema: Obj, value: Any) -> Any:
    required = schema.get("required")
    if isinstance(value, dict) and isinstance(required, list) and required:
        return {k: v for k, v in value.items() if k != required[0]}
    return 0 if isinstance(value, str) else "not what the schema asks for"


def _value(schema: Any, root: Obj, text: str, depth: int) -> Any:
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    schema = _resolved(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for branches in ("anyOf", "oneOf"):
        if isinstance(schema.get(branches), list) and schema[branches]:
            return _value(schema[branches][0], root, text, depth + 1)
    kind = _type(schema)
    if kind == "object":
        properties = schema.get("properties")
        items = properties.items() if isinstance(properties, dict) else []
        return {name: _value(sub, root, text, depth + 1) for name, sub in items}
    if kind == "array":
        count = max(1, schema.get("minItems", 1)) if schema.get("maxItems") != 0 else 0
        return [_value(schema.get("items", {}), root, text, depth + 1)] * count
    if kind in ("integer", "number"):
        return _number(schema)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, text)


def _resolved(schema: Obj, root: Obj) -> Obj:
    """`schema` with a local `$ref` (`#/$defs/...`, `#/definitions/...`) followed, and the
    branches of an `allOf` merged into it."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = {k: v for k, v in schema.items() if k != "$ref"} | (
            target if isinstance(target, dict) else {}
        )
    for branch in schema.get("allOf", []) if isinstance(schema.get("allOf"), list) else []:
        if isinstance(branch, dict):
            schema = {k: v for k, v in schema.items() if k != "allOf"} | _resolved(branch, root)
    return schema


def _type(schema: Obj) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):  # e.g. ["string", "null"]: the first type that is not null
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "array" if "items" in schema else "string"


def _number(schema: Obj) -> int | float:
    value: int | float = 1
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        low = schema["exclusiveMinimum"] + (1 if schema.get("type") == "integer" else 0.5)
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        high = schema["exclusiveMaximum"] - (1 if schema.get("type") == "integer" else 0.5)
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(high, int | float) and value > high:
        value = high
    return value


def _string(schema: Obj, text: str) -> str:
    if schema.get("format") in FORMATS:
        return FORMATS[schema["format"]]
    low, high = schema.get("minLength"), schema.get("maxLength")
    value = text[:60]
    if isinstance(low, int) and len(value) < low:
        value += "x" * (low - len(value))
    return value[:high] if isinstance(high, int) else value
