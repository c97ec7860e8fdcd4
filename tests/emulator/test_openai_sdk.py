"""The official `openai` Python SDK against the emulator, as users' own tests would drive it:
chat plain and streamed, the model list, and files from upload to delete.

The root `emulator` fixture fails any test whose requests the emulator had to refuse with 400
or 422, so each case here also proves the SDK's requests are ones Kimi accepts.
"""

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from openai import AsyncOpenAI, NotFoundError

from kimi_mcp.emulator import Emulator
from tests.conftest import CANARY_KEY

pytestmark = pytest.mark.anyio
MODEL = "kimi-k2.6"
LISTING_BOUND = 100  # pages: auto-pagination that never ends is cut here and fails the test
SDK_TIMEOUT = 10  # seconds: only bounds a hang


@pytest.fixture
async def openai(emulator_url: str) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(api_key=CANARY_KEY, base_url=emulator_url, max_retries=0) as client:
        yield client


async def _upload(openai: AsyncOpenAI, name: str, text: str) -> str:
    # Kimi's purpose (kimi-api.md 2.5); the SDK's types list only OpenAI's, and send it as is.
    purpose: Any = "file-extract"
    uploaded = await openai.files.create(file=(name, io.BytesIO(text.encode())), purpose=purpose)
    assert (uploaded.filename, uploaded.purpose, uploaded.bytes) == (
        name,
        "file-extract",
        len(text),
    )
    return uploaded.id


async def test_openai_sdk_chat_answers_with_usage(openai: AsyncOpenAI) -> None:
    with anyio.fail_after(SDK_TIMEOUT):
        answer = await openai.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "say nonce-4242"}]
        )
    (choice,) = answer.choices
    assert "nonce-4242" in (choice.message.content or "")
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert answer.usage is not None and answer.usage.completion_tokens > 0


async def test_openai_sdk_streamed_chat_arrives_whole(openai: AsyncOpenAI) -> None:
    """Kimi puts the usage inside `choices[0]` of the last chunk; the SDK keeps it as extra."""
    parts, finish, usage = [], None, None
    with anyio.fail_after(SDK_TIMEOUT):
        stream = await openai.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "say nonce-777"}], stream=True
        )
        async for chunk in stream:
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
                usage = getattr(choice, "usage", None) or usage
    assert "nonce-777" in "".join(parts)
    assert finish == "stop"
    assert usage is not None and usage["completion_tokens"] > 0


async def test_openai_sdk_lists_the_models(openai: AsyncOpenAI, emulator: Emulator) -> None:
    with anyio.fail_after(SDK_TIMEOUT):
        models = [model.id async for model in openai.models.list()]
    assert MODEL in models
    assert models == [model["id"] for model in emulator.models]


async def test_openai_sdk_file_listing_auto_paginates_to_an_end(openai: AsyncOpenAI) -> None:
    """The SDK asks for `after=<last id>` until a page is empty (Kimi sends no `has_more`)."""
    uploaded = [await _upload(openai, f"note-{n}.txt", f"note {n}") for n in range(3)]
    listed: list[str] = []
    with anyio.fail_after(SDK_TIMEOUT):
        async for stored in openai.files.list():
            listed.append(stored.id)
            assert len(listed) <= LISTING_BOUND, "the listing never ends"
    assert listed == uploaded


async def test_openai_sdk_retrieves_reads_and_deletes_a_file(openai: AsyncOpenAI) -> None:
    with anyio.fail_after(SDK_TIMEOUT):
        file_id = await _upload(openai, "report.txt", "quarterly nonce-99")
        info = await openai.files.retrieve(file_id)
        content = await openai.files.content(file_id)
        deleted = await openai.files.delete(file_id)
        with pytest.raises(NotFoundError):
            await openai.files.retrieve(file_id)
    assert (info.id, info.filename, info.status) == (file_id, "report.txt", "ok")
    # Kimi serves the extracted text as a JSON document in a text body (kimi-api.md 2.5).
    assert json.loads(content.text)["content"] == "quarterly nonce-99"
    assert (deleted.id, deleted.deleted) == (file_id, True)
