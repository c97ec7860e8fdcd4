"""Prompts (slash commands in hosts): listed with described arguments, each rendering a request
that has the host model call ask_kimi; bad prompt requests are -32602 saying what to send."""

import json
from typing import Literal

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, TextContent

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.server import build_server

pytestmark = pytest.mark.anyio

PROMPTS = {
    "second_opinion": {"question": True, "context": False},
    "review": {"diff_or_file": True, "focus": False},
    "summarize_document": {"path": True, "focus": False},
}


async def _rendered(client: Client, name: str, arguments: dict[str, str]) -> str:
    result = await client.get_prompt(name, arguments)
    [message] = result.messages
    assert message.role == "user" and isinstance(message.content, TextContent)
    return message.content.text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_prompts_are_listed_with_described_arguments(
    settings: Settings, mode: Literal["legacy", "auto"]
) -> None:
    async with Client(build_server(settings), mode=mode) as client:
        prompts = (await client.list_prompts()).prompts
    assert [prompt.name for prompt in prompts] == list(PROMPTS)
    for prompt in prompts:
        assert prompt.title and prompt.description and len(prompt.description) < 120
        arguments = {argument.name: argument for argument in prompt.arguments or ()}
        assert {name: a.required for name, a in arguments.items()} == PROMPTS[prompt.name]
        assert all(a.description and len(a.description) < 80 for a in arguments.values())


async def test_second_opinion_asks_the_host_to_have_kimi_challenge_the_plan(
    mcp_client: Client,
) -> None:
    text = await _rendered(mcp_client, "second_opinion", {"question": "Shard the DB by user?"})
    assert "ask_kimi" in text and "challenge" in text and "Shard the DB by user?" in text


async def test_review_sends_a_file_path_as_files_and_a_diff_in_the_prompt(
    mcp_client: Client,
) -> None:
    text = await _rendered(mcp_client, "review", {"diff_or_file": "src/app.py", "focus": "races"})
    assert "ask_kimi" in text and "files=[" in text and "src/app.py" in text and "races" in text


async def test_summarize_document_puts_the_path_in_ask_kimi_files(mcp_client: Client) -> None:
    path = 'reports/Q3 "final".pdf'
    text = await _rendered(mcp_client, "summarize_document", {"path": path})
    assert f"ask_kimi tool with files=[{json.dumps(path)}]" in text


async def test_a_prompt_without_its_required_argument_is_invalid_params(
    mcp_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(MCPError) as raised:
        await mcp_client.get_prompt("summarize_document", {"focus": "costs"})
    assert raised.value.code == INVALID_PARAMS
    assert raised.value.message == "Prompt summarize_document needs the argument(s): path."
    assert "Traceback" not in caplog.text


async def test_a_prompt_argument_it_does_not_take_is_invalid_params(mcp_client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await mcp_client.get_prompt("review", {"diff_or_file": "a.py", "language": "py"})
    assert raised.value.code == INVALID_PARAMS
    assert raised.value.message == "Prompt review takes diff_or_file, focus; not: language."


async def test_initialize_advertises_prompts_and_logging_and_no_completions(
    mcp_client: Client,
) -> None:
    capabilities = mcp_client.server_capabilities
    assert capabilities is not None
    assert capabilities.prompts is not None and capabilities.logging is not None
    assert capabilities.completions is None


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_without_ask_kimi_no_prompts_and_no_empty_prompts_capability(
    settings: Settings, mode: Literal["legacy", "auto"]
) -> None:
    """Every prompt asks for ask_kimi: with the tool not offered, neither are they."""
    lean = load_settings(
        **settings.model_dump(include={"api_key", "base_url"}), tools=["list_models"]
    )
    async with Client(build_server(lean), mode=mode) as client:
        assert client.server_capabilities is not None
        assert client.server_capabilities.prompts is None
