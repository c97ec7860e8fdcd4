"""Answers a program can parse: check a caller's JSON Schema before anything is sent, then parse
and validate Kimi's answer locally (Kimi's structured output is a request, not a guarantee).

The verdict is data, never an exception: the answer was billed, so it is returned whatever it is,
with `json` (the parsed value) or `json_error` (one sentence a model can act on).
"""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kimi_mcp.errors import InputError

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

MAX_DETAIL = 200  # characters of jsonschema's message: it quotes the offending value


@dataclass(frozen=True)
class ParsedAnswer:
    value: Any = None  # the parsed, valid JSON; None whenever error is set
    error: str | None = None


def check_json_options(
    *, json_mode: bool, json_schema: dict[str, Any] | None, prefix: str | None
) -> None:
    """Refuse combinations Kimi rejects and schemas that are not JSON Schema, before sending."""
    if json_schema is not None and (json_mode or prefix):
        other = "json_mode" if json_mode else "prefix"
        raise InputError(
            f"json_schema and {other} cannot be combined (json_schema already asks for JSON, "
            "and Kimi rejects partial mode with it); drop one of them. Nothing was sent."
        )
    if json_mode and prefix:
        raise InputError(
            "json_mode and prefix cannot be combined (Kimi rejects partial mode with JSON "
            "mode); drop one of them."
        )
    if json_schema is not None:
        _validator(json_schema)


def _validator(schema: dict[str, Any]) -> "Validator":
    # Imported here: jsonschema (with attrs and referencing) is ~30 ms of every start-up, and
    # only a call with json_schema needs it.
    from jsonschema import Draft202012Validator, SchemaError
    from jsonschema.validators import validator_for

    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise InputError(
            f"json_schema is not a valid JSON Schema at {exc.json_path}: "
            f"{_short(exc.message)}. Fix the schema and ask again; nothing was sent."
        ) from None
    return cls(schema)


def parse_answer(
    answer: str, json_schema: dict[str, Any] | None, *, cut: str | None
) -> ParsedAnswer:
    """The answer as JSON, validated against `json_schema` when one was given.

    `cut` is the answer's truncated_reason: a cut answer is never parsed, since a prefix of JSON
    that happens to parse (a number, a cut string) would look whole and be wrong.
    """
    if cut is not None:
        return ParsedAnswer(
            error=f"The answer was cut (truncated_reason {cut}), so its JSON is incomplete; "
            "ask again with a larger max_tokens or deadline."
        )
    try:
        value = json.loads(answer)
    except json.JSONDecodeError as exc:
        return ParsedAnswer(error=f"The answer is not valid JSON: {exc}.")
    mismatch = _mismatch(value, json_schema) if json_schema is not None else None
    # Invalid data is no value: a program that trusts `json` when it is set is never misled.
    return ParsedAnswer(error=mismatch) if mismatch else ParsedAnswer(value)


def _mismatch(value: Any, json_schema: dict[str, Any]) -> str | None:
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    try:
        failure = best_match(_validator(json_schema).iter_errors(value))
    except Unresolvable as exc:  # the schema was checked before sending; only its $refs remain
        return f"json_schema has a $ref that cannot be resolved ({exc}); only refs inside it work."
    if failure is None:
        return None
    return (
        f"The answer does not match json_schema at {failure.json_path}: {_short(failure.message)}."
    )


def _short(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "..."
