"""/readyz in-process: 200 while the store answers, 503 with one short line otherwise; and the
request_state_keys setting replicas share."""

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.errors import ConfigError
from kimi_mcp.server.http_app import build_http_app, check_binding
from kimi_mcp.store.conversations import DEFAULT_OWNER

TOKEN = "unit-test-token-0123456789abcdef"
FOREIGN_HOST = {"Host": "10.0.0.7:8765"}  # what a load balancer sends: no token, its own Host


def _settings(workdir: Path, **values: Any) -> Settings:
    return load_settings(allowed_dirs=[workdir], **values)


@asynccontextmanager
async def running_app(
    settings: Settings, *, started: bool = True
) -> AsyncIterator[httpx2.AsyncClient]:
    """The HTTP app in-process, its lifespan entered (as uvicorn does) unless `started` is False."""
    app = build_http_app(settings, {TOKEN: DEFAULT_OWNER})
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as http:
        if not started:
            yield http
            return
        async with app.router.lifespan_context(app):
            yield http


@pytest.mark.anyio
async def test_readyz_is_200_without_token_or_known_host_when_the_store_answers(
    workdir: Path,
) -> None:
    async with running_app(_settings(workdir, data_dir=workdir / "data")) as http:
        answer = await http.get("/readyz", headers=FOREIGN_HOST)
    assert (answer.status_code, answer.text) == (200, "ready\n")


@pytest.mark.anyio
async def test_readyz_is_503_before_the_server_has_started(workdir: Path) -> None:
    async with running_app(_settings(workdir), started=False) as http:
        answer = await http.get("/readyz")
    assert answer.status_code == 503 and "starting" in answer.text


@pytest.mark.anyio
async def test_readyz_is_503_with_one_line_naming_no_path_when_the_store_cannot_be_used(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = workdir / "not-a-directory"
    data_dir.write_text("a file where the data directory should be")
    async with running_app(_settings(workdir, data_dir=data_dir)) as http:
        answer = await http.get("/readyz", headers=FOREIGN_HOST)
        again = await http.get("/readyz", headers=FOREIGN_HOST)
    assert answer.status_code == again.status_code == 503
    assert answer.text.count("\n") == 1 and "cannot be used" in answer.text
    assert str(data_dir) not in answer.text  # the probe is open to anyone who reaches the port
    warnings = [r for r in caplog.records if "readiness" in r.getMessage()]
    assert len(warnings) == 1 and str(data_dir) in warnings[0].getMessage()  # once per change


@pytest.mark.anyio
async def test_readyz_is_503_within_its_bound_while_the_store_is_locked_then_200(
    workdir: Path,
) -> None:
    """A SQLite file another process holds locked blocks a check for its 10 s busy timeout on
    a thread nothing can cancel: the probe still answers after its own 2 s bound."""
    data_dir = workdir / "data"
    async with running_app(_settings(workdir, data_dir=data_dir)) as http:
        assert (await http.get("/readyz")).status_code == 200  # creates the files
        holder = sqlite3.connect(data_dir / "conversations.sqlite3", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            answer = await http.get("/readyz")
        finally:
            holder.close()  # releases the lock: the probe in flight completes
        after = await http.get("/readyz")
    assert answer.status_code == 503 and "did not answer within 2 s" in answer.text
    assert after.status_code == 200


def test_request_state_keys_come_comma_separated_from_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIMI_MCP_REQUEST_STATE_KEYS", f"{'a' * 32}, {'b' * 40}")
    keys = _settings(workdir).request_state_keys
    assert keys is not None
    assert [k.get_secret_value() for k in keys] == ["a" * 32, "b" * 40]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (["short-key"], "key 1 is shorter than 32 characters"),
        (["x" * 32, "x" * 32], "listed twice"),
        ([], "at least one key"),
    ],
)
def test_unusable_request_state_keys_are_refused_without_showing_them(
    workdir: Path, value: list[str], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        _settings(workdir, request_state_keys=value)
    assert all(key not in str(caught.value) for key in value)


def test_beyond_loopback_without_request_state_keys_warns(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(workdir, host="0.0.0.0", auth_token=TOKEN, allowed_hosts=["kimi.lan:*"])
    check_binding(settings, generated=False)
    assert "KIMI_MCP_REQUEST_STATE_KEYS" in caplog.text
    caplog.clear()
    keyed = _settings(
        workdir,
        host="0.0.0.0",
        auth_token=TOKEN,
        allowed_hosts=["kimi.lan:*"],
        request_state_keys=["s" * 32],
    )
    check_binding(keyed, generated=False)
    assert "KIMI_MCP_REQUEST_STATE_KEYS" not in caplog.text
