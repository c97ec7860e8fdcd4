"""A real Redis for the tests that claim Redis: Debian's `redis-server`, started on a free
loopback port in its own temporary directory, stopped by pid. No fake Redis anywhere.

Without `redis-server` on the machine the tests that need it are skipped, except under CI
(`CI=true`), where `.ci/run` installs it and a missing server is a failure.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_SECONDS = 10.0


@dataclass
class RedisServer:
    """One running redis-server: its URL, its pid, and how to stop and start it again."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_ping(self.port, self.process)

    def stop(self) -> None:
        """Stop it by pid (SIGTERM, then SIGKILL), as a crash or an operator would."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=START_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=START_SECONDS)

    def flush(self) -> None:
        _command(self.port, b"FLUSHALL")


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def require_redis() -> None:
    if redis_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("redis-server is missing: .ci/run installs it (apt-get install redis-server)")
    pytest.skip("needs Debian's redis-server (apt-get install redis-server)")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis for the session; `redis_url` flushes it before each test."""
    require_redis()
    server = RedisServer(_free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if redis_server.process is None:  # a test stopped it: give the next one a live server
        redis_server.start()
    redis_server.flush()
    return redis_server.url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _command(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        connection.sendall(command + b"\r\n")
        return connection.recv(64)


def _wait_for_ping(port: int, process: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + START_SECONDS
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode} at start")
        try:
            if _command(port, b"PING").startswith(b"+PONG"):
                return
        except OSError:
            pass
        time.sleep(0.02)  # polling a starting server's port: nothing to wait on instead
    process.kill()
    raise RuntimeError(f"redis-server did not answer PING within {START_SECONDS:g} s")
