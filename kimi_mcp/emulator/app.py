"""The emulator's Starlette app: the route table, and the gateway every API request passes
(recorded, faults played, bearer key checked, refusals turned into Kimi's error body); and the
`Emulator`, its state with this app over it.

Handlers live in `routes` (section 2) and `admin` (loopback only).
"""

import time
from collections.abc import Awaitable, Callable
from functools import cached_property

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kimi_mcp.emulator import formulas, rules, wire
from kimi_mcp.emulator.admin import AdminRoutes
from kimi_mcp.emulator.fault_spec import ANSWERING_KINDS
from kimi_mcp.emulator.requests import record_request
from kimi_mcp.emulator.routes import ApiRoutes, Handler
from kimi_mcp.emulator.state import EmulatorState


def build_app(emulator: EmulatorState) -> Starlette:
    """The routes of section 2, each answering a `Reply` or raising `Rejection`, and the admin
    routes (loopback only: no auth, not recorded, no faults)."""
    gateway, api, admin = _Gateway(emulator), ApiRoutes(emulator), AdminRoutes(emulator)
    table = [
        ("/v1/models", "GET", api.models),
        ("/v1/chat/completions", "POST", api.chat),
        ("/v1/tokenizers/estimate-token-count", "POST", api.estimate),
        ("/v1/users/me/balance", "GET", api.balance),
        ("/v1/files", "POST", api.upload),
        ("/v1/files", "GET", api.list_files),
        ("/v1/files/{file_id}", "GET", api.file_info),
        ("/v1/files/{file_id}", "DELETE", api.delete_file),
        ("/v1/files/{file_id}/content", "GET", api.file_content),
        ("/v1/formulas/{uri:path}/tools", "GET", formulas.tools),
        ("/v1/formulas/{uri:path}/fibers", "POST", formulas.fibers),
    ]
    routes = [Route(path, gateway.endpoint(run), methods=[verb]) for path, verb, run in table]
    routes += admin.routes()
    handlers = {404: gateway.not_found, 405: gateway.not_found}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.router.redirect_slashes = False  # the real gateway answers 404, not a redirect
    return app


class _Gateway:
    """What stands before every API handler, as Kimi's gateway does."""

    def __init__(self, emulator: EmulatorState) -> None:
        self.emu = emulator

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            return await self._answer(request, lambda: self._authorized(request, handler))

        return run

    async def _answer(
        self, request: Request, produce: Callable[[], Awaitable[wire.Reply]]
    ) -> Response:
        """Record the request, then answer a fault that replaces the answer, or the answer
        shaped by the fault that alters it, with the 6.8 headers."""
        started = time.monotonic()
        self.emu.record(await record_request(request, started))
        fault = self.emu._take_fault(request.method, request.url.path)
        if fault is not None and fault.kind in ANSWERING_KINDS:
            reply, fault = wire.fault_reply(fault), None
        else:
            reply = await produce()
        await request.close()  # an uploaded file may have spilled to a temporary file
        headers = wire.kimi_headers(self.emu._uid, started)
        return wire.render(reply, fault, self.emu._pacing(request.url.path), headers)

    async def _authorized(self, request: Request, handler: Handler) -> wire.Reply:
        header = request.headers.get("authorization")
        if not header:
            return wire.error_reply(401, "incorrect_api_key_error", "Incorrect API key provided")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.emu.api_key:
            return wire.error_reply(401, "invalid_authentication_error", "Invalid Authentication")
        try:
            return await handler(request)
        except rules.Rejection as exc:
            self.emu.rejections.append((request.url.path, exc.status, exc.message))
            return wire.error_reply(exc.status, exc.error_type, exc.message)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        """Unknown routes and wrong methods get the gateway's shape, not Kimi's (section 4)."""
        body = {"code": 5, "error": "url.not_found", "message": "没找到对象"}
        body |= {"method": request.method, "scode": "0x5", "status": False}
        body |= {"ua": request.headers.get("user-agent", ""), "url": request.url.path}
        if request.url.path.startswith("/_emulator/"):
            return JSONResponse(body, 404)

        async def produce() -> wire.Reply:
            return wire.json_reply(body, 404)

        return await self._answer(request, produce)


class Emulator(EmulatorState):
    """The Kimi API in one object: the ASGI `app`, what it received, and the faults it will play.

    `balance` is (cash, voucher); `max_files` and `max_file_bytes` may be lowered for tests.
    """

    @cached_property
    def app(self) -> Starlette:
        return build_app(self)
