"""Streamable HTTP: the SDK app at /mcp with Host/Origin protection, plus /healthz."""

import ipaddress
import logging
import socket
import sys

import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kimi_mcp.config import Settings
from kimi_mcp.errors import ConfigError
from kimi_mcp.server import build_server

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


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


def build_http_app(settings: Settings) -> Starlette:
    app = build_server(settings).streamable_http_app(
        streamable_http_path="/mcp", transport_security=security_for(settings), host=settings.host
    )
    app.add_route("/healthz", healthz, methods=["GET"])
    return app


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
    if not is_loopback(settings.host):
        raise ConfigError(
            f"refusing to serve on {settings.host}: this version serves HTTP on loopback only "
            "(there is no inbound authentication yet). Use 127.0.0.1 behind a reverse proxy."
        )
    app = build_http_app(settings)
    sock = _bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level=settings.log_level.lower(), access_log=False, lifespan="on"
    )
    # The real port (the setting may be 0) on stderr, for people and for the tests.
    sys.stderr.write(f"kimi-mcp: serving MCP at http://{settings.host}:{port}/mcp\n")
    sys.stderr.flush()
    await uvicorn.Server(config).serve(sockets=[sock])
