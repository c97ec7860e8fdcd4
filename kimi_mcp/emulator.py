"""A local stand-in for the Moonshot Kimi HTTP API, written from kimi-api.md alone.

It serves `kimi-mcp demo`, `kimi-mcp emulator`, the tests and the benchmarks. It imports nothing
from the rest of kimi_mcp, so that it cannot share the client's mistakes (house style 0.6).
"""

import asyncio
import builtins
import json
import logging
import mimetypes
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kimi_mcp import emulator_catalogue as rules
from kimi_mcp import emulator_wire as wire
from kimi_mcp.emulator_wire import Fault as Fault

logger = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[wire.Reply]]
PURPOSES = ("file-extract", "image", "video", "batch")  # the 2026 OpenAPI list (section 2.5)
SHUTDOWN_GRACE = 1  # seconds uvicorn waits for open connections before cancelling them
UVICORN: dict[str, Any] = {"log_level": "warning", "log_config": None, "lifespan": "off"}
UVICORN |= {"access_log": False, "http": "h11", "ws": "none", "server_header": False}


@dataclass(frozen=True)
class RecordedRequest:
    """One API request as the emulator received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any | None  # the parsed body when it is JSON
    form: dict[str, str] | None  # the non-file fields of a multipart body
    time: float  # time.monotonic() on arrival


@dataclass
class StoredFile:
    """A file uploaded to the emulator."""

    id: str
    filename: str
    bytes: int
    purpose: str
    created_at: int
    status: str
    content: builtins.bytes

    def as_json(self) -> dict[str, Any]:
        """The File object of section 2.5."""
        fields = {k: v for k, v in vars(self).items() if k != "content"}
        return fields | {"object": "file", "status_details": ""}


@dataclass(frozen=True)
class Disconnect:
    """A paced answer (a chat stream, or a slow or dripping body) the client left before its end."""

    path: str
    time: float  # time.monotonic() when the emulator noticed
    chunks_sent: int  # body pieces written before (SSE events for a stream)


@dataclass
class _Queued:
    fault: Fault
    left: int


class Emulator:
    """The Kimi API in one object: the ASGI `app`, what it received, and the faults it will play.

    `balance` is (cash, voucher); `max_files` and `max_file_bytes` may be lowered for tests.
    """

    max_files = 1000
    max_file_bytes = 100 * 1024 * 1024

    def __init__(
        self,
        *,
        api_key: str = "sk-emulator-key",
        models: list[dict[str, Any]] | None = None,
        balance: tuple[float, float] = (3.00001, 46.58893),
        stream_delay: float = 0.0,
        chunk_chars: int = 16,
    ) -> None:
        self.api_key, self.models = api_key, rules.model_entries(models)
        self.cash_balance, self.voucher_balance = balance
        self.stream_delay, self.chunk_chars = stream_delay, max(1, chunk_chars)
        self.reply: Callable[[list[dict[str, Any]]], str] | None = None
        self.requests: list[RecordedRequest] = []
        self.rejections: list[tuple[str, int, str]] = []  # (path, status, message) refused
        self.files: dict[str, StoredFile] = {}
        self.disconnects: list[Disconnect] = []
        self.peak_streams = 0  # the most SSE answers open at once since the last reset
        self._streams = 0
        self._faults: list[_Queued] = []
        self._waiters: list[anyio.Event] = []  # wait_disconnects callers
        self._previous: list[dict[str, Any]] | None = None  # the last prompt, for cached_tokens
        self._stopping: anyio.Event | None = None
        self._uid = _new_id()
        self.app = _Api(self).app()

    def inject(self, fault: Fault) -> None:
        """Queue `fault` behind the ones already queued."""
        self._faults.append(_Queued(fault, fault.times))

    def reset(self) -> None:
        """Forget requests, faults and disconnects (files, models and balance stay)."""
        self.requests.clear()
        self.rejections.clear()
        self._faults.clear()
        self.disconnects.clear()
        self._previous, self.peak_streams = None, self._streams

    def balance_set(self, cash: float, voucher: float) -> None:
        self.cash_balance, self.voucher_balance = cash, voucher

    @property
    def balance(self) -> tuple[float, float]:
        """(cash, voucher), as given to the constructor and `balance_set`."""
        return self.cash_balance, self.voucher_balance

    @property
    def available_balance(self) -> float:
        """Cash + voucher, or only the voucher while cash is negative (section 2.4)."""
        return round(self.voucher_balance + max(self.cash_balance, 0.0), 5)

    def count_tokens(self, messages: list[dict[str, Any]]) -> int:
        """The emulator's tokenizer (see `emulator_catalogue.count_tokens`)."""
        return rules.count_tokens(messages)

    async def wait_disconnects(self, count: int = 1) -> list[Disconnect]:
        """Wait until `count` disconnects are recorded (bound it with a timeout)."""
        while len(self.disconnects) < count:
            self._waiters.append(event := anyio.Event())
            await event.wait()
        return list(self.disconnects)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for queued in self._faults:
            if queued.fault.matches(method, path):
                queued.left -= 1
                if not queued.left:
                    self._faults.remove(queued)
                return queued.fault
        return None

    def _pacing(self, path: str) -> wire.Pacing:
        gap, left = (lambda: self.stream_delay), (lambda sent: self._left(path, sent))
        return wire.Pacing(gap, left, self._stopping, self._count_stream)

    def _left(self, path: str, sent: int) -> None:
        self.disconnects.append(Disconnect(path, time.monotonic(), sent))
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    def _count_stream(self, delta: int) -> None:
        self._streams += delta
        self.peak_streams = max(self.peak_streams, self._streams)


class _Api:
    """The routes of section 2, each answering a `Reply` or raising `Rejection`, and the admin
    routes (loopback only: no auth, not recorded, no faults)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    def app(self) -> Starlette:
        api = [
            ("/v1/models", "GET", self.models),
            ("/v1/chat/completions", "POST", self.chat),
            ("/v1/tokenizers/estimate-token-count", "POST", self.estimate),
            ("/v1/users/me/balance", "GET", self.balance),
            ("/v1/files", "POST", self.upload),
            ("/v1/files", "GET", self.list_files),
            ("/v1/files/{file_id}", "GET", self.file_info),
            ("/v1/files/{file_id}", "DELETE", self.delete_file),
            ("/v1/files/{file_id}/content", "GET", self.file_content),
        ]
        routes = [Route(path, self._endpoint(run), methods=[verb]) for path, verb, run in api]
        admin = [("faults", self.add_fault), ("reset", self.reset), ("config", self.config)]
        routes += [Route(f"/_emulator/{name}", run, methods=["POST"]) for name, run in admin]
        routes.append(Route("/_emulator/requests", self.recorded, methods=["GET"]))
        handlers = {404: self._not_found, 405: self._not_found}
        app = Starlette(routes=routes, exception_handlers=handlers)
        app.router.redirect_slashes = False  # the real gateway answers 404, not a redirect
        return app

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            return await self._answer(request, lambda: self._authorized(request, handler))

        return run

    async def _answer(
        self, request: Request, produce: Callable[[], Awaitable[wire.Reply]]
    ) -> Response:
        """Record the request, then answer a fault that replaces the answer, or the answer
        shaped by the fault that alters it, with the 6.8 headers."""
        started = time.monotonic()
        self.emu.requests.append(await _record(request, started))
        fault = self.emu._take_fault(request.method, request.url.path)
        if fault is not None and fault.kind in wire.ANSWERING_KINDS:
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

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        """Unknown routes and wrong methods get the gateway's shape, not Kimi's (section 4)."""
        body = {"code": 5, "error": "url.not_found", "message": "没找到对象"}
        body |= {"method": request.method, "scode": "0x5", "status": False}
        body |= {"ua": request.headers.get("user-agent", ""), "url": request.url.path}
        if request.url.path.startswith("/_emulator/"):
            return JSONResponse(body, 404)

        async def produce() -> wire.Reply:
            return wire.json_reply(body, 404)

        return await self._answer(request, produce)

    async def models(self, request: Request) -> wire.Reply:
        return wire.json_reply({"object": "list", "data": self.emu.models})

    async def chat(self, request: Request) -> wire.Reply:
        emu = self.emu
        chat = rules.check_chat(await _json(request), emu.models, self._purposes())
        if emu.available_balance <= 0:
            credit = f"<org-emulator> {emu.available_balance:g}"
            message = f"You exceeded your current token quota: {credit}, please check your "
            raise rules.Rejection(message + "account balance", 429, "exceeded_current_quota_error")
        default = f"Emulated {chat.model} reply: {wire.last_user_text(chat.messages)}"
        answer = wire.compose(emu.reply(chat.messages) if emu.reply else default, chat)
        cached, emu._previous = rules.cached_tokens(emu._previous, chat.messages), chat.messages
        usage = {"prompt_tokens": chat.prompt_tokens, "completion_tokens": answer.completion_tokens}
        usage |= {"total_tokens": sum(usage.values()), "cached_tokens": cached}
        cid = f"cmpl-{uuid.uuid4().hex}"
        if not chat.stream:
            return wire.json_reply(wire.chat_completion(cid, chat.model, answer, usage))
        size, include = emu.chunk_chars, chat.include_usage
        events = wire.chat_events(cid, chat.model, answer, usage, size, include)
        return wire.Reply(media_type=wire.SSE_TYPE, events=events)

    async def estimate(self, request: Request) -> wire.Reply:
        body = rules.check_fields(await _json(request), frozenset({"model", "messages"}))
        model = rules.find_model(self.emu.models, body.get("model"))
        messages = rules.check_messages(body.get("messages"), model, self._purposes())
        return wire.json_reply({"data": {"total_tokens": self.emu.count_tokens(messages)}})

    async def balance(self, request: Request) -> wire.Reply:
        emu = self.emu
        data = {"available_balance": emu.available_balance, "voucher_balance": emu.voucher_balance}
        data["cash_balance"] = emu.cash_balance
        return wire.json_reply({"code": 0, "data": data, "scode": "0x0", "status": True})

    async def upload(self, request: Request) -> wire.Reply:
        form = await _form(request)
        purpose, upload = form.get("purpose"), form.get("file")
        if purpose not in PURPOSES:  # the docs' stale text, still served in 2026 (section 4)
            raise rules.Rejection("Invalid purpose: only 'file-extract' accepted")
        if not isinstance(upload, UploadFile):
            raise rules.bad("a file field is required")
        content = await upload.read()
        self._check_upload(len(content))
        name, now = upload.filename or "file", int(time.time())
        stored = StoredFile(_new_id(), name, len(content), str(purpose), now, "ok", content)
        self.emu.files[stored.id] = stored
        return wire.json_reply(stored.as_json())

    def _check_upload(self, size: int) -> None:
        if len(self.emu.files) >= self.emu.max_files:
            count = f"the max file count {self.emu.max_files}"
            raise rules.Rejection(
                f"The number of files you have uploaded exceeded {count}, please delete previous "
                "uploaded files"
            )
        if not size:
            raise rules.Rejection("File size is zero, please confirm and re-upload the file")
        if size > self.emu.max_file_bytes:
            limit = "max file size is 100MB"
            raise rules.Rejection(
                f"File size is too large, {limit}, please confirm and re-upload the file"
            )

    async def list_files(self, request: Request) -> wire.Reply:
        files = [stored.as_json() for stored in self.emu.files.values()]
        return wire.json_reply({"object": "list", "data": files})

    async def file_info(self, request: Request) -> wire.Reply:
        return wire.json_reply(self._file(request).as_json())

    async def delete_file(self, request: Request) -> wire.Reply:
        stored = self.emu.files.pop(self._file(request).id)
        return wire.json_reply({"id": stored.id, "object": "file", "deleted": True})

    async def file_content(self, request: Request) -> wire.Reply:
        stored = self._file(request)
        if stored.purpose in ("image", "video"):
            raise rules.bad(f"no extracted content for {stored.purpose} files")
        mime = mimetypes.guess_type(stored.filename)[0] or "application/octet-stream"
        text = stored.content.decode(errors="replace")
        data = {"content": text, "file_type": mime, "filename": stored.filename, "title": ""}
        # Section 2.5: a JSON document served as text; clients put the raw string in a prompt.
        return wire.Reply(body=wire.dumps(data | {"type": "file"}), media_type="text/plain")

    def _file(self, request: Request) -> StoredFile:
        file_id = request.path_params["file_id"]
        if file_id not in self.emu.files:
            message = f"Not found the file {file_id} or Permission denied"
            raise rules.Rejection(message, 404, "resource_not_found_error")
        return self.emu.files[file_id]

    def _purposes(self) -> dict[str, str]:
        return {file_id: stored.purpose for file_id, stored in self.emu.files.items()}

    async def add_fault(self, request: Request) -> Response:
        try:
            fault = wire.fault_from_json(json.loads(await request.body()))
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


async def _record(request: Request, started: float) -> RecordedRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    body, form, parsed = await request.body(), None, None
    if headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            fields = (await _form(request)).multi_items()
            form = {key: value for key, value in fields if isinstance(value, str)}
        except rules.Rejection:
            form = None  # the endpoint answers the malformed body
    elif body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    return RecordedRequest(request.method, request.url.path, headers, body, parsed, form, started)


async def _form(request: Request) -> Any:
    """The multipart form (parsed once per request, then cached by Starlette)."""
    try:
        return await request.form(max_files=4, max_fields=16)
    except HTTPException as exc:  # Starlette's answer to a malformed multipart body
        raise rules.bad(f"malformed multipart body: {exc.detail}") from exc


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise rules.bad("the request body is not valid JSON") from exc


def _new_id() -> str:
    """Kimi-style ids: 20 lower-case alphanumerics, e.g. co3t989kqq4ua4e78urg (section 2.5)."""
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20))


class _QuietResets(logging.Filter):
    """Drops uvicorn's traceback for the resets the emulator injects on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], wire.InjectedReset))


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
    """
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
