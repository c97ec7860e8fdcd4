"""KimiClient: one lazy httpx2.AsyncClient, one retrying `_send`, one method per endpoint."""

import logging
from typing import Any, Protocol, TypeVar

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
from kimi_mcp.policy import (
    error_from_response,
    retry_delay,
    should_retry,
    wait_allowed,
)
from kimi_mcp.stream import MAX_STREAM_CHARS, ChatOutcome, StreamState, TruncatedReason
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
from kimi_mcp.upstream import (
    LIMITS,
    ProgressHook,
    connection_error,
    read_capped,
    read_events,
    timeouts,
)

log = logging.getLogger(__name__)

# Seconds a stream may go without a data event (`: ping` comments keep `read` from firing).
CONTENT_IDLE = 90.0

ModelT = TypeVar("ModelT", bound=BaseModel)
__all__ = ["BinaryReader", "KimiClient", "ProgressHook"]


class BinaryReader(Protocol):
    """What a streamed upload body reads from (httpx2 rewinds it before each attempt)."""

    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def tell(self) -> int: ...


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
        content_idle: float = CONTENT_IDLE,
        max_stream_chars: int = MAX_STREAM_CHARS,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._content_idle = content_idle
        self._max_stream_chars = max_stream_chars
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
                timeout=timeouts(self._timeout),
                limits=LIMITS,
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
        self, filename: str, content: bytes | BinaryReader, purpose: str, *, deadline: float
    ) -> FileObject:
        """`content` may be a reader (read, seek, tell): the body is then streamed from it."""
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
        attempt, waited = 0, 0.0
        while True:
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    return await self._attempt(http, method, path, kwargs)
            except TimeoutError:
                raise APITimeoutError(
                    f"Kimi did not answer {method} {path} before the deadline; try again later."
                ) from None
            except APIError as error:
                sent = _was_sent(method, error)
                waited += await self._before_retry(error, attempt, deadline, waited, sent=sent)
            attempt += 1

    async def _attempt(
        self, http: httpx2.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
    ) -> httpx2.Response:
        try:
            async with http.stream(method, path, **kwargs) as response:
                body = await read_capped(response)
        except httpx2.TimeoutException as exc:  # before TransportError: it is a subclass
            raise self._connection_error(APITimeoutError, method, path, exc) from exc
        except httpx2.TransportError as exc:
            raise self._connection_error(APIConnectionError, method, path, exc) from exc
        if not response.is_success:
            raise self._status_error(response.status_code, response.headers, body)
        # A fresh Response around the capped body: the streamed one is closed and unread.
        return httpx2.Response(
            response.status_code, headers=response.headers, content=body, request=response.request
        )

    async def _before_retry(
        self, error: APIError, attempt: int, deadline: float, waited: float, *, sent: bool
    ) -> float:
        """Wait and return the seconds waited, or raise `error` (marked with the attempts made)
        when we must not retry. `waited`: seconds this call already spent between attempts."""
        if attempt >= self._max_retries or not should_retry(error, request_sent=sent):
            raise _with_attempts(error, attempt + 1)
        delay = retry_delay(attempt, error, base=self._backoff)
        now = anyio.current_time()
        if delay is None or not wait_allowed(delay, now=now, deadline=deadline, waited=waited):
            raise _with_attempts(error, attempt + 1)
        kind = type(error).__name__
        log.info("retrying after %s (attempt %d, waiting %.2fs)", kind, attempt + 1, delay)
        await anyio.sleep(delay)
        return delay

    def _status_error(self, status: int, headers: httpx2.Headers, body: bytes) -> APIStatusError:
        return error_from_response(status, headers, body, secrets=self._secrets)

    def _connection_error(
        self, cls: type[APIConnectionError], method: str, path: str, exc: Exception
    ) -> APIConnectionError:
        return connection_error(cls, method, path, exc, self._secrets)

    # Streaming chat --------------------------------------------------------------------------

    async def stream_chat(
        self, body: dict[str, Any], *, deadline: float, on_progress: ProgressHook | None = None
    ) -> ChatOutcome:
        """Stream one chat completion; a deadline or a cut stream returns the partial answer."""
        http = self._http
        started = anyio.current_time()
        acquired = False
        # Waiting for a slot counts toward the deadline (Tier0 allows one chat at a time).
        with anyio.move_on_after(max(0.0, deadline - started)):
            await self._chat_slots.acquire()
            acquired = True
        if not acquired:
            raise APITimeoutError(
                "Every chat slot (max_concurrent_chats) stayed busy until the deadline; "
                "try again when other calls have finished."
            )
        try:
            return await self._stream_with_retries(http, body, deadline, on_progress)
        finally:
            self._chat_slots.release()

    async def _stream_with_retries(
        self,
        http: httpx2.AsyncClient,
        body: dict[str, Any],
        deadline: float,
        on_progress: ProgressHook | None,
    ) -> ChatOutcome:
        attempt, waited = 0, 0.0
        while True:
            state = StreamState(
                model=str(body.get("model", "")),
                secrets=self._secrets,
                max_chars=self._max_stream_chars,
            )
            try:
                return await self._stream_until(http, body, state, deadline, on_progress)
            except APIError as error:
                if state.produced_text:  # never retried: the text went out (and was billed)
                    if isinstance(error, APIStatusError):  # Kimi said why: say it too
                        raise _with_attempts(error, attempt + 1) from None
                    return state.outcome("stream_cut")
                sent = not _not_sent(error)
                waited += await self._before_retry(error, attempt, deadline, waited, sent=sent)
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
            cut = await self._read_stream(http, {**body, "stream": True}, state, on_progress)
        return state.outcome("deadline" if scope.cancelled_caught else cut)

    async def _read_stream(
        self,
        http: httpx2.AsyncClient,
        body: dict[str, Any],
        state: StreamState,
        on_progress: ProgressHook | None,
    ) -> TruncatedReason | None:
        path = "/chat/completions"
        try:
            async with http.stream("POST", path, json=body) as response:
                if not response.is_success:
                    error_body = await read_capped(response)
                    raise self._status_error(response.status_code, response.headers, error_body)
                return await read_events(response, state, self._content_idle, on_progress)
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
            f"Unexpected response from Kimi (status {response.status_code}) to "
            f"{response.request.url.path}: not the documented shape; the API may have changed "
            "or a proxy answered. Retrying will not help."
        ) from None
