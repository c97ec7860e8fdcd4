"""Secrets hygiene (reliability 5.7): where the key may and may not appear.

The sweep of every test's logs, results and files (S1) lives in tests/conftest.py, and of every
child server's stderr in tests/e2e/conftest.py (ServerLog); these are the cases it cannot see on
its own.
"""

import stat
from pathlib import Path

import httpx2
import pytest
from mcp import Client

from kimi_mcp.__main__ import main
from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.server import build_server
from tests.conftest import CANARY_KEY, SweptClient, assert_no_canary
from tests.tool_results import error_text, ok

pytestmark = pytest.mark.anyio

PACKAGE = Path(__file__).resolve().parents[2] / "kimi_mcp"


class QuotingTransport(httpx2.AsyncBaseTransport):
    """A transport that fails the way a careless library might: quoting the request's headers."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError(f"cannot send, headers were {dict(request.headers)}")
        return httpx2.Response(200, json={"code": 0, "data": _BALANCE, "status": True})


_BALANCE = {"available_balance": 1.0, "voucher_balance": 0.0, "cash_balance": 1.0}


async def test_s7_an_unexpected_crash_is_reported_without_the_key(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """S7: a bug inside the client path is a tool error naming the failure, the key redacted in
    the error and in the logged traceback; the server keeps serving."""
    settings = load_settings(api_key=CANARY_KEY, allowed_dirs=[workdir])
    transport = QuotingTransport()
    async with Client(build_server(settings, transport=transport)) as client:
        message = error_text(await client.call_tool("check_balance", {}))
        assert "failed unexpectedly in check_balance" in message and "[redacted]" in message
        assert ok(await client.call_tool("check_balance", {}))["available_balance"] == 1.0
    assert "check_balance crashed" in caplog.text and "Traceback" in caplog.text
    assert_no_canary(caplog.text, "the crash log")


async def test_key_with_trailing_cr_never_leaks(
    emulator_url: str,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Windows-edited .env ends the key with "\\r": it is trimmed with a warning that does not
    show it, and the key works; before, httpx2's refusal quoted it escaped, past redaction, into
    the tool result and the log."""
    monkeypatch.setenv("MOONSHOT_API_KEY", CANARY_KEY + "\r")
    settings = load_settings(base_url=emulator_url, allowed_dirs=[workdir])
    assert "MOONSHOT_API_KEY had 1 whitespace or control character(s) around it" in caplog.text
    async with SweptClient(build_server(settings)) as client:
        result = await client.call_tool("check_balance", {})
    assert ok(result)["available_balance"] > 0


async def test_key_with_quotes_never_leaks_from_a_crash_report(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A key settings accept but repr escapes (`'` becomes `\\'`): the crash report of
    `_reported` quotes it escaped; the tool error and the logged traceback stay clean."""
    key = "sk-canary-7f3a9c1e'\"5b2d4f6a8c0e"
    settings = load_settings(api_key=key, allowed_dirs=[workdir])
    async with Client(build_server(settings, transport=QuotingTransport())) as client:
        message = error_text(await client.call_tool("check_balance", {}))
    assert "failed unexpectedly in check_balance" in message and "[redacted]" in message
    assert "check_balance crashed" in caplog.text
    for text in (message, caplog.text):
        assert "7f3a9c1e" not in text and "5b2d4f6a8c0e" not in text


async def test_s2_a_key_echoed_by_kimi_is_redacted_in_the_tool_error(
    mcp_client: Client, emulator: Emulator
) -> None:
    """S2: the upstream quotes the key back in its error message."""
    emulator.inject(
        Fault(
            "error",
            path="/v1/users/me/balance",
            status=401,
            error_type="invalid_authentication_error",
            message=f"Invalid Authentication: bad key {CANARY_KEY}",
        )
    )
    message = error_text(await mcp_client.call_tool("check_balance", {}))
    assert "Invalid Authentication" in message and "MOONSHOT_API_KEY" in message


async def test_s10_files_the_server_writes_are_owner_only(
    mcp_client: Client, settings: Settings, workdir: Path
) -> None:
    """S10: the conversation store, the upload ledger and their WAL files are mode 0600."""
    (workdir / "notes.txt").write_text("private notes", encoding="utf-8")
    ok(await mcp_client.call_tool("ask_kimi", {"prompt": "hi", "files": ["notes.txt"]}))
    written = [p for p in settings.data_dir.iterdir() if p.is_file()]
    assert {p.name for p in written} >= {"conversations.sqlite3", "uploads.sqlite3"}
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700


def test_s9_the_package_runs_no_shell_and_logs_no_headers() -> None:
    """S9: no shell, no os.system, no subprocess module, no logging of request headers."""
    modules = sorted(PACKAGE.rglob("*.py"))
    # Every subpackage is read, not only the top level (a layout change once narrowed this).
    assert {path.parent.name for path in modules} >= {"kimi", "ask", "server", "emulator"}
    for path in modules:
        source = path.read_text(encoding="utf-8")
        for banned in ("shell=True", "os.system", "import subprocess", "os.popen"):
            assert banned not in source, f"{path.name} uses {banned}"
        for line in source.splitlines():
            if "log." in line and "headers" in line:
                raise AssertionError(f"{path.name} may log headers: {line.strip()}")


@pytest.mark.parametrize(
    "argv",
    [
        ["--api-key", CANARY_KEY],
        [f"--api-key={CANARY_KEY}"],
        ["--port", CANARY_KEY],
        ["--log-level", CANARY_KEY],  # upper-cased by argparse before it quotes it
        ["--transport", CANARY_KEY.removeprefix("sk-")],
    ],
    ids=["flag-then-value", "flag=value", "key-as-a-port", "key-as-a-level", "bare-key-as-choice"],
)
def test_s4_a_key_typed_on_the_command_line_is_refused_without_echoing_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """S4: argparse quotes what it refuses; ours never repeats a key, and says where it goes."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert_no_canary(err, "the command-line error")
    assert_no_canary(err.lower(), "the command-line error, case folded")
    assert "error:" in err
    if argv[0].startswith("--api-key"):
        assert "MOONSHOT_API_KEY" in err
