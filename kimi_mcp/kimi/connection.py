"""The HTTP side of KimiClient: one lazy httpx2.AsyncClient, one request sent with retries, and
errors that never carry the key."""

import re
from typing import Any

import anyio
import httpx2
from pydantic import SecretStr

from kimi_mcp.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    NotConfiguredError,
    UnusableKeyError,
)
from kimi_mcp.kimi.policy import error_from_response, may_have_run
from kimi_mcp.kimi.retries import Retries, may_have_acted
from kimi_mcp.kimi.upstream import (
    LIMITS,
    connection_error,
    json_content,
    read_response,
    timeouts,
)

_HEADER_SAFE = re.compile(r"[!-~]+")  # printable ASCII, no space: a key is one word


class Connection:
    """The account's connection to Kimi: the key, the base URL and the retry budget."""

    def __init__(
        self,
        *,
        api_key: SecretStr | None,
        base_url: str,
        user_agent: str,
        timeout: float,
        max_retries: int,
        backoff: float,
        transport: httpx2.AsyncBaseTransport | None,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._user_agent = user_agent
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def http(self) -> httpx2.AsyncClient:
        # Created on first use: building an AsyncClient costs ~38 ms and ~3 MiB at start-up.
        if self._api_key is None:
            raise NotConfiguredError()
        if self._client is None:
            key = self._api_key.get_secret_value()
            # What a header cannot carry is refused here, before httpx2 sees it: its refusal
            # quotes the header escaped, and httpcore2 logs that at DEBUG where no redaction
            # reaches (settings trim or refuse such keys at start-up, by the same rule).
            if not _HEADER_SAFE.fullmatch(key):
                raise UnusableKeyError()
            self._client = httpx2.AsyncClient(
                base_url=self._base_url,
                headers={"Authorization": f"Bearer {key}", "User-Agent": self._user_agent},
                timeout=timeouts(self._timeout),
                limits=LIMITS,
                follow_redirects=False,
                transport=self._transport,
            )
        return self._client

    @property
    def secrets(self) -> tuple[str, ...]:
        """What every error text is redacted of."""
        return (self._api_key.get_secret_value(),) if self._api_key else ()

    def retries(self, deadline: float) -> Retries:
        return Retries(max_retries=self._max_retries, backoff=self._backoff, deadline=deadline)

    def status_error(self, status: int, headers: httpx2.Headers, body: bytes) -> APIStatusError:
        return error_from_response(status, headers, body, secrets=self.secrets)

    def connection_error(
        self, cls: type[APIConnectionError], method: str, path: str, exc: Exception
    ) -> APIConnectionError:
        return connection_error(cls, method, path, exc, self.secrets)

    async def send(
        self, method: str, path: str, *, deadline: float, runs_once: bool = False, **kwargs: Any
    ) -> httpx2.Response:
        """One request with retries, all inside the absolute `deadline` (anyio clock).

        `runs_once`: the request runs something (a fiber), so it is tried again only when the
        failure proves it did not run.
        """
        http = self.http
        retries: Retries | None = None  # made at the first failure: most calls have none
        if "json" in kwargs:  # encoded here: httpx2 fails on a lone surrogate Kimi sent us
            kwargs |= json_content(kwargs.pop("json"))
        while True:
            # A scope on the absolute deadline, not fail_after: that is the same scope plus a
            # generator and two clock reads, on every call (0.03 M instructions of ~2.4 M).
            with anyio.CancelScope(deadline=deadline) as scope:
                try:
                    return await self._attempt(http, method, path, kwargs)
                except APIError as error:
                    failed = error
            if scope.cancelled_caught:
                raise APITimeoutError(
                    f"Kimi did not answer {method} {path} before the deadline; try again later."
                )
            if retries is None:
                retries = self.retries(deadline)
            sent = may_have_acted(method, failed)
            if runs_once and may_have_run(failed, request_sent=sent):
                raise retries.marked(failed) from None
            await retries.wait_or_raise(failed, sent=sent)

    async def _attempt(
        self, http: httpx2.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
    ) -> httpx2.Response:
        try:
            # send(stream=True) and aclose, as http.stream does without its context manager.
            streamed = await http.send(http.build_request(method, path, **kwargs), stream=True)
            try:
                response = await read_response(streamed)
            finally:
                await streamed.aclose()
        except httpx2.TimeoutException as exc:  # before TransportError: it is a subclass
            raise self.connection_error(APITimeoutError, method, path, exc) from None
        except httpx2.TransportError as exc:  # its text may quote a header: only redacted
            raise self.connection_error(APIConnectionError, method, path, exc) from None
        if not response.is_success:
            raise self.status_error(response.status_code, response.headers, response.content)
        return response
