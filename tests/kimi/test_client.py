"""KimiClient against the emulator on loopback: endpoints, error kinds, retries, streams."""

import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    NotConfiguredError,
    NotFoundError,
    QuotaExceededError,
    RateLimitError,
    RedirectError,
    ResponseValidationError,
    ServerError,
)
from kimi_mcp.kimi.client import KimiClient
from tests.conftest import CANARY_KEY, USER_AGENT

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "Say something about nonce-4242"}]


def soon(seconds: float = 10.0) -> float:
    return anyio.current_time() + seconds


@pytest.fixture
async def client(emulator_url: str) -> AsyncIterator[KimiClient]:
    kimi = KimiClient(
        user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=emulator_url, backoff=0.0
    )
    yield kimi
    await kimi.aclose()


def chat_requests(emulator: Emulator) -> list[Any]:
    return [r for r in emulator.requests if r.path == CHAT]


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "kimi-k2.6", "messages": USER, **extra}


# Endpoints --------------------------------------------------------------------------------------


async def test_models_are_listed_with_capabilities(client: KimiClient) -> None:
    models = {m.id: m for m in await client.list_models(deadline=soon())}
    assert models["kimi-k2.6"].context_length == 262144
    assert models["kimi-k2.6"].supports_reasoning
    assert not models["moonshot-v1-8k"].supports_image_in


async def test_requests_carry_the_bearer_key_and_the_given_user_agent(
    client: KimiClient, emulator: Emulator
) -> None:
    await client.balance(deadline=soon())
    headers = emulator.requests[-1].headers
    assert headers["authorization"] == f"Bearer {CANARY_KEY}"
    assert headers["user-agent"] == USER_AGENT


async def test_balance_is_read(client: KimiClient, emulator: Emulator) -> None:
    emulator.balance_set(cash=-1.5, voucher=5.0)
    balance = await client.balance(deadline=soon())
    assert (balance.available_balance, balance.voucher_balance, balance.cash_balance) == (
        5.0,
        5.0,
        -1.5,
    )


async def test_token_count_is_kimis_own(client: KimiClient, emulator: Emulator) -> None:
    total = await client.estimate_tokens("kimi-k2.6", USER, deadline=soon())
    assert total == emulator.count_tokens(USER)


async def test_file_round_trip(client: KimiClient, emulator: Emulator) -> None:
    uploaded = await client.upload_file("notes.txt", b"hello file", "file-extract", deadline=soon())
    assert uploaded.bytes == 10 and uploaded.filename == "notes.txt" and uploaded.status == "ok"
    form = emulator.requests[-1].form
    assert form is not None and form["purpose"] == "file-extract"
    assert [f.id for f in await client.list_files(deadline=soon())] == [uploaded.id]
    assert (await client.file_info(uploaded.id, deadline=soon())).filename == "notes.txt"
    assert '"hello file"' in await client.file_content(uploaded.id, deadline=soon())
    deleted = await client.delete_file(uploaded.id, deadline=soon())
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(NotFoundError):
        await client.file_info(uploaded.id, deadline=soon())


async def test_streamed_chat_collects_answer_reasoning_and_usage(client: KimiClient) -> None:
    outcome = await client.stream_chat(body(), deadline=soon())
    assert "nonce-4242" in outcome.content
    assert outcome.reasoning  # kimi-k2.6 thinks by default
    assert outcome.finish_reason == "stop" and outcome.truncated_reason is None
    assert outcome.usage is not None and outcome.usage.total_tokens > 0


async def test_chat_is_always_streamed(client: KimiClient, emulator: Emulator) -> None:
    await client.stream_chat(body(stream=False), deadline=soon())
    assert chat_requests(emulator)[-1].json["stream"] is True


async def test_progress_hook_sees_the_phases(client: KimiClient) -> None:
    phases: list[str] = []

    async def hook(state: Any) -> None:
        phases.append(state.phase)

    await client.stream_chat(body(), deadline=soon(), on_progress=hook)
    assert "thinking" in phases and "answering" in phases
    assert phases.index("thinking") < phases.index("answering")


async def test_length_finish_is_reported_as_truncated(client: KimiClient) -> None:
    outcome = await client.stream_chat(
        body(max_completion_tokens=3, thinking={"type": "disabled"}), deadline=soon()
    )
    assert outcome.finish_reason == "length" and outcome.truncated_reason == "length"


# Errors -----------------------------------------------------------------------------------------


async def test_no_key_fails_before_any_request(emulator_url: str, emulator: Emulator) -> None:
    kimi = KimiClient(user_agent=USER_AGENT, api_key=None, base_url=emulator_url)
    with pytest.raises(NotConfiguredError, match="MOONSHOT_API_KEY"):
        await kimi.balance(deadline=soon())
    assert emulator.requests == []


async def test_wrong_key_is_an_authentication_error_not_retried(
    emulator_url: str, emulator: Emulator
) -> None:
    kimi = KimiClient(
        user_agent=USER_AGENT, api_key=SecretStr("sk-wrong"), base_url=emulator_url, backoff=0.0
    )
    with pytest.raises(AuthenticationError) as caught:
        await kimi.list_models(deadline=soon())
    await kimi.aclose()
    assert len(emulator.requests) == 1
    assert "sk-wrong" not in str(caught.value)


async def test_unknown_model_is_not_found_with_advice(
    client: KimiClient, emulator: Emulator
) -> None:
    with pytest.raises(NotFoundError, match="list_models"):
        await client.stream_chat(body(model="kimi-k9"), deadline=soon())
    assert len(chat_requests(emulator)) == 1


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.quota(), QuotaExceededError),
        (Fault.content_filter(), ContentFilterError),
        (Fault.rate_limit("tpd"), RateLimitError),
        (
            Fault(kind="error", status=400, error_type="invalid_request_error", message="bad"),
            BadRequestError,
        ),
        (
            Fault(kind="error", status=403, error_type="permission_denied_error", message="no"),
            Exception,
        ),
    ],
)
async def test_errors_that_are_never_retried(
    client: KimiClient, emulator: Emulator, fault: Fault, expected: type[Exception]
) -> None:
    emulator.inject(fault)
    with pytest.raises(expected):
        await client.stream_chat(body(), deadline=soon())
    assert len(chat_requests(emulator)) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.engine_overloaded(retry_after=0),
        Fault.rate_limit("rpm", retry_after=0),
        Fault.rate_limit("concurrency", retry_after=0),
        Fault.server_error(500),
        Fault.server_error(502),
        Fault.server_error(503),
        Fault.server_error(504),
    ],
)
async def test_retryable_errors_are_retried_then_succeed(
    client: KimiClient, emulator: Emulator, fault: Fault
) -> None:
    emulator.inject(fault)
    outcome = await client.stream_chat(body(), deadline=soon())
    assert "nonce-4242" in outcome.content
    assert len(chat_requests(emulator)) == 2


async def test_retries_stop_at_max_retries_and_say_how_many(
    client: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(Fault.server_error(503, path="/v1/models", times=5))
    with pytest.raises(ServerError, match="after 3 attempts"):
        await client.list_models(deadline=soon())
    assert len(emulator.requests) == 3


async def test_retry_after_ms_is_honoured(client: KimiClient, emulator: Emulator) -> None:
    emulator.inject(
        Fault(
            kind="error",
            status=429,
            error_type="engine_overloaded_error",
            message="busy",
            headers={"retry-after-ms": "300"},
            path="/v1/models",
        )
    )
    started = anyio.current_time()
    await client.list_models(deadline=soon())
    assert anyio.current_time() - started >= 0.3
    assert len(emulator.requests) == 2


async def test_a_wait_longer_than_the_cap_fails_at_once_naming_the_seconds(
    client: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(Fault.engine_overloaded(retry_after=60))
    with pytest.raises(RateLimitError, match="wait 60 seconds"):
        await client.stream_chat(body(), deadline=soon())
    assert len(chat_requests(emulator)) == 1


async def test_no_retry_would_pass_the_deadline(client: KimiClient, emulator: Emulator) -> None:
    emulator.inject(Fault.engine_overloaded(retry_after=5))
    with pytest.raises(RateLimitError):
        await client.stream_chat(body(), deadline=soon(2.0))
    assert len(chat_requests(emulator)) == 1


async def test_redirects_are_not_followed(client: KimiClient, emulator: Emulator) -> None:
    emulator.inject(
        Fault(kind="redirect", path="/v1/models", location="http://127.0.0.1:9/v1/models")
    )
    with pytest.raises(RedirectError, match=r"127\.0\.0\.1:9"):
        await client.list_models(deadline=soon())
    assert len(emulator.requests) == 1


async def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    kimi = KimiClient(
        user_agent=USER_AGENT,
        api_key=SecretStr(CANARY_KEY),
        base_url=f"http://127.0.0.1:{port}/v1",
        backoff=0.0,
    )
    with pytest.raises(APIConnectionError, match="connection to Kimi failed"):
        await kimi.list_models(deadline=soon())
    await kimi.aclose()


# Streams that end badly -------------------------------------------------------------------------


async def test_a_cut_stream_returns_the_partial_answer_marked(
    client: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(Fault(kind="cut_stream", after_chunks=2))
    outcome = await client.stream_chat(body(thinking={"type": "disabled"}), deadline=soon())
    assert outcome.truncated_reason == "stream_cut"
    assert outcome.content and outcome.usage is None
    assert len(chat_requests(emulator)) == 1  # text was produced: never retried


async def test_a_reset_after_text_returns_the_partial_answer(
    client: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(Fault(kind="reset", after_chunks=2))
    outcome = await client.stream_chat(body(thinking={"type": "disabled"}), deadline=soon())
    assert outcome.truncated_reason == "stream_cut" and outcome.content
    assert len(chat_requests(emulator)) == 1


async def test_a_reset_before_any_text_is_an_error_not_retried(
    client: KimiClient, emulator: Emulator
) -> None:
    emulator.inject(Fault(kind="reset", after_chunks=0))
    with pytest.raises(APIConnectionError):
        await client.stream_chat(body(thinking={"type": "disabled"}), deadline=soon())
    assert len(chat_requests(emulator)) == 1  # the request was sent: a retry could bill twice


async def test_a_malformed_stream_is_reported(client: KimiClient, emulator: Emulator) -> None:
    emulator.inject(Fault(kind="malformed_stream"))
    with pytest.raises(ResponseValidationError):
        await client.stream_chat(body(), deadline=soon())


async def test_a_deadline_returns_the_partial_answer_and_closes_the_stream(
    client: KimiClient, emulator: Emulator
) -> None:
    emulator.stream_delay = 0.2
    with anyio.fail_after(10):
        outcome = await client.stream_chat(body(thinking={"type": "disabled"}), deadline=soon(1.0))
    assert outcome.truncated_reason == "deadline"
    assert outcome.content  # some text arrived before the deadline
    with anyio.fail_after(5):
        await emulator.wait_disconnects(1)


async def test_concurrent_chats_are_bounded(emulator_url: str, emulator: Emulator) -> None:
    kimi = KimiClient(
        user_agent=USER_AGENT,
        api_key=SecretStr(CANARY_KEY),
        base_url=emulator_url,
        max_concurrent_chats=2,
    )
    emulator.stream_delay = 0.02

    async def one() -> None:
        await kimi.stream_chat(body(thinking={"type": "disabled"}), deadline=soon())

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(one)
    await kimi.aclose()
    assert len(chat_requests(emulator)) == 6
    assert emulator.peak_streams == 2


async def test_a_held_chat_slot_streams_without_taking_a_second_one(
    emulator_url: str, emulator: Emulator
) -> None:
    kimi = KimiClient(
        user_agent=USER_AGENT,
        api_key=SecretStr(CANARY_KEY),
        base_url=emulator_url,
        max_concurrent_chats=1,
    )
    try:
        async with kimi.chat_slot(soon()) as slot:
            # The only slot is held: a second one is not to be had before its deadline...
            with pytest.raises(APITimeoutError, match="chat slot"):
                async with kimi.chat_slot(soon(0.2)):
                    pass
            with pytest.raises(APITimeoutError, match="chat slot"):
                await kimi.stream_chat(body(), deadline=soon(0.2))
            # ...while the holder streams in the slot it holds.
            outcome = await slot.stream(body(thinking={"type": "disabled"}))
        assert outcome.content and outcome.truncated_reason is None
        with pytest.raises(RuntimeError, match="released"):
            await slot.stream(body())
        outcome = await kimi.stream_chat(body(thinking={"type": "disabled"}), deadline=soon())
        assert outcome.truncated_reason is None  # the slot came back
    finally:
        await kimi.aclose()
    assert len(chat_requests(emulator)) == 2


async def test_cancelling_a_call_closes_the_upstream_stream_at_once(
    client: KimiClient, emulator: Emulator
) -> None:
    emulator.stream_delay = 0.5
    streaming = anyio.Event()

    async def first_chunk(state: Any) -> None:
        streaming.set()

    async with anyio.create_task_group() as group:

        async def ask() -> None:
            await client.stream_chat(body(), deadline=soon(30), on_progress=first_chunk)

        group.start_soon(ask)
        with anyio.fail_after(10):
            await streaming.wait()
        cancelled_at = time.monotonic()
        group.cancel_scope.cancel()
    with anyio.fail_after(5):
        [disconnect] = await emulator.wait_disconnects(1)
    assert disconnect.time - cancelled_at < 1.0
