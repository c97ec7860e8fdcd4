"""Legacy-era HTTP sessions over a real server: an idle timeout of minutes, and a session cap that
closes the session idle for longest before it refuses a new one (settings lowered by env here)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest

from tests.e2e.conftest import RAW_INITIALIZE, START_TIMEOUT, auth_headers, serving

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

SESSION_HEADER = "mcp-session-id"
LEGACY = {"mcp-protocol-version": "2025-11-25"}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@asynccontextmanager
async def raw_client() -> AsyncIterator[httpx2.AsyncClient]:
    headers = auth_headers() | ACCEPT
    async with httpx2.AsyncClient(headers=headers, timeout=START_TIMEOUT) as http:
        yield http


async def open_session(http: httpx2.AsyncClient, url: str) -> httpx2.Response:
    """A legacy handshake: initialize, then `initialized` under the new session id."""
    answer = await http.post(url, json=RAW_INITIALIZE)
    session = answer.headers.get(SESSION_HEADER)
    if answer.status_code == 200 and session:
        done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        sent = await http.post(url, json=done, headers={SESSION_HEADER: session, **LEGACY})
        assert sent.status_code == 202, sent.text
    return answer


async def ping(http: httpx2.AsyncClient, url: str, session: str) -> int:
    message = {"jsonrpc": "2.0", "id": "ping", "method": "ping"}
    answer = await http.post(url, json=message, headers={SESSION_HEADER: session, **LEGACY})
    return answer.status_code


async def test_at_the_session_cap_the_oldest_idle_session_is_closed_for_a_new_one(
    workdir: Path,
) -> None:
    async with serving(workdir, KIMI_MCP_HTTP_MAX_SESSIONS="2") as served, raw_client() as http:
        first = (await open_session(http, served.url)).headers[SESSION_HEADER]
        second = (await open_session(http, served.url)).headers[SESSION_HEADER]
        assert await ping(http, served.url, first) == 200  # now `second` is idle for longest

        third = await open_session(http, served.url)
        assert third.status_code == 200, third.text  # the SDK alone answered 503 here

        assert await ping(http, served.url, second) == 404
        assert await ping(http, served.url, first) == 200
        assert await ping(http, served.url, third.headers[SESSION_HEADER]) == 200
        assert "to admit a new one (http_max_sessions=2)" in served.log.text


async def test_a_new_session_is_refused_only_while_every_session_is_in_use(
    workdir: Path,
) -> None:
    async with serving(workdir, KIMI_MCP_HTTP_MAX_SESSIONS="1") as served, raw_client() as http:
        first = (await open_session(http, served.url)).headers[SESSION_HEADER]
        headers = {SESSION_HEADER: first, "accept": "text/event-stream", **LEGACY}
        async with http.stream("GET", served.url, headers=headers) as listening:
            assert listening.status_code == 200  # the open GET stream keeps `first` in use
            refused = await open_session(http, served.url)
            assert refused.status_code == 503
        admitted = await open_session(http, served.url)  # `first` is idle again: it makes room
        assert admitted.status_code == 200, admitted.text
        assert await ping(http, served.url, first) == 404


async def test_an_abandoned_session_is_gone_after_the_idle_timeout(workdir: Path) -> None:
    async with serving(workdir, KIMI_MCP_HTTP_SESSION_IDLE="1") as served, raw_client() as http:
        session = (await open_session(http, served.url)).headers[SESSION_HEADER]
        # The server's own word that the timeout fired (no request of ours may reset it first).
        await served.log.wait_for(f"Session {session} idle timeout")
        assert await ping(http, served.url, session) == 404
