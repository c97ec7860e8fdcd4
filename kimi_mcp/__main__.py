"""The `kimi-mcp` command: the stdio or HTTP server, `demo` and `emulator`."""

import argparse
import errno
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import anyio

from kimi_mcp import __version__
from kimi_mcp.errors import ConfigError
from kimi_mcp.logs import setup_logging
from kimi_mcp.setup.install_args import add_install_parsers

EXIT_CONFIG = 2

DESCRIPTION = """\
An MCP server for the Moonshot Kimi Open Platform API.

  kimi-mcp                                  serve MCP over stdio (what client configs launch)
  kimi-mcp --transport http [--port 8765]   serve streamable HTTP at http://127.0.0.1:8765/mcp
  kimi-mcp demo                             run every tool against the built-in emulator (no key)
  kimi-mcp emulator [--port 8780]           run the Kimi emulator on loopback
  kimi-mcp install <client> [--dry-run]     add kimi to a client's config (backup first)
  kimi-mcp uninstall <client>               remove it again
    clients: claude-desktop claude-code cursor vscode windsurf codex gemini zed
  kimi-mcp doctor [--json]                  check the setup: key, region, model, dirs, data
  kimi-mcp config [--json | --example]      the effective settings and where each came from

The API key comes from MOONSHOT_API_KEY (or KIMI_API_KEY) in the environment, never from a flag.
HTTP clients send KIMI_MCP_AUTH_TOKEN as 'Authorization: Bearer <token>' (printed when generated).
Other settings: KIMI_MCP_<NAME> variables or a TOML file (`kimi-mcp config --example`).
Precedence: flag > environment > config file > default.
"""


class _SecretSafeParser(argparse.ArgumentParser):
    """argparse quotes what it refuses; a key typed as a flag would land in client logs."""

    seen: Sequence[str] = ()

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.seen = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"unrecognized arguments: .*", _unrecognized, message)
        message = _REFUSED_VALUE.sub(_short_value, message)
        if any(word.startswith("-") and "key" in word.lower() for word in self.seen):
            message += _KEY_HINT
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {_LOOKS_SECRET.sub('***', message)}\n")


_LOOKS_SECRET = re.compile(r"sk-[A-Za-z0-9_-]+", re.IGNORECASE)
# "invalid choice: 'X'", "invalid int value: 'X'": argparse quotes the value it refused.
_REFUSED_VALUE = re.compile(r"(invalid (?:choice|[\w ]*value): )'([^']*)'")
_SHOWN_VALUE_MAX = 24  # a typo ("dmeo") is worth showing; a key (50+ characters) is not


def _short_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if len(value) > _SHOWN_VALUE_MAX or _LOOKS_SECRET.search(value):
        return f"{match.group(1)}(value not shown)"
    return match.group(0)


_KEY_HINT = (
    " There is no flag for the API key (it would show in process lists): set MOONSHOT_API_KEY "
    "in the server's environment."
)


def _unrecognized(match: re.Match[str]) -> str:
    """Name the unknown options, never their values: one may be a key."""
    words = match.group(0).removeprefix("unrecognized arguments: ").split()
    flags = [word.split("=", 1)[0] for word in words if word.startswith("-")]
    shown = " ".join(flags) if flags else "a stray value"
    return f"unrecognized arguments: {shown} (values not shown)."


def build_parser() -> argparse.ArgumentParser:
    parser = _SecretSafeParser(
        prog="kimi-mcp",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kimi-mcp {__version__}")
    parser.add_argument(
        "--transport",
        choices=["stdio", "http"],
        default="stdio",
        help="stdio (default) or streamable HTTP",
    )
    parser.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default 8765)")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="TOML config file (default ~/.config/kimi-mcp/config.toml if present)",
    )
    parser.add_argument(
        "--model",
        dest="default_model",
        metavar="ID",
        help="default model for ask_kimi (default kimi-k2.6)",
    )
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        type=str.upper,
        help="stderr log level (default WARNING)",
    )
    parser.add_argument(
        "--allow-dir",
        dest="allowed_dirs",
        action="append",
        type=Path,
        metavar="PATH",
        help="directory files may be read from (repeatable; default: the working directory)",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="{demo,emulator,install,uninstall,doctor,config}"
    )
    commands.add_parser("demo", help="run every tool against the built-in emulator (no key needed)")
    emulator = commands.add_parser(
        "emulator",
        help="run the Kimi emulator on loopback",
        description=EMULATOR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    emulator.add_argument(
        "--host",
        dest="emulator_host",
        default="127.0.0.1",
        metavar="HOST",
        help="loopback address to bind (127.0.0.1, ::1 or localhost; nothing else is allowed)",
    )
    emulator.add_argument(
        "--port",
        dest="emulator_port",
        type=int,
        default=8780,
        metavar="PORT",
        help="port (default 8780; 0: any free one)",
    )
    add_install_parsers(commands)
    _add_setup_commands(commands)
    return parser


def _add_setup_commands(commands: "argparse._SubParsersAction[_SecretSafeParser]") -> None:
    doctor = commands.add_parser("doctor", help="check the setup; exit 0 when nothing fails")
    config = commands.add_parser("config", help="the effective settings and where each came from")
    config.add_argument("--example", action="store_true", help="print the example config file")
    for command in (doctor, config):
        command.add_argument("--json", action="store_true", help="print JSON, for scripts")
        # SUPPRESS: without it, the subcommand's unset --config would hide `kimi-mcp --config X`.
        command.add_argument("--config", type=Path, metavar="PATH", default=argparse.SUPPRESS)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from kimi_mcp.demo import run_demo

            anyio.run(run_demo)
        elif args.command == "emulator":
            _run_emulator(args.emulator_host, args.emulator_port)
        elif args.command in ("install", "uninstall"):
            from kimi_mcp.setup.install_cli import run as run_install

            sys.exit(run_install(args))
        elif args.command in ("doctor", "config"):
            _run_setup_command(args)
        else:
            _serve(args)
    except ConfigError as exc:
        print(f"kimi-mcp: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    except KeyboardInterrupt:
        pass


def _serve(args: argparse.Namespace) -> None:
    from kimi_mcp.config import load_settings

    settings = load_settings(
        config=args.config,
        default_model=args.default_model,
        log_level=args.log_level,
        allowed_dirs=args.allowed_dirs,
        host=args.host,
        port=args.port,
    )
    setup_logging(settings.log_level)
    if settings.api_key is None:
        logging.getLogger("kimi_mcp").warning(
            "MOONSHOT_API_KEY is not set: tools are listed, but each one that calls Kimi will "
            "answer an error until the key is set."
        )
    if args.transport == "http":
        from kimi_mcp.server.http_app import serve_http

        anyio.run(serve_http, settings)
        return
    from kimi_mcp.server import build_server
    from kimi_mcp.server.stdio_edge import serve_stdio

    anyio.run(serve_stdio, build_server(settings))


def _run_setup_command(args: argparse.Namespace) -> None:
    flags = {
        "config": args.config,
        "default_model": args.default_model,
        "log_level": args.log_level,
        "allowed_dirs": args.allowed_dirs,
        "host": args.host,
        "port": args.port,
    }
    if args.command == "config":
        from kimi_mcp.setup.show_config import show_config

        print(show_config(flags, json_output=args.json, example=args.example).rstrip("\n"))
        return
    from kimi_mcp.setup.doctor import doctor

    text, code = anyio.run(lambda: doctor(flags, json_output=args.json))
    print(text)
    sys.exit(code)


def _run_emulator(host: str, port: int) -> None:
    from kimi_mcp.emulator import Emulator, NotLoopback, run_emulator
    from kimi_mcp.emulator.server import require_loopback

    try:
        require_loopback(host)
    except NotLoopback as exc:
        print(f"kimi-mcp emulator: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    key = Emulator().api_key

    def ready(url: str) -> None:  # the bound URL: --port 0 picks a free port
        print(
            f"Kimi emulator on {url} (API key: {key}). Ctrl-C stops it.\n"
            f"Point kimi-mcp at it: MOONSHOT_BASE_URL={url} MOONSHOT_API_KEY={key} kimi-mcp",
            file=sys.stderr,
            flush=True,
        )

    try:
        anyio.run(lambda: run_emulator(host=host, port=port, api_key=key, on_ready=ready))
    except OSError as exc:  # binding the port: one line, not a traceback
        taken = exc.errno == errno.EADDRINUSE
        reason = "is already in use" if taken else f"cannot be bound ({exc.strerror or exc})"
        print(
            f"kimi-mcp emulator: port {port} on {host} {reason}: pick another with --port "
            "(--port 0 takes any free port and prints it).",
            file=sys.stderr,
        )
        sys.exit(EXIT_START)


EXIT_START = 1  # the emulator could not start (its port is taken)
EMULATOR_HELP = """\
Runs the Kimi emulator (the same paths, bodies, errors and quirks as the Kimi API) on loopback,
for your own tests: point an OpenAI-compatible client or kimi-mcp at the URL it prints, with
the API key it prints. It never listens beyond loopback: its admin routes have no auth.

Admin routes (JSON; never recorded, never faulted):
  POST /_emulator/faults    queue a fault for the next matching request(s), e.g.
      {"preset": "rate_limit_rpm", "retry_after": 2, "times": 3}
      {"kind": "cut_stream", "after_chunks": 5}
      {"kind": "error", "status": 503, "error_type": "server_unavailable", "path": "*"}
    presets (Kimi's documented errors; fields preset, retry_after, path, times, method):
      engine_overloaded, rate_limit_rpm, rate_limit_concurrency, rate_limit_tpm,
      rate_limit_tpd, quota, content_filter, server_error, server_error_500,
      server_error_502, server_error_503, server_error_504
    kinds (fields kind, path ("*" = any; default /v1/chat/completions), method, times,
    status, error_type, message, headers, delay, after_chunks, location, size, body):
      error             answer `status` with Kimi's error body (error_type null: nginx HTML)
      redirect          answer 307 (or a 3xx `status`) to `location`
      raw               answer `status` with `body` as it is
      slow              wait `delay` seconds before answering (between events in a stream)
      drip              send the body one byte per `delay` seconds
      cut_stream        end the body cleanly after `after_chunks` content chunks
      reset             drop the connection at the same point
      malformed_stream  slip a `data: {not json` event in before any text
      huge_body         replace the body with a chunked JSON body of `size` bytes
      ping_stream       streams: send only `: ping` comments, one per `delay` seconds
      stream_error      streams: an error event after `after_chunks` chunks, no [DONE]
      framing           streams: CRLF, comments, event/id/retry lines, one byte per write
  POST /_emulator/reset     forget recorded requests and queued faults (files, balance stay)
  POST /_emulator/config    {"stream_delay": seconds, "reply": fixed answer or null,
                            "balance": [cash, voucher]}; answers {"ok", "peak_streams"}
  GET  /_emulator/requests  every request received: method, path, headers, body
"""


if __name__ == "__main__":
    main()
