"""The key never leaks from the Kimi client, whatever characters it holds and however an error
quotes it: escaped (repr, bytes repr, JSON), percent-encoded, or cut short.

Settings refuse or trim such keys at start-up (tests/test_config.py); these tests build a
KimiClient directly, so every key-bearing exception path sees the raw key.
"""

import json
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from kimi_mcp.emulator import Emulator
from kimi_mcp.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    KimiError,
    UnusableKeyError,
)
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.policy import redact
from tests.conftest import CANARY_KEY, USER_AGENT

pytestmark = pytest.mark.anyio

HEAD, TAIL = "7f3a9c1e", "5b2d4f6a8c0e"  # the secret part of every key below, in two pieces
# A Windows-edited .env, and unicode: no HTTP header can carry them. The client refuses them
# before httpx2 does (its refusal quotes the header, and httpcore2 logs that at DEBUG).
UNSENDABLE = {
    "trailing-cr": CANARY_KEY + "\r",
    "trailing-lf": CANARY_KEY + "\n",
    "unicode-and-crlf": f"sk-canary-{HEAD}é\u2028{TAIL}\r\n",
}
# Legal in a header but escaped by repr and JSON: these reach every deeper path.
SENDABLE = {
    "quotes-inside": f"sk-canary-{HEAD}\"'{TAIL}",
    "backslash-inside": f"sk-canary-{HEAD}\\x{TAIL}",
}
KEYS = UNSENDABLE | SENDABLE
CHAT = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}]}


def assert_no_key(text: str, key: str, where: str) -> None:
    """Neither the key in any form nor any 8 characters of its secret part appear."""
    folded = text.lower()
    for needle in (
        key,
        repr(key)[1:-1],
        json.dumps(key)[1:-1],
        quote(key, errors="surrogatepass"),
        HEAD,
        TAIL[-8:],
    ):
        assert needle.lower() not in folded, f"the key ({needle!r}) appeared in {where}: {text}"


def assert_error_clean(error: BaseException, key: str, caplog: pytest.LogCaptureFixture) -> None:
    """The message, the whole printed traceback (causes included) and the log are clean."""
    assert_no_key(str(error), key, "the error message")
    assert_no_key("".join(traceback.format_exception(error)), key, "the traceback")
    assert_no_key(caplog.text, key, "the log")


def soon() -> float:
    return anyio.current_time() + 10


@asynccontextmanager
async def kimi_with(
    key: str, base_url: str, transport: httpx2.AsyncBaseTransport | None = None
) -> AsyncIterator[KimiClient]:
    kimi = KimiClient(
        user_agent=USER_AGENT,
        api_key=SecretStr(key),
        base_url=base_url,
        max_retries=0,
        transport=transport,
    )
    try:
        yield kimi
    finally:
        await kimi.aclose()


def answering(reply: Callable[[httpx2.Request], httpx2.Response]) -> httpx2.MockTransport:
    return httpx2.MockTransport(reply)


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
async def test_key_with_trailing_cr_never_leaks(
    key: str, emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every endpoint, against the emulator: a key no header can carry is refused with a clear
    error before anything is sent; a key that repr escapes is sent (and rejected: 401)."""
    async with kimi_with(key, emulator_url) as kimi:
        for call in (
            lambda: kimi.balance(deadline=soon()),
            lambda: kimi.file_info("co3t989kqq4ua4e78urg", deadline=soon()),
            lambda: kimi.stream_chat(CHAT, deadline=soon()),
        ):
            with pytest.raises(KimiError) as caught:
                await call()
            assert_error_clean(caught.value, key, caplog)
            expected = UnusableKeyError if key in UNSENDABLE.values() else AuthenticationError
            assert isinstance(caught.value, expected), caught.value
    assert len(emulator.requests) == (0 if key in UNSENDABLE.values() else 3)


@pytest.mark.parametrize("key", SENDABLE.values(), ids=SENDABLE.keys())
async def test_key_in_a_connection_error_never_leaks(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A transport failing with the request's headers in its text (as repr escapes them)."""

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError(f"refused; sent {dict(request.headers)!r}", request=request)

    async with kimi_with(key, "http://kimi.invalid/v1", answering(refuse)) as kimi:
        with pytest.raises(APIConnectionError) as caught:
            await kimi.list_models(deadline=soon())
        assert_error_clean(caught.value, key, caplog)
        with pytest.raises(APIConnectionError) as caught:
            await kimi.stream_chat(CHAT, deadline=soon())
    assert_error_clean(caught.value, key, caplog)


def echoes(key: str) -> list[httpx2.Response]:
    """Answers that quote the key back: in a JSON error, escaped in an HTML page, cut short by a
    length limit, percent-encoded in a redirect's Location."""
    escaped = key.encode("unicode_escape").decode()
    return [
        httpx2.Response(401, json={"error": {"type": "invalid_authentication_error",
                                             "message": f"bad key {key}"}}),
        httpx2.Response(500, text=f"<html><title>bad key {escaped}</title></html>"),
        httpx2.Response(400, text=f"<p>{'x' * 100} key={escaped}</p>"),  # cut at 120 chars
        httpx2.Response(307, headers={"Location": f"https://evil.example/?k={quote(key)}"}),
        httpx2.Response(403, json={"error": {"type": "permission_denied_error",
                                             "message": f"key {json.dumps(key)[1:-1]}"}}),
    ]  # fmt: skip


@pytest.mark.parametrize("key", SENDABLE.values(), ids=SENDABLE.keys())
async def test_key_echoed_in_a_status_error_never_leaks(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    answers = iter(echoes(key))
    transport = answering(lambda _: next(answers))
    async with kimi_with(key, "http://kimi.invalid/v1", transport) as kimi:
        for _ in echoes(key):
            with pytest.raises(APIError) as caught:
                await kimi.balance(deadline=soon())
            assert_error_clean(caught.value, key, caplog)


@pytest.mark.parametrize("key", SENDABLE.values(), ids=SENDABLE.keys())
async def test_key_echoed_in_a_stream_error_never_leaks(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An `{"error": ...}` event mid-stream quoting the key (JSON-escaped on the wire)."""
    event = {"error": {"type": "invalid_request_error", "message": f"key was {key!r}"}}
    body = f"data: {json.dumps(event)}\n\n"
    transport = answering(lambda _: httpx2.Response(200, text=body))
    async with kimi_with(key, "http://kimi.invalid/v1", transport) as kimi:
        with pytest.raises(APIError) as caught:
            await kimi.stream_chat(CHAT, deadline=soon())
    assert_error_clean(caught.value, key, caplog)


@pytest.mark.parametrize("key", SENDABLE.values(), ids=SENDABLE.keys())
async def test_key_echoed_in_a_stream_error_after_text_never_leaks(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The same event after some answer text: the partial answer comes back with Kimi's message
    in `error`, which is redacted like any error message."""
    text = {"choices": [{"index": 0, "delta": {"content": "Hello "}}]}
    event = {"error": {"type": "server_error", "message": f"key was {key!r}"}}
    body = f"data: {json.dumps(text)}\n\ndata: {json.dumps(event)}\n\n"
    transport = answering(lambda _: httpx2.Response(200, text=body))
    async with kimi_with(key, "http://kimi.invalid/v1", transport) as kimi:
        outcome = await kimi.stream_chat(CHAT, deadline=soon())
    assert outcome.content == "Hello " and outcome.error is not None
    assert "[redacted]" in outcome.error
    assert_no_key(outcome.error, key, "the upstream error")
    assert_no_key(caplog.text, key, "the log")


@pytest.mark.parametrize("key", UNSENDABLE.values(), ids=UNSENDABLE.keys())
async def test_a_key_no_header_can_carry_is_a_clear_error(key: str, emulator_url: str) -> None:
    """A KimiError saying what to fix, not "a kimi-mcp bug", and not httpx2's refusal."""
    async with kimi_with(key, emulator_url) as kimi:
        with pytest.raises(UnusableKeyError, match="MOONSHOT_API_KEY"):
            await kimi.list_models(deadline=soon())


@pytest.mark.parametrize(
    "shown",
    [
        pytest.param(lambda key: key[:14], id="head"),
        pytest.param(lambda key: key[-12:], id="tail"),
        pytest.param(lambda key: key.upper(), id="upper-case"),
        pytest.param(lambda key: repr(repr(key)), id="repr-of-repr"),
        pytest.param(lambda key: repr(key.encode("utf-8")), id="bytes-repr"),
        pytest.param(lambda key: json.dumps(key), id="json"),
        pytest.param(lambda key: quote(key), id="percent"),
    ],
)
@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_redaction_matches_escaped_and_partial_forms(key: str, shown: Callable[[str], str]) -> None:
    text = f"before {shown(key)} after"
    redacted = redact(text, (key,))
    assert_no_key(redacted, key, "the redacted text")
    assert redacted.startswith("before ") and redacted.endswith(" after")
    assert "[redacted]" in redacted


def test_redaction_leaves_other_text_alone() -> None:
    text = "Kimi answered HTTP 401 invalid_authentication_error for sk-other-key-123456"
    assert redact(text, (CANARY_KEY,)) == text
    assert redact(text, ()) == text


def test_redaction_of_a_key_with_a_lone_surrogate_does_not_raise() -> None:
    """os.environ holds undecodable bytes as lone surrogates; redaction must still work."""
    key = f"sk-{HEAD}\udcff{TAIL}"
    assert_no_key(redact(f"got {key!r} and {quote(key, errors='surrogatepass')}", (key,)), key, "x")
