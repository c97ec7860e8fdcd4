"""`kimi-mcp emulator` for users' own tests: loopback only (its admin routes have no auth), one
clear line for a busy port, and its fault switches documented in `--help`."""

import re
import socket
from typing import get_args

import pytest

from kimi_mcp.__main__ import EXIT_CONFIG, EXIT_START, main
from kimi_mcp.emulator import Emulator, NotLoopback, serve_emulator
from kimi_mcp.emulator.fault_spec import PRESETS, FaultKind


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_the_emulator_command_refuses_a_host_beyond_loopback(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulator", "--host", host, "--port", "0"])
    assert exited.value.code == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "loopback only" in err and "no authentication" in err and repr(host) in err


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1"])
async def test_serve_emulator_refuses_a_host_beyond_loopback(host: str) -> None:
    """Users' own tests that start it in-process get the same refusal, before any bind."""
    with pytest.raises(NotLoopback, match="loopback only"):
        async with serve_emulator(Emulator(), host=host):
            pass


def test_a_busy_port_is_one_clear_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            main(["emulator", "--port", str(port)])
    assert exited.value.code == EXIT_START
    err = capsys.readouterr().err
    assert err == (
        f"kimi-mcp emulator: port {port} on 127.0.0.1 is already in use: pick another with "
        "--port (--port 0 takes any free port and prints it).\n"
    )


def test_the_emulator_help_documents_every_fault_switch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every fault kind and preset the admin route accepts, and every admin route, by name."""
    with pytest.raises(SystemExit):
        main(["emulator", "--help"])
    shown = capsys.readouterr().out
    for route in ("POST /_emulator/faults", "POST /_emulator/reset", "POST /_emulator/config"):
        assert route in shown
    assert "GET  /_emulator/requests" in shown
    kinds = [k for k in get_args(FaultKind) if not re.search(rf"^ +{k}  +\S", shown, re.M)]
    presets = [p for p in PRESETS if not re.search(rf"\b{p}(,|$)", shown, re.M)]
    assert (kinds, presets) == ([], [])
    assert "loopback" in shown
