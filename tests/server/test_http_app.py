"""The HTTP app's access rules in-process: token resolution, binding rules, the middlewares."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.errors import ConfigError
from kimi_mcp.server.http_app import build_http_app, check_binding, resolve_tokens
from kimi_mcp.store.conversations import DEFAULT_OWNER
from tests.conftest import CANARY_KEY

TOKEN = "unit-test-token-0123456789abcdef"


def _settings(workdir: Path, **values: Any) -> Settings:
    return load_settings(allowed_dirs=[workdir], **values)


def test_a_configured_token_is_used_as_is(workdir: Path) -> None:
    assert resolve_tokens(_settings(workdir, auth_token=TOKEN)) == ({TOKEN: DEFAULT_OWNER}, False)


def test_without_a_token_one_is_generated_per_run(workdir: Path) -> None:
    tokens, generated = resolve_tokens(_settings(workdir))
    [(first, owner)] = tokens.items()
    assert generated and len(first) >= 40 and owner == DEFAULT_OWNER
    assert resolve_tokens(_settings(workdir))[0] != tokens


@pytest.mark.parametrize(
    ("token", "problem"),
    [("", "empty"), ("has space", "visible ASCII"), ("tab\there", "visible ASCII")],
)
def test_unusable_tokens_are_config_errors(workdir: Path, token: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        resolve_tokens(_settings(workdir, auth_token=token))


def test_the_kimi_key_is_refused_as_token_without_showing_it(workdir: Path) -> None:
    """S6: the inbound token must not be the Kimi key; the message never shows either."""
    settings = _settings(workdir, auth_token=CANARY_KEY, api_key=CANARY_KEY)
    with pytest.raises(ConfigError, match="must not be the Kimi API key") as caught:
        resolve_tokens(settings)
    assert CANARY_KEY not in str(caught.value)


def test_a_short_token_is_accepted_with_a_warning(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert resolve_tokens(_settings(workdir, auth_token="short"))[0] == {"short": DEFAULT_OWNER}
    assert "easy to guess" in caplog.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_binding_needs_nothing(workdir: Path, host: str) -> None:
    check_binding(_settings(workdir, host=host), generated=True)


def test_beyond_loopback_needs_a_configured_token(workdir: Path) -> None:
    settings = _settings(workdir, host="0.0.0.0", allowed_hosts=["kimi.lan:*"])
    with pytest.raises(ConfigError, match="KIMI_MCP_AUTH_TOKEN"):
        check_binding(settings, generated=True)


def test_beyond_loopback_needs_an_explicit_host_allow_list(workdir: Path) -> None:
    settings = _settings(workdir, host="0.0.0.0", auth_token=TOKEN)
    with pytest.raises(ConfigError, match="KIMI_MCP_ALLOWED_HOSTS"):
        check_binding(settings, generated=False)


def test_beyond_loopback_with_both_warns(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(workdir, host="0.0.0.0", auth_token=TOKEN, allowed_hosts=["kimi.lan:*"])
    check_binding(settings, generated=False)
    assert "beyond loopback" in caplog.text and TOKEN not in caplog.text


@pytest.fixture
async def http(workdir: Path) -> AsyncIterator[httpx2.AsyncClient]:
    """The app in-process; plain requests only (ASGITransport buffers whole responses)."""
    app: Starlette = build_http_app(_settings(workdir), {TOKEN: DEFAULT_OWNER})
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 404),
        ({"Authorization": f"bearer {TOKEN}"}, 404),
        ({"Authorization": f"Bearer {TOKEN}0"}, 401),
        ({"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}, 403),
        ({"Origin": "http://evil.example"}, 403),
        ({"Host": "evil.example"}, 421),
    ],
)
async def test_guard_then_auth_on_every_path_but_healthz(
    http: httpx2.AsyncClient, headers: dict[str, str], status: int
) -> None:
    assert (await http.get("/unknown", headers=headers)).status_code == status


@pytest.mark.anyio
async def test_healthz_is_open(http: httpx2.AsyncClient) -> None:
    answer = await http.get("/healthz", headers={"Host": "evil.example"})
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_auth_tokens_give_each_token_its_owner_and_auth_token_the_default(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIMI_MCP_AUTH_TOKENS", '{"alice-token-0123456789": "alice"}')
    tokens, generated = resolve_tokens(_settings(workdir, auth_token=TOKEN))
    assert tokens == {TOKEN: DEFAULT_OWNER, "alice-token-0123456789": "alice"}
    assert not generated


def test_auth_tokens_come_from_the_toml_config_too(workdir: Path) -> None:
    config = workdir / "kimi.toml"
    config.write_text('[auth_tokens]\n"bob-token-0123456789ab" = "bob"\n')
    tokens, generated = resolve_tokens(_settings(workdir, config=config))
    assert (tokens, generated) == ({"bob-token-0123456789ab": "bob"}, False)


@pytest.mark.parametrize(
    ("tokens", "problem"),
    [
        ({CANARY_KEY: "alice"}, "must not be the Kimi API key"),
        ({"has space in it": "alice"}, "visible ASCII"),
        ({TOKEN: "bob"}, "also a key of auth_tokens"),
    ],
)
def test_each_of_auth_tokens_passes_the_token_checks(
    workdir: Path, tokens: dict[str, str], problem: str
) -> None:
    settings = _settings(workdir, auth_token=TOKEN, auth_tokens=tokens, api_key=CANARY_KEY)
    with pytest.raises(ConfigError, match=problem) as caught:
        resolve_tokens(settings)
    assert CANARY_KEY not in str(caught.value)


@pytest.mark.parametrize("owner", ["", "has space", "x" * 65, "new\nline"])
def test_an_unusable_owner_name_is_a_config_error(workdir: Path, owner: str) -> None:
    with pytest.raises(ConfigError, match="owner names"):
        _settings(workdir, auth_tokens={TOKEN: owner})


def test_auth_tokens_never_show_in_the_settings_repr(workdir: Path) -> None:
    settings = _settings(workdir, auth_tokens={TOKEN: "alice"})
    assert TOKEN not in repr(settings) and TOKEN not in settings.model_dump_json()
