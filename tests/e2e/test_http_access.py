"""HTTP access control (reliability.md 5.8, A1-A8) against a real kimi-mcp child on loopback.

Pinned order: the Host/Origin guard is outermost, so a foreign Host (421) or Origin (403) is
refused the same way with or without a token; the bearer check (401) comes next.
"""

import base64
import hmac
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import httpx2
import pytest

from kimi_mcp.server import http_auth
from tests.conftest import CANARY_KEY
from tests.e2e.conftest import (
    RAW_INITIALIZE,
    START_TIMEOUT,
    TEST_TOKEN,
    Served,
    assert_alive,
    auth_headers,
    http_server,
    mcp_http_client,
    raw_http,
    server_env,
    status_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

ACCEPT = {"Accept": "application/json, text/event-stream"}
LIST_MODELS = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {"name": "list_models", "arguments": {}},
}


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=START_TIMEOUT) as client:
        yield client


def _listening_inodes() -> dict[str, str]:
    """inode -> local address of every listening TCP socket, from /proc/net/tcp{,6}."""
    found: dict[str, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                found[fields[9]] = fields[1]
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = str(fd.readlink()) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


async def test_a1_default_listener_is_loopback_only(workdir: Path) -> None:
    """A1: without a host option, the process's only listening socket is 127.0.0.1:PORT."""
    async with http_server(server_env(None, workdir), workdir) as (url, log):
        assert log.pid is not None
        port = httpx2.URL(url).port
        listening = _listening_inodes()
        mine = [listening[inode] for inode in _socket_inodes(log.pid) if inode in listening]
    assert mine == [f"0100007F:{port:04X}"]  # /proc/net/tcp spells 127.0.0.1 little-endian


def _run_http(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A server start-up expected to fail fast (exit 2): run it to completion."""
    return subprocess.run(
        [sys.executable, "-m", "kimi_mcp", "--transport", "http", "--port", "0", *args],
        env=server_env(None, workdir, **env),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )


def test_a2_non_loopback_without_a_configured_token_is_refused(workdir: Path) -> None:
    """A2: 0.0.0.0 with no token configured (one would only be generated) exits 2."""
    done = _run_http(workdir, "--host", "0.0.0.0", KIMI_MCP_ALLOWED_HOSTS="127.0.0.1:*")
    assert done.returncode == 2
    assert "KIMI_MCP_AUTH_TOKEN" in done.stderr and "bearer token for this run" not in done.stderr
    assert "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.startswith("kimi-mcp:")]) == 1


def test_a2_non_loopback_needs_an_explicit_host_allow_list(workdir: Path) -> None:
    """A2: with a token but no KIMI_MCP_ALLOWED_HOSTS, beyond loopback is refused (exit 2)."""
    done = _run_http(workdir, "--host", "0.0.0.0", KIMI_MCP_AUTH_TOKEN=TEST_TOKEN)
    assert done.returncode == 2 and "KIMI_MCP_ALLOWED_HOSTS" in done.stderr


async def test_a2_non_loopback_with_token_and_allow_list_starts_and_warns(
    emulator_url: str, workdir: Path
) -> None:
    """A2: token and Host allow-list configured: it serves, warns, and the guard still applies."""
    env = server_env(emulator_url, workdir, KIMI_MCP_ALLOWED_HOSTS="127.0.0.1:*")
    async with http_server(env, workdir, "--host", "0.0.0.0") as (url, log):
        assert "beyond loopback" in log.text and "WARNING" in log.text
        loopback_url = url.replace("0.0.0.0", "127.0.0.1")
        await assert_alive(loopback_url)
        async with httpx2.AsyncClient(timeout=START_TIMEOUT) as http:
            headers = {**ACCEPT, **auth_headers(), "Host": "localhost:1"}
            other_host = await http.post(loopback_url, json=RAW_INITIALIZE, headers=headers)
        assert other_host.status_code == 421  # only the listed Host values


@pytest.mark.parametrize(
    ("token", "problem"),
    [(CANARY_KEY, "must not be the Kimi API key"), ("two words", "visible ASCII")],
)
def test_s6_unusable_tokens_stop_start_up(workdir: Path, token: str, problem: str) -> None:
    """S6 / A2: a token equal to the Kimi key (or not header-safe) stops start-up, exit 2."""
    env = {"MOONSHOT_API_KEY": CANARY_KEY, "KIMI_MCP_AUTH_TOKEN": token}
    done = _run_http(workdir, **env)
    assert done.returncode == 2 and problem in done.stderr
    assert CANARY_KEY not in done.stderr


async def test_generated_token_is_printed_once_and_works(workdir: Path) -> None:
    """No token configured on loopback: one is generated, printed once, and required."""
    env = server_env(None, workdir)
    async with http_server(env, workdir, token=None) as (url, log):
        token = await log.wait_for("kimi-mcp: bearer token for this run: ")
        assert len(token) >= 32 and "KIMI_MCP_AUTH_TOKEN" in log.text
        async with httpx2.AsyncClient(timeout=START_TIMEOUT) as http:
            bare = await http.post(url, json=RAW_INITIALIZE, headers=ACCEPT)
            assert bare.status_code == 401
        async with mcp_http_client(url, token) as client:
            await client.list_tools()
        assert log.text.count(token) == 1


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_a3_no_token_is_401_and_kimi_sees_nothing(
    served: Served, http: httpx2.AsyncClient, method: str
) -> None:
    """A3: no Authorization header: 401, a Bearer challenge, a JSON body, 0 upstream requests."""
    served.emulator.reset()
    body = LIST_MODELS if method == "POST" else None
    answer = await http.request(method, served.url, json=body, headers=ACCEPT)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer ")
    assert answer.json()["error"] == "unauthorized"
    assert served.emulator.requests == []
    await assert_alive(served.url)


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"user:{token}".encode()).decode()


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(f"Bearer {TEST_TOKEN}x", id="wrong-token"),
        pytest.param(f"Bearer {TEST_TOKEN[:-1]}", id="prefix-of-token"),
        pytest.param("Bearer", id="bearer-nothing-after"),
        pytest.param(_basic(TEST_TOKEN), id="basic"),
        pytest.param(f"Bearer {TEST_TOKEN} x", id="token-space-junk"),
        pytest.param(f"Bearer  {TEST_TOKEN}", id="two-spaces"),
        pytest.param(TEST_TOKEN, id="no-scheme"),
        pytest.param(f"Bearer {CANARY_KEY}", id="the-kimi-key"),
    ],
)
async def test_a4_wrong_credentials_are_401(
    served: Served, http: httpx2.AsyncClient, authorization: str
) -> None:
    """A4 (and S6: the Kimi key is not the inbound token): each is 401 with invalid_token."""
    headers = {**ACCEPT, "Authorization": authorization}
    answer = await http.post(served.url, json=RAW_INITIALIZE, headers=headers)
    assert answer.status_code == 401, authorization
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_a4_token_in_the_query_string_is_401(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """A4: ?access_token= is never read (it would end up in logs and history)."""
    answer = await http.post(
        served.url, params={"access_token": TEST_TOKEN}, json=RAW_INITIALIZE, headers=ACCEPT
    )
    assert answer.status_code == 401


async def test_a4_two_authorization_headers_are_401(served: Served) -> None:
    """A4: a second Authorization header makes the request ambiguous: refused."""
    port = httpx2.URL(served.url).port
    request = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TEST_TOKEN}\r\n"
        f"Authorization: Bearer wrong\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert status_of(await raw_http(served.url, request.encode())) == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
async def test_a4_scheme_is_case_insensitive(
    served: Served, http: httpx2.AsyncClient, scheme: str
) -> None:
    """A4: RFC 6750 schemes are case-insensitive; the token itself is not."""
    headers = {**ACCEPT, "Authorization": f"{scheme} {TEST_TOKEN}"}
    answer = await http.post(served.url, json=RAW_INITIALIZE, headers=headers)
    assert answer.status_code == 200
    upper = {**ACCEPT, "Authorization": f"{scheme} {TEST_TOKEN.upper()}"}
    assert (await http.post(served.url, json=RAW_INITIALIZE, headers=upper)).status_code == 401


async def test_a4_trailing_space_is_not_part_of_the_header(served: Served) -> None:
    """A4, pinned: HTTP strips whitespace around a field value (RFC 9110 5.5), so the server
    never sees a trailing space and `Bearer <token> ` is the right token."""
    port = httpx2.URL(served.url).port
    body = json.dumps(RAW_INITIALIZE).encode()
    request = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TEST_TOKEN} \r\n"
        f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    assert status_of(await raw_http(served.url, request + body)) == 200


def test_a5_the_token_is_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """A5: every comparison goes through hmac.compare_digest (constant time), on bytes."""
    calls: list[tuple[object, object]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(left: bytes, right: bytes) -> bool:
        calls.append((left, right))
        return real(left, right)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module http_auth calls
    assert http_auth.is_authorized([b"Bearer secret-token"], b"secret-token")
    assert not http_auth.is_authorized([b"bearer secret-tokeN"], b"secret-token")
    assert calls == [(b"secret-token", b"secret-token"), (b"secret-tokeN", b"secret-token")]
    assert not http_auth.is_authorized([], b"secret-token")
    assert not http_auth.is_authorized([b"Bearer secret-token"] * 2, b"secret-token")


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://evil.example", 403),
        ("null", 403),
        ("http://localhost.evil.example:80", 403),
        ("https://127.0.0.1:{port}", 403),  # another scheme is another origin
        ("http://localhost:{port}", 200),
        ("http://127.0.0.1:{port}", 200),
        (None, 200),
    ],
)
async def test_a6_origin_allow_list(
    served: Served, http: httpx2.AsyncClient, origin: str | None, status: int
) -> None:
    """A6: with a valid token, only loopback http origins (or none) get through."""
    headers = {**ACCEPT, **auth_headers()}
    if origin is not None:
        headers["Origin"] = origin.format(port=httpx2.URL(served.url).port)
    answer = await http.post(served.url, json=RAW_INITIALIZE, headers=headers)
    assert answer.status_code == status


async def test_a6_bad_origin_without_token_is_403_not_401(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """A6, pinned order: the Origin guard is outermost, so no token still means 403 here."""
    headers = {**ACCEPT, "Origin": "http://evil.example"}
    answer = await http.post(served.url, json=RAW_INITIALIZE, headers=headers)
    assert answer.status_code == 403 and "www-authenticate" not in answer.headers


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example:{port}", 421),
        ("evil.example", 421),
        ("127.0.0.1.evil.example:{port}", 421),
        ("localhost:{port}", 200),
        ("127.0.0.1:{port}", 200),
    ],
)
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
async def test_a7_host_allow_list(
    served: Served, http: httpx2.AsyncClient, host: str, status: int, with_token: bool
) -> None:
    """A7: a foreign Host is 421 (before auth, so with or without a token)."""
    headers = {**ACCEPT, "Host": host.format(port=httpx2.URL(served.url).port)}
    if with_token:
        headers |= auth_headers()
    answer = await http.post(served.url, json=RAW_INITIALIZE, headers=headers)
    assert answer.status_code == (status if with_token or status != 200 else 401)


@pytest.mark.parametrize(("version", "status"), [("1.0", 421), ("1.1", 400)])
async def test_a7_no_host_header_is_rejected(served: Served, version: str, status: int) -> None:
    """A7: no Host at all: HTTP/1.0 meets the guard (421); HTTP/1.1 fails to parse (400)."""
    request = (
        f"POST /mcp HTTP/{version}\r\nAuthorization: Bearer {TEST_TOKEN}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert status_of(await raw_http(served.url, request.encode())) == status
    await assert_alive(served.url)


@pytest.mark.parametrize(
    ("origin", "status"), [("http://evil.example", 403), ("http://localhost:{port}", 401)]
)
async def test_a8_cors_preflight_never_allows_an_origin(
    served: Served, http: httpx2.AsyncClient, origin: str, status: int
) -> None:
    """A8: a preflight gets no Access-Control-Allow-Origin (foreign: 403; local: 401, since
    browsers send no credentials on a preflight); nor does an ordinary answer."""
    headers = {
        "Origin": origin.format(port=httpx2.URL(served.url).port),
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    preflight = await http.options(served.url, headers=headers)
    assert preflight.status_code == status
    assert not any(name.startswith("access-control-") for name in preflight.headers)
    ordinary = await http.post(
        served.url, json=RAW_INITIALIZE, headers={**ACCEPT, **auth_headers()}
    )
    assert ordinary.status_code == 200 and "access-control-allow-origin" not in ordinary.headers


async def test_healthz_needs_no_token_and_reveals_nothing(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """/healthz answers load balancers whatever Host they send, with liveness only."""
    answer = await http.get(f"{served.base}/healthz", headers={"Host": "10.0.0.7:8765"})
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert (await http.post(f"{served.base}/healthz")).status_code == 405


async def test_s5_inbound_token_is_never_forwarded_upstream(served: Served) -> None:
    """S5: upstream requests carry the Kimi key only, never the client's bearer token."""
    served.emulator.reset()
    with anyio.fail_after(START_TIMEOUT * 2):
        async with mcp_http_client(served.url) as client:
            answer = await client.call_tool("ask_kimi", {"prompt": "forwarding check"})
            assert not answer.is_error
            await client.call_tool("check_balance", {})
    assert len(served.emulator.requests) >= 2
    for request in served.emulator.requests:
        assert request.headers["authorization"] == f"Bearer {CANARY_KEY}"
        assert all(TEST_TOKEN not in value for value in request.headers.values())
        assert TEST_TOKEN.encode() not in request.body
    assert TEST_TOKEN not in served.log.text


async def test_websocket_upgrade_is_plain_http_and_needs_the_token(served: Served) -> None:
    """No WebSocket protocol is loaded: an upgrade is an ordinary request, so 401 without token;
    and no Server header names the stack."""
    port = httpx2.URL(served.url).port
    request = (
        f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade, close\r\n"
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    answer = await raw_http(served.url, request.encode())
    assert status_of(answer) == 401
    assert b"\r\nserver:" not in answer.lower()
    await assert_alive(served.url)


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/mcp",
        "/.well-known/openid-configuration",
    ],
)
async def test_oauth_discovery_paths_answer_404_without_a_token(
    served: Served, http: httpx2.AsyncClient, path: str
) -> None:
    """A client refused with 401 looks for OAuth metadata next: a 404 tells it there is none
    (a 401 there sent the Inspector into an OAuth login), and the body names the header."""
    answer = await http.get(f"{served.base}{path}")
    assert answer.status_code == 404
    assert "Authorization: Bearer <KIMI_MCP_AUTH_TOKEN>" in answer.json()["error_description"]
    with_token = await http.get(f"{served.base}{path}", headers=auth_headers())
    assert with_token.status_code == 404


async def test_401_body_says_in_one_sentence_how_to_pass_the_token(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """What a client shows of a 401 tells the user what to configure; the challenge stays."""
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        answer = await http.post(served.url, json=RAW_INITIALIZE, headers={**ACCEPT, **headers})
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith('Bearer realm="kimi-mcp"')
        description = answer.json()["error_description"]
        assert "Authorization: Bearer <KIMI_MCP_AUTH_TOKEN>" in description
        assert "bearer token" in description and description.count(". ") == 0


async def test_oauth_discovery_paths_keep_the_host_guard(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """The 404 is behind the Host/Origin guard like everything else: a foreign Host is 421."""
    path = f"{served.base}/.well-known/oauth-protected-resource"
    assert (await http.get(path, headers={"Host": "evil.example"})).status_code == 421
