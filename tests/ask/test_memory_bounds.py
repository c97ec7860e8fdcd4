"""Memory bounded by design: a call reads its inline images only once it holds a chat slot, and
the reasoning is capped like the answer (the whole of both is kept in the conversation store)."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.server import build_server
from tests.conftest import CANARY_KEY

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"
CAP = 1000  # the smallest answer_cap the settings allow


def _text(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


@pytest.fixture
def one_slot(emulator_url: str, workdir: Path) -> Settings:
    return load_settings(
        api_key=CANARY_KEY,
        base_url=emulator_url,
        allowed_dirs=[workdir],
        max_concurrent_chats=1,
        answer_cap=CAP,
    )


@pytest.fixture
async def client(one_slot: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(one_slot)) as client:
        yield client


async def test_images_are_read_only_after_a_chat_slot_is_held(
    client: Client, emulator: Emulator, workdir: Path
) -> None:
    """The second call names an image that does not exist: had it been read before waiting for
    the slot (8 calls x 3 x 20 MB held at once), the call would fail at once saying so. It can
    only fail for want of a slot, because the first call holds the only one all along."""
    streaming = anyio.Event()

    def long_answer(_: object) -> str:
        streaming.set()  # the first call's request reached Kimi: it holds the slot
        return "word " * 50_000  # streamed slowly, it outlasts the second call's deadline

    emulator.reply, emulator.stream_delay = long_answer, 0.05
    async with anyio.create_task_group() as group:
        group.start_soon(client.call_tool, "ask_kimi", {"prompt": "hold the slot"})
        with anyio.fail_after(10):
            await streaming.wait()
        waiting = await client.call_tool(
            "ask_kimi", {"prompt": "look", "images": ["missing.png"], "deadline": 0.5}
        )
        group.cancel_scope.cancel()
    assert waiting.is_error
    assert "Every chat slot (max_concurrent_chats) stayed busy" in _text(waiting), _text(waiting)
    assert "missing.png" not in _text(waiting)
    assert len([r for r in emulator.requests if r.path == CHAT]) == 1


def _sse(*deltas: dict[str, Any], usage: dict[str, int]) -> str:
    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "kimi-k2.6"}
        return "data: " + json.dumps(chunk | {"choices": [choice]} | extra) + "\n\n"

    body = "".join(event(delta) for delta in deltas)
    return body + event({}, "stop", usage=usage) + "data: [DONE]\n\n"


async def test_reasoning_is_capped_like_the_answer_and_kept_whole_in_the_store(
    client: Client, emulator: Emulator
) -> None:
    thinking = "t" * (5 * CAP)
    body = _sse(
        {"role": "assistant", "content": ""},
        {"reasoning_content": thinking},
        {"content": "the answer"},
        usage={"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
    )
    headers = {"content-type": "text/event-stream"}
    emulator.inject(Fault(kind="raw", status=200, body=body, headers=headers))
    result = await client.call_tool("ask_kimi", {"prompt": "think hard"})
    shown = result.structured_content
    assert shown is not None and not result.is_error, _text(result)
    assert shown["answer"] == "the answer" and shown["truncated"] is False
    assert shown["truncated_reason"] == "reasoning_size"
    assert shown["reasoning"] == thinking[:CAP]
    assert len(result.model_dump_json()) < 6 * CAP  # was: the whole reasoning, twice

    stored = await client.read_resource(f"kimi://conversations/{shown['conversation_id']}")
    turns = json.loads("".join(getattr(c, "text", "") for c in stored.contents))["turns"]
    assert turns[-1]["reasoning"] == thinking


async def test_a_capped_answer_says_size_even_when_its_reasoning_is_capped_too(
    client: Client, emulator: Emulator
) -> None:
    body = _sse(
        {"reasoning_content": "r" * (2 * CAP)},
        {"content": "a" * (2 * CAP)},
        usage={"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
    )
    headers = {"content-type": "text/event-stream"}
    emulator.inject(Fault(kind="raw", status=200, body=body, headers=headers))
    shown = (await client.call_tool("ask_kimi", {"prompt": "go on"})).structured_content
    assert shown is not None
    assert shown["truncated"] is True and shown["truncated_reason"] == "size"
    assert len(shown["answer"]) == CAP and len(shown["reasoning"]) == CAP
