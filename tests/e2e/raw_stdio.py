"""kimi-mcp as a stdio child spoken to in raw bytes: no SDK client in between, so a test can send
what no well-behaved client would, and read every byte the server writes on stdout."""

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

from tests.e2e.conftest import RAW_INITIALIZE, START_TIMEOUT, ServerLog

# Waits only detect a hang (the contract keeps speed targets out of assertions); this one also
# covers a cold start, since the first answer of a fresh child waits for its imports.
ANSWER_TIMEOUT = START_TIMEOUT

Message = dict[str, Any]


def line(message: object) -> bytes:
    return (json.dumps(message) + "\n").encode()


class RawStdio:
    """One child process: raw writes to its stdin, its stdout split into lines as they arrive."""

    def __init__(self, process: Process, log: ServerLog) -> None:
        self.process, self.log = process, log
        self.partial = bytearray()  # stdout after the last newline
        self.messages: list[Message] = []  # every stdout line, parsed, in order
        self.not_json_rpc: list[bytes] = []  # lines that are not a JSON-RPC message
        self.by_id: dict[str, list[Message]] = {}  # responses, by the JSON text of their id
        self._changed = anyio.Event()
        self._next_probe = 0
        self._writing = anyio.Lock()  # one writer at a time, so that lines never interleave

    async def read_stdout(self) -> None:
        assert self.process.stdout is not None
        async for chunk in self.process.stdout:
            self.partial += chunk
            *done, rest = self.partial.split(b"\n")
            self.partial = bytearray(rest)
            for raw in done:
                self._take(raw)
            self._changed.set()
            self._changed = anyio.Event()

    def _take(self, raw: bytearray) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            self.not_json_rpc.append(bytes(raw[:200]))
            return
        self.messages.append(message)
        if "id" in message and ("result" in message or "error" in message):
            self.by_id.setdefault(id_key(message["id"]), []).append(message)

    async def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        async with self._writing:
            await self.process.stdin.send(data)

    async def wait_for(self, request_id: object) -> Message:
        """The first response carrying `request_id` (compared as JSON, so 1 and "1" differ)."""
        with anyio.fail_after(ANSWER_TIMEOUT):
            while not (answers := self.by_id.get(id_key(request_id))):
                await self._changed.wait()
        return answers[0]

    async def initialize(self) -> Message:
        await self.send(line(RAW_INITIALIZE))
        answer = await self.wait_for(RAW_INITIALIZE["id"])
        await self.send(line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        return answer

    async def probe(self) -> Message:
        """Liveness: `list_models` under a fresh id, answered with a model list in time."""
        self._next_probe += 1
        probe_id = f"probe-{self._next_probe}"
        params = {"name": "list_models", "arguments": {}}
        await self.send(
            line({"jsonrpc": "2.0", "id": probe_id, "method": "tools/call", "params": params})
        )
        answer = await self.wait_for(probe_id)
        result = answer.get("result")
        assert isinstance(result, dict) and not result.get("isError"), answer
        assert result["structuredContent"]["models"], answer
        return answer


def id_key(request_id: object) -> str:
    return json.dumps(request_id)


def stdio_command() -> list[str]:
    return [sys.executable, "-m", "kimi_mcp"]


@asynccontextmanager
async def raw_stdio(env: dict[str, str], workdir: Path) -> AsyncIterator[RawStdio]:
    """Start `python -m kimi_mcp`; on exit close stdin (EOF) and wait for a clean exit."""
    log = ServerLog()
    process = await anyio.open_process(stdio_command(), env=env, cwd=str(workdir))
    async with process, anyio.create_task_group() as group:
        session = RawStdio(process, log)
        group.start_soon(log.drain, process)
        group.start_soon(session.read_stdout)
        try:
            yield session
        finally:
            with anyio.CancelScope(shield=True):
                assert process.stdin is not None
                await process.stdin.aclose()
                with anyio.move_on_after(START_TIMEOUT):
                    await process.wait()
                if process.returncode is None:  # only after a test already failed
                    process.kill()
                    await process.wait()
