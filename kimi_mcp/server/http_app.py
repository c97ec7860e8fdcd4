"""Streamable HTTP: the SDK app at /mcp behind Host/Origin and bearer checks, plus /healthz
(liveness) and /readyz (the store answers), both open to load balancers."""

import ipaddress
import logging
import socket
import sys
from collections.abc import Mapping

import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kimi_mcp.config import Settings
from kimi_mcp.errors import ConfigError
from kimi_mcp.server.build import build_server
from kimi_mcp.server.http_auth import (
    MIN_TOKEN_CHARS,
    AccessGuard,
    generate_token,
    token_problem,
)
from kimi_mcp.server.http_sessions import make_room_for_new_sessions
from kimi_mcp.server.readiness import Readiness
from kimi_mcp.store.conversations import DEFAULT_OWNER

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# Load balancers probe these without a token or a known Host.
OPEN_PATHS = ("/healthz", "/readyz")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def security_for(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: only loopback Host and Origin values unless configured."""
    hosts = settings.allowed_hosts or [f"{name}:*" for name in LOOPBACK_NAMES]
    origins = settings.allowed_origins or [f"http://{name}:*" for name in LOOPBACK_NAMES]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


async def healthz(_: Request) -> Response:
    """Liveness only: no version, no settings, nothing about the upstream."""
    return JSONResponse({"status": "ok"})


def build_http_app(settings: Settings, tokens: Mapping[str, str]) -> Starlette:
    """The SDK app plus /healthz, behind the Host/Origin guard and the bearer check;
    `tokens` maps each bearer token to the owner of the conversations it may see."""
    security = security_for(settings)
    readiness = Readiness()
    server = build_server(
        settings,
        inbound_tokens=tuple(tokens),
        clients_set_log_level=False,
        readiness=readiness,
    )
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security,
        host=settings.host,
        session_idle_timeout=settings.http_session_idle,
        max_sessions=settings.http_max_sessions,
    )
    make_room_for_new_sessions(server.session_manager)
    app.add_route("/healthz", healthz, methods=["GET"])
    app.add_route("/readyz", readiness.endpoint, methods=["GET"])
    # Host/Origin first, then the token, in one layer: see http_auth for why in that order.
    app.add_middleware(AccessGuard, security=security, tokens=tokens, open_paths=OPEN_PATHS)
    return app


def resolve_tokens(settings: Settings) -> tuple[dict[str, str], bool]:
    """The inbound bearer tokens with their owners, and whether the one token was generated.

    `auth_token` belongs to the default owner, each key of `auth_tokens` to the owner it names;
    with neither, one token is generated for this run (the default owner's).

    Raises:
        ConfigError: a configured token is unusable or equals the Kimi API key.
    """
    tokens: dict[str, str] = {}
    if settings.auth_token is not None:
        tokens[_checked(settings, settings.auth_token, "KIMI_MCP_AUTH_TOKEN")] = DEFAULT_OWNER
    for key, owner in (settings.auth_tokens or {}).items():
        token = _checked(settings, key, "KIMI_MCP_AUTH_TOKENS")
        if token in tokens:
            raise ConfigError("auth_token is also a key of auth_tokens: give each client one token")
        tokens[token] = owner
    if not tokens:
        return {generate_token(): DEFAULT_OWNER}, True
    return tokens, False


def _checked(settings: Settings, secret: SecretStr, where: str) -> str:
    token = secret.get_secret_value()
    problem = token_problem(token)
    if problem is not None:
        raise ConfigError(f"{problem} ({where})")
    if settings.api_key is not None and token == settings.api_key.get_secret_value():
        # Clients would hold the Kimi key itself, and it would sit in their config files.
        raise ConfigError(
            f"an HTTP token ({where}) must not be the Kimi API key: "
            "choose a separate random token, e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'"
        )
    if len(token) < MIN_TOKEN_CHARS:
        log.warning(
            "a token of %s is shorter than %d characters: easy to guess", where, MIN_TOKEN_CHARS
        )
    return token


def check_binding(settings: Settings, generated: bool) -> None:
    """Loopback is always fine; beyond it, only with a configured token and Host allow-list.

    Raises:
        ConfigError: a non-loopback host without a configured token (KIMI_MCP_AUTH_TOKEN or
            KIMI_MCP_AUTH_TOKENS) or without KIMI_MCP_ALLOWED_HOSTS.
    """
    if is_loopback(settings.host):
        return
    if generated:
        raise ConfigError(
            f"refusing to serve on {settings.host} (beyond loopback) without a configured token: "
            "set KIMI_MCP_AUTH_TOKEN or KIMI_MCP_AUTH_TOKENS (and KIMI_MCP_ALLOWED_HOSTS), or "
            "serve on 127.0.0.1"
        )
    if not settings.allowed_hosts:
        # The loopback default would refuse every remote client, and no list at all would
        # reopen DNS rebinding: the names clients use must be spelled out.
        raise ConfigError(
            f"refusing to serve on {settings.host} without KIMI_MCP_ALLOWED_HOSTS: list the "
            "Host values clients will send, e.g. KIMI_MCP_ALLOWED_HOSTS=kimi.example.lan:8765"
        )
    if not settings.request_state_keys:
        log.warning(
            "serving on %s without request_state_keys: a 2026-era request that needs a second "
            "round trip can only resume on this process; behind a load balancer set the same "
            "KIMI_MCP_REQUEST_STATE_KEYS on every replica (README: Team deployment)",
            settings.host,
        )
    log.warning(
        "serving on %s, beyond loopback: anyone who can reach this port and holds the token can "
        "spend your Kimi credit, and plain HTTP shows the token to the network; put a TLS "
        "reverse proxy in front",
        settings.host,
    )


def _announce_token(token: str) -> None:
    # Printed once, before the "serving" line, so whoever started the server can copy it.
    sys.stderr.write(
        f"kimi-mcp: bearer token for this run: {token}\n"
        "kimi-mcp: clients send it as 'Authorization: Bearer <token>'; set KIMI_MCP_AUTH_TOKEN "
        "to keep one token across restarts\n"
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio then sets TCP_NODELAY (else ~40 ms per keep-alive request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve_http(settings: Settings) -> None:
    tokens, generated = resolve_tokens(settings)
    check_binding(settings, generated)
    app = build_http_app(settings, tokens)
    sock = _bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        # h11 explicitly (httptools, if installed, has other limits): a request head over
        # 16 KiB is answered 400 and the connection closed.
        http="h11",
        h11_max_incomplete_event_size=16 * 1024,
        ws="none",  # no WebSocket route exists; an upgrade request is served as plain HTTP
        server_header=False,  # nothing about the stack to anyone who can reach the port
    )
    if generated:
        _announce_token(next(iter(tokens)))
    # The real port (the setting may be 0) on stderr, for people and for the tests.
    sys.stderr.write(f"kimi-mcp: serving MCP at http://{settings.host}:{port}/mcp\n")
    sys.stderr.flush()
    await uvicorn.Server(config).serve(sockets=[sock])
