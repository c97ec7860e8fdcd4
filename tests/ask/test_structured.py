"""Answers a program can parse: the caller's schema checked before sending, Kimi's answer parsed
and validated locally, every failure one sentence with where it failed."""

from typing import Any

import pytest

from kimi_mcp.ask.structured import check_json_options, parse_answer
from kimi_mcp.errors import InputError

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def test_a_valid_answer_gives_its_value_and_no_error() -> None:
    parsed = parse_answer('{"name": "Ada", "tags": ["math"]}', PERSON, cut=None)
    assert parsed.value == {"name": "Ada", "tags": ["math"]} and parsed.error is None


@pytest.mark.parametrize(
    ("answer", "path", "says"),
    [
        ('{"name": "Ada", "tags": ["math", 7]}', "$.tags[1]", "is not of type 'string'"),
        ('{"tags": []}', "$", "'name' is a required property"),
        ('{"name": "Ada", "age": 36}', "$", "Additional properties"),
        ("[1, 2]", "$", "is not of type 'object'"),
    ],
)
def test_an_answer_that_does_not_match_names_the_json_path_and_gives_no_value(
    answer: str, path: str, says: str
) -> None:
    parsed = parse_answer(answer, PERSON, cut=None)
    assert parsed.value is None
    assert parsed.error is not None
    assert f"at {path}:" in parsed.error and says in parsed.error


def test_an_answer_that_is_not_json_says_where_parsing_failed() -> None:
    parsed = parse_answer('{"name": "Ada",}', PERSON, cut=None)
    assert parsed.value is None and parsed.error is not None
    assert "not valid JSON" in parsed.error and "column 16" in parsed.error


def test_a_cut_answer_is_never_parsed_even_when_its_prefix_parses() -> None:
    parsed = parse_answer("12", {"type": "integer"}, cut="length")
    assert parsed.value is None and parsed.error is not None
    assert "cut" in parsed.error and "length" in parsed.error and "max_tokens" in parsed.error


def test_json_mode_without_a_schema_parses_any_json() -> None:
    assert parse_answer('{"x": [1, null]}', None, cut=None).value == {"x": [1, None]}
    assert parse_answer("not json", None, cut=None).error is not None


def test_a_long_offending_value_is_not_copied_whole_into_the_error() -> None:
    parsed = parse_answer('"' + "x" * 10_000 + '"', {"type": "integer"}, cut=None)
    assert parsed.error is not None and len(parsed.error) < 400


def test_an_unresolvable_ref_is_a_json_error_not_a_crash() -> None:
    schema = {"$ref": "https://example.invalid/schema.json"}
    check_json_options(json_mode=False, json_schema=schema, prefix=None)  # a valid schema...
    parsed = parse_answer("{}", schema, cut=None)  # ...whose ref goes nowhere, never fetched
    assert parsed.value is None and parsed.error is not None and "$ref" in parsed.error


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "text"}, "$.type"),
        ({"properties": {"a": {"minLength": -1}}}, "$.properties.a.minLength"),
        ({"required": "name"}, "$.required"),
    ],
)
def test_an_invalid_schema_is_an_input_error_naming_where(
    schema: dict[str, Any], path: str
) -> None:
    with pytest.raises(InputError, match="not a valid JSON Schema") as caught:
        check_json_options(json_mode=False, json_schema=schema, prefix=None)
    assert path in str(caught.value) and "nothing was sent" in str(caught.value)


@pytest.mark.parametrize(
    ("json_mode", "prefix", "named"),
    [(True, None, "json_mode"), (False, "{", "prefix"), (True, "{", "json_mode")],
)
def test_json_schema_with_json_mode_or_prefix_is_an_input_error(
    json_mode: bool, prefix: str | None, named: str
) -> None:
    with pytest.raises(InputError, match=f"json_schema and {named} cannot be combined"):
        check_json_options(json_mode=json_mode, json_schema=PERSON, prefix=prefix)


def test_json_mode_with_prefix_stays_refused() -> None:
    with pytest.raises(InputError, match="json_mode and prefix"):
        check_json_options(json_mode=True, json_schema=None, prefix="{")


def test_refs_inside_the_schema_are_followed() -> None:
    schema = {
        "$defs": {"name": {"type": "string", "minLength": 1}},
        "type": "object",
        "properties": {"name": {"$ref": "#/$defs/name"}},
    }
    assert parse_answer('{"name": "Ada"}', schema, cut=None).error is None
    assert "at $.name:" in str(parse_answer('{"name": ""}', schema, cut=None).error)
