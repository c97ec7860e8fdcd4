"""Serving an emulator over HTTP: uvicorn as a guest in the caller's event loop, on a socket of
its own (`serve_emulator`), or until cancelled for `kimi-mcp emulator` (`run_emulator`)."""

import asyncio
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import uvicorn

from kimi_mcp.emulator.app import Emulator
from kimi_mcp.emulator.pacing import InjectedReset

logger = logging.getLogger("kimi_mcp.emulator")  # the package's name, as before the layout
SHUTDOWN_GRACE = 1  # seconds uvicorn waits for open connections before cancelling them
UVICORN: dict[str, Any] = {"log_level": "warning", "log_config": None, "lifespan": "off"}
UVICORN |= {"access_log": False, "http": "h11", "ws": "none", "server_header": False}


class NotLoopback(ValueError):
    """A host that is not loopback: the emulator's admin routes have no authentication."""


def require_loopback(host: str) -> None:
    """Refuse any host but loopback: anyone who reaches /_emulator/ can queue faults, reset the
    state and read every recorded request (keys included)."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: only "localhost" is known to stay on this machine
        loopback = False
    if not loopback:
        raise NotLoopback(
            f"the emulator serves on loopback only (127.0.0.1, ::1 or localhost), not {host!r}: "
            "its admin routes under /_emulator/ take faults, reset state and show recorded "
            "requests to anyone, with no authentication"
        )


class _QuietResets(logging.Filter):
    """Drops uvicorn's traceback for the resets the emulator injects on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


_QUIET_RESETS = _QuietResets()


class _Server(uvicorn.Server):
    """uvicorn as a guest in the caller's event loop: no signal handlers, and events instead
    of a 0.1 s poll for "started" and "stop"."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready, self._exit = asyncio.Event(), asyncio.Event()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the host program owns SIGINT and SIGTERM

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()  # also on failure, so that nobody waits for a dead server

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the Date header
        await self._exit.wait()

    def stop(self) -> None:
        self.should_exit = True
        self._exit.set()


@asynccontextmanager
async def serve_emulator(
    emulator: Emulator, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve `emulator` on `host:port` (0 = any free port) in the current event loop.

    Yields the base URL, e.g. "http://127.0.0.1:43117/v1". On exit, open streams are cut and
    uvicorn gets `SHUTDOWN_GRACE` seconds before its tasks are cancelled. One server per
    emulator at a time; uvicorn leaves the host's logging configuration alone.

    Raises:
        NotLoopback: `host` is not a loopback address (the admin routes have no auth).
        OSError: the port cannot be bound (EADDRINUSE when it is taken).
    """
    require_loopback(host)
    logging.getLogger("uvicorn.error").addFilter(_QUIET_RESETS)
    sock = _listen(host, port)
    config = uvicorn.Config(emulator.app, timeout_graceful_shutdown=SHUTDOWN_GRACE, **UVICORN)
    server = _Server(config)
    emulator._stopping = stopping = anyio.Event()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        with anyio.fail_after(10):
            await server.ready.wait()
        if task.done() or not server.started:
            await task  # raises the start-up error
        bracketed = f"[{host}]" if ":" in host else host
        yield f"http://{bracketed}:{sock.getsockname()[1]}/v1"
    finally:
        stopping.set()
        server.stop()
        await _finish(task)
        sock.close()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on such sockets, and without it every
    # keep-alive request waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


async def _finish(task: "asyncio.Task[None]") -> None:
    """Wait (bounded, shielded from cancellation) for uvicorn to stop."""
    with anyio.CancelScope(shield=True):
        await asyncio.wait({task}, timeout=SHUTDOWN_GRACE + 1)
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        logger.warning("the emulator's server stopped with an error", exc_info=task.exception())


async def run_emulator(
    *, host: str, port: int, api_key: str, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve a fresh emulator until cancelled (`kimi-mcp emulator`); `on_ready` gets the URL."""
    async with serve_emulator(Emulator(api_key=api_key), host=host, port=port) as url:
        if on_ready is not None:
            on_ready(url)
        await anyio.sleep_forever()
