"""Fixtures of the emulator's tool tests: one emulator on loopback per module, reset per test, and
a raw HTTP client to it (shared by every emulator test module that drives it over raw HTTP)."""

from collections.abc import AsyncIterator

import httpx2
import pytest

from kimi_mcp.emulator import Emulator, serve_emulator

KEY = "sk-emulator-key"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module scope: one emulator serves the whole module


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[tuple[Emulator, str]]:
    emulator = Emulator()
    async with serve_emulator(emulator) as url:
        yield emulator, url


@pytest.fixture
def emu(served: tuple[Emulator, str]) -> Emulator:
    emulator = served[0]
    emulator.reset()
    emulator.files.clear()
    emulator.reply, emulator.stream_delay = None, 0.0
    emulator.balance_set(3.00001, 46.58893)
    return emulator


@pytest.fixture
async def http(served: tuple[Emulator, str], emu: Emulator) -> AsyncIterator[httpx2.AsyncClient]:
    auth = {"Authorization": f"Bearer {KEY}"}
    async with httpx2.AsyncClient(base_url=served[1], headers=auth, timeout=5) as client:
        yield client
