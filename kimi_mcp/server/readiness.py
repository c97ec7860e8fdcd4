"""/readyz: whether this replica can serve, i.e. whether its store answers (not Kimi's API).

A load balancer probes every replica every few seconds, without a token, so the answer is one
short line that names no path, host or setting; the detail goes to the log, once per change.
The probe is bounded: a store that hangs (a SQLite file locked by another process waits up to
its busy timeout on a worker thread that cannot be cancelled) makes the answer "did not answer"
after `READY_TIMEOUT`, while the one probe in flight finishes in the background and is shared by
the requests that arrive meanwhile, so slow probes never pile up.
"""

import asyncio
import logging
from typing import Protocol

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from kimi_mcp.errors import KimiError

log = logging.getLogger(__name__)

READY_TIMEOUT = 2.0  # seconds; below haproxy's check timeout in deploy/haproxy.cfg
NOT_STARTED = "not ready: the server is still starting or already stopping"


class Checkable(Protocol):
    async def check(self) -> None:
        """Raise when the store cannot be used."""
        ...


class Readiness:
    """The stores of this process (registered by the server's lifespan), probed for /readyz."""

    def __init__(self) -> None:
        self._stores: tuple[Checkable, ...] = ()
        self._probe: asyncio.Task[tuple[str | None, str]] | None = None
        self._last: str | None = None

    def watch(self, *stores: Checkable) -> None:
        self._stores = stores

    def forget(self) -> None:
        self._stores = ()

    async def problem(self) -> str | None:
        """None when every store answered in time, else the one-line reason."""
        if not self._stores:
            return NOT_STARTED
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._check(self._stores))
        done, _ = await asyncio.wait({self._probe}, timeout=READY_TIMEOUT)
        if not done:
            late = f"not ready: the store did not answer within {READY_TIMEOUT:g} s"
            self._note(late, late)
            return late
        reason, detail = self._probe.result()
        self._note(reason, detail)
        return reason

    async def _check(self, stores: tuple[Checkable, ...]) -> tuple[str | None, str]:
        """The reason for the answer, and the detail for the log."""
        try:
            for store in stores:
                await store.check()
        except KimiError as exc:  # StoreError: names the store and the fix
            return "not ready: the store cannot be used (the server log says why)", str(exc)
        except Exception as exc:  # whatever a store's driver raises, the answer must be 503
            return "not ready: the store check failed (the server log says why)", repr(exc)
        return None, ""

    def _note(self, reason: str | None, detail: str) -> None:
        if reason == self._last:  # logged once per change: probes come every few seconds
            return
        if reason is None:
            log.warning("readiness: the store answers again; ready")
        else:
            log.warning("readiness: %s: %s", reason, detail)
        self._last = reason

    async def endpoint(self, _: Request) -> Response:
        reason = await self.problem()
        if reason is None:
            return PlainTextResponse("ready\n")
        return PlainTextResponse(reason + "\n", status_code=503)
