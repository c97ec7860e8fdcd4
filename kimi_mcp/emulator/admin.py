"""The emulator's admin routes under /_emulator/ (loopback only: no auth, not recorded, no
faults): queue a fault, reset, read the recorded requests, change the configuration."""

import json
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kimi_mcp.emulator.fault_spec import fault_from_json
from kimi_mcp.emulator.state import EmulatorState


class AdminRoutes:
    """The /_emulator/ handlers of one emulator."""

    def __init__(self, emulator: EmulatorState) -> None:
        self.emu = emulator

    def routes(self) -> list[Route]:
        admin = [("faults", self.add_fault), ("reset", self.reset), ("config", self.config)]
        routes = [Route(f"/_emulator/{name}", run, methods=["POST"]) for name, run in admin]
        routes.append(Route("/_emulator/requests", self.recorded, methods=["GET"]))
        return routes

    async def add_fault(self, request: Request) -> Response:
        try:
            fault = fault_from_json(json.loads(await request.body()))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        self.emu.inject(fault)
        return JSONResponse({"queued": asdict(fault)})

    async def reset(self, request: Request) -> Response:
        self.emu.reset()
        return JSONResponse({"ok": True})

    async def recorded(self, request: Request) -> Response:
        text = [asdict(r) | {"body": r.body.decode(errors="replace")} for r in self.emu.requests]
        return JSONResponse(text)

    async def config(self, request: Request) -> Response:
        """{"stream_delay": seconds, "reply": fixed answer or null, "balance": [cash, voucher]}.

        Answers {"ok": true, "peak_streams": n}: `{}` reads the peak without changing anything."""
        try:
            data = json.loads(await request.body())
            delay = float(data.get("stream_delay", self.emu.stream_delay))
            balance = [float(v) for v in data.get("balance", self.emu.balance)]
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        self.emu.stream_delay = delay
        self.emu.balance_set(*balance[:2])
        if "reply" in data:
            text = data["reply"]
            self.emu.reply = None if text is None else lambda _messages: str(text)
        return JSONResponse({"ok": True, "peak_streams": self.emu.peak_streams})
