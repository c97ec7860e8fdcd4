"""Helpers shared by the tool tests: a result's text, structured content or error; chats sent."""

from typing import Any

from mcp.types import CallToolResult, TextContent

from kimi_mcp.emulator import Emulator
from tests.conftest import assert_no_canary


def text_of(result: CallToolResult) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, TextContent))


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert_no_canary(result.model_dump_json(), "a tool result")
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None
    return structured


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    assert_no_canary(result.model_dump_json(), "a tool error")
    return text_of(result)


def chats(emulator: Emulator) -> list[Any]:
    return [r for r in emulator.requests if r.path == "/v1/chat/completions"]
