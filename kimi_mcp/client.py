"""KimiClient: one lazy httpx2.AsyncClient, one retrying `_send`, one method per endpoint."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from kimi_mcp import __version__
from kimi_mcp.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    NotConfiguredError,
    ResponseValidationError,
)
from kimi_mcp.policy import error_from_response, redact, retry_delay, should_retry
from kimi_mcp.stream import ChatOutcome, StreamState
from kimi_mcp.types import (
    BalanceBody,
    BalanceData,
    DeletedFile,
    FileList,
    FileObject,
    ModelInfo,
    ModelList,
    TokenCountBody,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
CONNECT_TIMEOUT = 10.0
# Exceptions raised before any byte of the request left: always safe to try again.
_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)

ModelT = TypeVar("ModelT", bound=BaseModel)
ProgressHook = Callable[[StreamState], Awaitable[None]]


class KimiClient:
    """Async client for the Kimi Open Platform API; raises only KimiError subclasses."""

    def __init__(
        self,
        *,
        api_key: SecretStr | None,
        base_url: str,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_concurrent_chats: int = 4,
        backoff: float = 0.5,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._transport = transport
        self._chat_slots = anyio.Semaphore(max_concurrent_chats)
        self._client: httpx2.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def _http(self) -> httpx2.AsyncClient:
        # Created on first use: building an AsyncClient costs ~38 ms and ~3 MiB at start-up.
        if self._api_key is None:
            raise NotConfiguredError()
        if self._client is None:
            self._client = httpx2.AsyncClient(
                base_url=self._base_url,
                headers={
                    "Authorization": f"Bearer {self._api_key.get_secret_value()}",
                    "User-Agent": f"kimi-mcp/{__version__}",
                },
                timeout=httpx2.Timeout(self._timeout, connect=min(CONNECT_TIMEOUT, self._timeout)),
                follow_redirects=False,
                transport=self._transport,
            )
        return self._client

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key.get_secret_value(),) if self._api_key else ()

    # Endpoints -------------------------------------------------------------------------------

    async def list_models(self, *, deadline: float) -> list[ModelInfo]:
        response = await self._send("GET", "/models", deadline=deadline)
        return _parse(ModelList, response).data

    async def balance(self, *, deadline: float) -> BalanceData:
        return _parse(
            BalanceBody, await self._send("GET", "/users/me/balance", deadline=deadline)
        ).data

    async def estimate_tokens(
        self, model: str, messages: list[dict[str, Any]], *, deadline: float
    ) -> int:
        body = {"model": model, "messages": messages}
        response = await self._send(
            "POST", "/tokenizers/estimate-token-count", json=body, deadline=deadline
        )
        return _parse(TokenCountBody, response).data.total_tokens

    async def upload_file(
        self, filename: str, content: bytes, purpose: str, *, deadline: float
    ) -> FileObject:
        files = {"file": (filename, content)}
        response = await self._send(
            "POST", "/files", files=files, data={"purpose": purpose}, deadline=deadline
        )
        return _parse(FileObject, response)

    async def list_files(self, *, deadline: float) -> list[FileObject]:
        return _parse(FileList, await self._send("GET", "/files", deadline=deadline)).data

    async def file_info(self, file_id: str, *, deadline: float) -> FileObject:
        return _parse(FileObject, await self._send("GET", f"/files/{file_id}", deadline=deadline))

    async def delete_file(self, file_id: str, *, deadline: float) -> DeletedFile:
        response = await self._send("DELETE", f"/files/{file_id}", deadline=deadline)
        return _parse(DeletedFile, response)

    async def file_content(self, file_id: str, *, deadline: float) -> str:
        response = await self._send("GET", f"/files/{file_id}/content", deadline=deadline)
        return response.content.decode("utf-8", errors="replace")

    # Plain requests --------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, *, deadline: float, **kwargs: Any
    ) -> httpx2.Response:
        """One request with retries, all inside the absolute `deadline` (anyio clock)."""
        http = self._http
        attempt = 0
        while True:
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    return await self._attempt(http, method, path, kwargs)
            except TimeoutError:
                raise APITimeoutError(
                    f"Kimi did not answer {method} {path} before the deadline; try again later."
                ) from None
            except APIError as error:
                await self._before_retry(error, attempt, deadline, sent=_was_sent(method, error))
            attempt += 1

    async def _attempt(
        self, http: httpx2.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
    ) -> httpx2.Response:
        try:
            response = await http.request(method, path, **kwargs)
        except httpx2.TimeoutException as exc:  # before TransportError: it is a subclass
            raise self._connection_error(APITimeoutError, method, path, exc) from exc
        except httpx2.TransportError as exc:
            raise self._connection_error(APIConnectionError, method, path, exc) from exc
        if response.is_success:
            if len(response.content) > MAX_BODY_BYTES:
                raise ResponseValidationError(f"Kimi's answer to {path} was too large to use.")
            return response
        raise self._status_error(response)

    async def _before_retry(
        self, error: APIError, attempt: int, deadline: float, *, sent: bool
    ) -> None:
        """Return to retry, or raise `error` (marked with the attempts made) when we must not."""
        if attempt >= self._max_retries or not should_retry(error, request_sent=sent):
            raise _with_attempts(error, attempt + 1)
        delay = retry_delay(attempt, error, base=self._backoff)
        if delay is None or anyio.current_time() + delay >= deadline:
            raise _with_attempts(error, attempt + 1)
        log.info(
            "retrying after %s (attempt %d, waiting %.2fs)",
            type(error).__name__,
            attempt + 1,
            delay,
        )
        await anyio.sleep(delay)

    def _status_error(self, response: httpx2.Response) -> APIStatusError:
        return error_from_response(
            response.status_code, response.headers, response.content, secrets=self._secrets
        )

    def _connection_error(
        self, cls: type[APIConnectionError], method: str, path: str, exc: Exception
    ) -> APIConnectionError:
        what = "timed out" if cls is APITimeoutError else "failed"
        detail = redact(f"{type(exc).__name__}: {exc}", self._secrets)[:200]
        return cls(
            f"The connection to Kimi {what} ({method} {path}; {detail}). "
            "Check the network or base_url; retrying later may help.",
            not_sent=isinstance(exc, _NOT_SENT),
        )

    # Streaming chat --------------------------------------------------------------------------

    async def stream_chat(
        self, body: dict[str, Any], *, deadline: float, on_progress: ProgressHook | None = None
    ) -> ChatOutcome:
        """Stream one chat completion; a deadline or a cut stream returns the partial answer."""
        http = self._http
        async with self._chat_slots:
            attempt = 0
            while True:
                state = StreamState(model=str(body.get("model", "")))
                try:
                    return await self._stream_until(http, body, state, deadline, on_progress)
                except APIError as error:
                    if state.produced_text:  # never retry a stream that produced text: return it
                        return state.outcome("stream_cut")
                    await self._before_retry(error, attempt, deadline, sent=not _not_sent(error))
                attempt += 1

    async def _stream_until(
        self,
        http: httpx2.AsyncClient,
        body: dict[str, Any],
        state: StreamState,
        deadline: float,
        on_progress: ProgressHook | None,
    ) -> ChatOutcome:
        with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as scope:
            await self._read_stream(http, {**body, "stream": True}, state, on_progress)
        return state.outcome("deadline" if scope.cancelled_caught else None)

    async def _read_stream(
        self,
        http: httpx2.AsyncClient,
        body: dict[str, Any],
        state: StreamState,
        on_progress: ProgressHook | None,
    ) -> None:
        path = "/chat/completions"
        try:
            async with http.stream("POST", path, json=body) as response:
                if not response.is_success:
                    await response.aread()
                    raise self._status_error(response)
                async for line in response.aiter_lines():
                    if state.done:
                        # Read on to the end of the body (normally one blank line) so the
                        # connection goes back to the pool; anything more is ignored.
                        if line:
                            break
                        continue
                    state.feed_line(line)
                    if on_progress is not None and line:
                        await on_progress(state)
        except httpx2.TimeoutException as exc:
            raise self._connection_error(APITimeoutError, "POST", path, exc) from exc
        except httpx2.TransportError as exc:
            raise self._connection_error(APIConnectionError, "POST", path, exc) from exc


def _not_sent(error: APIError) -> bool:
    return isinstance(error, APIConnectionError) and error.not_sent


def _was_sent(method: str, error: APIError) -> bool:
    """GETs cannot bill or change anything, so only their answer matters, not whether it left."""
    return method != "GET" and not _not_sent(error)


def _with_attempts(error: APIError, attempts: int) -> APIError:
    return error.with_attempts(attempts) if isinstance(error, APIStatusError) else error


def _parse(model: type[ModelT], response: httpx2.Response) -> ModelT:
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise ResponseValidationError(
            f"Kimi's answer to {response.request.url.path} did not have the documented shape; "
            "the API may have changed. Retrying will not help."
        ) from None
