"""How many times ask_kimi asks Kimi to count tokens (issue 13: no token-count storms).

Against the emulator on loopback, on moonshot-v1-8k (8,192 tokens, 2,048 kept for the answer):
the emulator's tokenizer counts 4 per message + 1 per 4 bytes, and its usage comes from the
same count, so every figure below is exact.
"""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kimi_mcp.config import Settings
from kimi_mcp.emulator import Emulator
from tests.conftest import served
from tests.tool_results import chats, ok

pytestmark = pytest.mark.anyio

ESTIMATE = "/v1/tokenizers/estimate-token-count"
MODEL = "moonshot-v1-8k"
BUDGET = 8192 - 2048


def estimates(emulator: Emulator) -> int:
    return sum(r.path == ESTIMATE for r in emulator.requests)


class Talk:
    """One conversation, asked turn by turn; records the count requests of each ask."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.conversation: str | None = None
        self.requests: list[int] = []

    async def ask(self, client: Client, prompt: str, **more: Any) -> dict[str, Any]:
        args: dict[str, Any] = {"prompt": prompt, "model": MODEL, **more}
        if self.conversation:
            args["conversation_id"] = self.conversation
        before = estimates(self.emulator)
        result = ok(await client.call_tool("ask_kimi", args))
        self.requests.append(estimates(self.emulator) - before)
        self.conversation = result["conversation_id"]
        sent = chats(self.emulator)[-1].json["messages"]
        assert self.emulator.count_tokens(sent) <= BUDGET  # never over the window
        assert not result["truncated"]
        return result


def server(settings: Settings, store_url: str | None) -> AbstractAsyncContextManager[Client]:
    """A fresh server (a restart when called again) on the same data dir or Redis."""
    return served(settings, store_url=store_url)


def replying(text: str) -> Callable[[list[dict[str, Any]]], str]:
    """Answers that differ turn by turn (an answer seen before would be counted already)."""
    return lambda messages: f"{messages[-1]['content'][:8]}: {text}"


def question(index: int, words: int) -> str:
    return f"part {index} " + "word " * words


async def test_a_conversation_inside_the_window_asks_for_no_count_after_its_first_turn(
    mcp_client: Client, emulator: Emulator
) -> None:
    # Each turn ~500 tokens but ~2,000 bytes: the local bound (a token per byte) stops proving
    # the fit by the third turn, while Kimi's usage of the turn before still proves it.
    emulator.reply = replying("answer " * 140)
    talk = Talk(emulator)
    for index in range(9):
        result = await talk.ask(mcp_client, question(index, 200), system="Be brief.")
    assert result["dropped_turns"] == 0
    assert emulator.count_tokens(chats(emulator)[-1].json["messages"]) > BUDGET // 2
    assert talk.requests[1:] == [0] * 8, talk.requests


async def long_talk(client: Client, talk: Talk, asks: int, start: int = 0) -> None:
    """Turns of ~310 tokens: about 19 fit, so turns are dropped on every call past the 20th."""
    talk.emulator.reply = replying("answer " * 115)
    for index in range(start, start + asks):
        await talk.ask(client, question(index, 80))


async def test_a_long_conversation_past_the_window_asks_for_at_most_one_count_per_call(
    mcp_client: Client, emulator: Emulator
) -> None:
    talk = Talk(emulator)
    await long_talk(mcp_client, talk, 45)
    sent = chats(emulator)[-1].json["messages"]
    assert sent[0]["content"].startswith("part ") and "part 0 " not in sent[0]["content"]
    assert len(sent) >= 2 * 15  # the window is used, not emptied by loose bounds
    steady = talk.requests[-15:]
    assert max(steady) <= 1, talk.requests
    assert max(talk.requests) <= 1 + 4, talk.requests  # crossing the window: no storm either


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_counts_and_proofs_survive_a_restart(
    settings: Settings, emulator: Emulator, request: pytest.FixtureRequest, backend: str
) -> None:
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    talk = Talk(emulator)
    async with server(settings, url) as client:
        await long_talk(client, talk, 35)
    async with server(settings, url) as client:  # a new process: nothing in memory
        await long_talk(client, talk, 4, start=35)
    assert max(talk.requests[-4:]) <= 1, talk.requests
    # Inside the window too: the proof of the turn before was kept, not only in memory.
    inside = Talk(emulator)
    async with server(settings, url) as client:
        emulator.reply = replying("answer " * 140)
        for index in range(4):
            await inside.ask(client, question(index, 200))
    async with server(settings, url) as client:
        await inside.ask(client, question(4, 200))
    assert inside.requests[1:] == [0, 0, 0, 0], inside.requests


async def test_a_changed_system_prompt_or_a_new_document_is_counted_and_still_fits(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    emulator.reply = replying("answer " * 140)
    talk = Talk(emulator)
    for index in range(6):
        await talk.ask(mcp_client, question(index, 200), system="Be brief.")
    longer = "Answer as a pirate would, and keep every answer short. " * 40
    await talk.ask(mcp_client, question(6, 200), system=longer)
    assert longer in counted(emulator)  # the old proof was not trusted for a new head
    (workdir / "notes.txt").write_text("A note worth reading. " * 250, encoding="utf-8")
    await talk.ask(mcp_client, question(7, 200), system=longer, files=["notes.txt"])
    sent = chats(emulator)[-1].json["messages"]
    assert sent[1]["role"] == "system" and "worth reading" in sent[1]["content"]
    assert sent[1]["content"] in counted(emulator)
    # The same head again (the document stays in the conversation): the usage of the call
    # before proves this fit, so nothing is counted.
    await talk.ask(mcp_client, question(8, 20), system=longer)
    assert talk.requests[-1] == 0, talk.requests


def counted(emulator: Emulator) -> list[str]:
    return [
        str(message["content"])
        for r in emulator.requests
        if r.path == ESTIMATE and r.json is not None
        for message in r.json["messages"]
    ]
