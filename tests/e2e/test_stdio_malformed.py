"""Malformed protocol input over stdio (reliability.md 5.2): raw bytes into a real kimi-mcp child,
a liveness probe (`list_models`) after every case, and the whole stdout checked to be JSON-RPC.

What mcp 2.3.0 does with each case (measured; the expectations below pin it, so an SDK upgrade
that changes any of it shows up here):

* Every line that does not validate as one JSON-RPC message is handed by the SDK's stdio reader to
  the dispatcher as a parse error, which drops it without an answer. Our edge in between
  (kimi_mcp/server/stdio_edge.py) answers such a line when it carries a `method` and an id that
  can be read: -32700 when the SDK's parser refused the JSON (a lone surrogate escape such as
  `"\\ud800"`, which Python's JSON accepts and the SDK's does not; a BOM before the JSON; an
  integer longer than ~4,300 digits, "number out of range"), -32600 when it is JSON but no JSON-RPC
  request (`jsonrpc` missing or "1.0", `params` an array). Still dropped, because no id can be
  read or the line is no request: `hello`, truncated JSON, `[]`, batches (gone from the spec since
  2025-06-18: neither message of a batch is answered), `42`, ids that are objects, arrays,
  floats, booleans, null or 10,000 digits long, a message without `method` (it may be a broken
  response from the client, and an error under its id could answer an unrelated request), a line
  of invalid UTF-8, empty lines, nesting deeper than ~200 levels (the parser's recursion limit, so
  10,000 and 100,000 levels are refused cheaply). The drops are logged at WARNING (logs.py).
* `tools/call` with `params` as an array fails the message-level schema (-32600 from our edge),
  while `arguments` as a string gets the SDK's -32602.
* An unknown method gets -32601 with the method name echoed in `data`: a 1 MB method name brings
  back a 1 MB error.
* An unknown prompt or resource is -32602 with a short message (the SDK answered an unknown prompt
  with a 30-line traceback in the log and code 0).
* An unknown tool is a tool error (`isError: true`, "Unknown tool: nope"), not the -32602 protocol
  error the spec's example shows.
* A notification with an id is a request for an unknown method (-32601). A second `initialize` is
  answered again like the first. A response or error to nothing, a cancellation for an unknown id
  or for `initialize`, and progress for an unknown token are ignored.
* Before `initialize`: `ping` is answered, every other served method gets -32602 ("Invalid request
  parameters", a compatibility shape the SDK pins), and the handshake still works afterwards.
* Invalid UTF-8 inside a string is replaced by U+FFFD and the request answered; CRLF line ends are
  fine; duplicate keys keep the last value (the response carries the second id); 1e999999 parses
  (as infinity) and is answered.
* Size: the stdio reader has no line cap. A 10 MiB line and an array of 10^6 numbers are parsed and
  answered in well under a second; a 64 MiB line (slow test) is answered after ~4 s with the
  child's peak RSS ~330 MB (about 5x the line), settling back to ~140 MB. A wrapper with a cap
  would need its own stdin reader in place of the SDK's; not done.

The cases share one child (a cold start is ~1 s on 2 cores); the cases that need a fresh,
un-initialized child, and the two huge ones, get their own.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import pytest

from kimi_mcp.emulator import Emulator, Fault, serve_emulator
from tests.conftest import CANARY_KEY
from tests.e2e.conftest import RAW_INITIALIZE, server_env
from tests.e2e.raw_stdio import RawStdio, id_key, line, raw_stdio

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

Expect = Literal["result", "tool_error"] | int  # an int is the JSON-RPC error code

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
METHOD_NOT_FOUND, INVALID_PARAMS = -32601, -32602


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    expect: dict[int, Expect] = field(default_factory=dict)  # request id -> answer; {} = none


def _ping(request_id: object, **params: object) -> bytes:
    message: dict[str, object] = {"jsonrpc": "2.0", "id": request_id, "method": "ping"}
    return line(message | ({"params": params} if params else {}))


def _raw_ping(request_id: int, params: bytes) -> bytes:
    """A ping whose params are given as raw JSON text (for what json.dumps cannot write)."""
    return b'{"jsonrpc":"2.0","id":%d,"method":"ping","params":%s}\n' % (request_id, params)


def _call(request_id: int, params: object) -> bytes:
    return line({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})


def _deep(levels: int) -> bytes:
    return b'{"x":' + b"[" * levels + b"]" * levels + b"}"


CASES = [
    Case("hello", b"hello\n"),
    Case("truncated_json", b'{"jsonrpc":"2.0","id":101,"method":"tools/li\n'),
    Case("empty_array", b"[]\n"),
    Case("batch_of_two", line([json.loads(_ping(102)), json.loads(_ping(103))])),
    Case("bare_number", b"42\n"),
    Case("jsonrpc_missing", line({"id": 104, "method": "ping"}), {104: INVALID_REQUEST}),
    Case(
        "jsonrpc_1_0", line({"jsonrpc": "1.0", "id": 105, "method": "ping"}), {105: INVALID_REQUEST}
    ),
    Case("id_object", _ping({"a": 1})),
    Case("id_array", _ping([1])),
    Case("id_float", _ping(1.5)),
    Case("id_bool", _ping(True)),
    Case("id_null", _ping(None)),
    # No answer can carry this id (the SDK's writer refuses a lone surrogate): dropped, and the
    # server lives on (answering it once stopped the server).
    Case("id_lone_surrogate", b'{"jsonrpc":"2.0","id":"a\\ud800","method":"ping"}\n'),
    Case("id_10000_digits", b'{"jsonrpc":"2.0","id":%s,"method":"ping"}\n' % (b"9" * 10_000)),
    Case("method_missing", line({"jsonrpc": "2.0", "id": 106})),
    Case(
        "method_1mb",
        line({"jsonrpc": "2.0", "id": 107, "method": "m" * 1_048_576}),
        {107: METHOD_NOT_FOUND},
    ),
    Case(
        "method_unknown",
        line({"jsonrpc": "2.0", "id": 108, "method": "nope/nope"}),
        {108: METHOD_NOT_FOUND},
    ),
    Case("tool_unknown", _call(109, {"name": "nope", "arguments": {}}), {109: "tool_error"}),
    Case("tools_call_array_params", _call(110, ["list_models", {}]), {110: INVALID_REQUEST}),
    Case(
        "tools_call_string_arguments",
        _call(111, {"name": "list_models", "arguments": "{}"}),
        {111: INVALID_PARAMS},
    ),
    Case("second_initialize", line(RAW_INITIALIZE | {"id": 112}), {112: "result"}),
    Case(
        "notification_with_id",
        line({"jsonrpc": "2.0", "id": 113, "method": "notifications/initialized"}),
        {113: METHOD_NOT_FOUND},
    ),
    Case(
        "response_to_nothing",
        line({"jsonrpc": "2.0", "id": 9001, "result": {}})
        + line({"jsonrpc": "2.0", "id": 9002, "error": {"code": -1, "message": "x"}}),
    ),
    Case(
        "cancel_unknown_id",
        line(
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 4242}}
        ),
    ),
    Case(
        "cancel_initialize",
        line({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
    ),
    Case(
        "progress_unknown_token",
        line(
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": "nobody", "progress": 1},
            }
        ),
    ),
    Case("invalid_utf8_in_string", _raw_ping(114, b'{"x":"\xff\xfe"}'), {114: "result"}),
    Case("invalid_utf8_line", b"\xff\xfe\xfd\x80\n"),
    Case("bom", b"\xef\xbb\xbf" + _ping(115), {115: PARSE_ERROR}),
    Case("crlf", _ping(116).replace(b"\n", b"\r\n"), {116: "result"}),
    Case("empty_lines", b"\n\n\r\n \n"),
    Case("line_10mib", _ping(117, pad="a" * (10 << 20)), {117: "result"}),
    Case("nesting_10000", _raw_ping(118, _deep(10_000))),
    Case(
        "array_of_10e6",
        _raw_ping(119, b'{"x":[' + b",".join([b"0"] * 10**6) + b"]}"),
        {119: "result"},
    ),
    Case(
        "duplicate_keys", b'{"jsonrpc":"2.0","id":120,"id":121,"method":"ping"}\n', {121: "result"}
    ),
    Case("huge_float", _raw_ping(122, b'{"x":1e999999,"y":-1e308}'), {122: "result"}),
    Case("integer_5000_digits", _raw_ping(123, b'{"x":%s}' % (b"1" * 5000)), {123: PARSE_ERROR}),
    Case("lone_surrogate_escape", _raw_ping(124, b'{"x":"\\ud800"}'), {124: PARSE_ERROR}),
    Case(
        "prompt_unknown",
        line({"jsonrpc": "2.0", "id": 126, "method": "prompts/get", "params": {"name": "nope"}}),
        {126: INVALID_PARAMS},
    ),
    Case(
        "resource_unknown",
        line(
            {
                "jsonrpc": "2.0",
                "id": 127,
                "method": "resources/read",
                "params": {"uri": "kimi://conversations/nope"},
            }
        ),
        {127: INVALID_PARAMS},
    ),
    Case("surrogate_pair_escape", _raw_ping(125, b'{"x":"\\ud83d\\ude00"}'), {125: "result"}),
]
SURROGATE_CALL_ID = "surrogate-call"
KNOWN_IDS = {id_key(request_id) for case in CASES for request_id in case.expect}
KNOWN_IDS.add(id_key(SURROGATE_CALL_ID))


@pytest.fixture(scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RawStdio]:
    """One initialized child for all of CASES; at the end its whole stdout is checked."""
    workdir = tmp_path_factory.mktemp("malformed")
    emulator = Emulator(api_key=CANARY_KEY)
    async with (
        serve_emulator(emulator) as url,
        raw_stdio(server_env(url, workdir), workdir) as session,
    ):
        await session.initialize()
        yield session
        assert session.process.returncode is None, session.log.text[-3000:]
    _assert_protocol_only(session, KNOWN_IDS | {id_key(RAW_INITIALIZE["id"])})
    assert session.process.returncode == 0, session.log.text[-3000:]


def _assert_protocol_only(session: RawStdio, known: set[str]) -> None:
    """Every stdout line is JSON-RPC, and no response answers an id no case expected."""
    assert not session.not_json_rpc and not session.partial
    assert "Traceback" not in session.log.text, session.log.text[-3000:]
    unexpected = {key for key in session.by_id if key not in known and "probe-" not in key}
    assert not unexpected
    assert all(len(answers) == 1 for answers in session.by_id.values())


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_malformed_input_is_answered_or_dropped_and_the_server_lives(
    shared: RawStdio, case: Case
) -> None:
    start = len(shared.messages)
    await shared.send(case.data)
    await shared.probe()
    answers = {request_id: await shared.wait_for(request_id) for request_id in case.expect}
    for request_id, expected in case.expect.items():
        _check(answers[request_id], expected)
    others = [m for m in shared.messages[start:] if not str(m.get("id", "")).startswith("probe-")]
    assert [m.get("id") for m in others] == list(case.expect), others
    assert shared.process.returncode is None


async def test_lone_surrogate_escape_gets_a_parse_error_not_silence(shared: RawStdio) -> None:
    """The SDK's parser refuses `\\ud800`; before our edge the client waited for its timeout."""
    request = (
        b'{"jsonrpc":"2.0","id":"%s","method":"tools/call",'
        b'"params":{"name":"ask_kimi","arguments":{"prompt":"why \\ud800?"}}}\n'
    ) % SURROGATE_CALL_ID.encode()
    await shared.send(request)
    answer = await shared.wait_for(SURROGATE_CALL_ID)  # bounded: fails after ANSWER_TIMEOUT
    error = answer.get("error")
    assert isinstance(error, dict) and error["code"] == PARSE_ERROR, answer
    assert "lone UTF-16 surrogate" in error["message"] and "Nothing was done" in error["message"]
    assert "answered a stdin line that is not valid JSON-RPC" in shared.log.text
    await shared.probe()


def _check(answer: dict[str, object], expected: Expect) -> None:
    if isinstance(expected, int):
        error = answer.get("error")
        assert isinstance(error, dict) and error["code"] == expected, answer
        return
    result = answer.get("result")
    assert isinstance(result, dict), answer
    assert bool(result.get("isError")) == (expected == "tool_error"), answer


@pytest.fixture
async def fresh(emulator_url: str, workdir: Path) -> AsyncIterator[RawStdio]:
    async with raw_stdio(server_env(emulator_url, workdir), workdir) as session:
        yield session
    _assert_protocol_only(session, {id_key(n) for n in (1, 5, 6, 7, 8)})
    assert session.process.returncode == 0, session.log.text[-3000:]


async def test_requests_before_initialize_are_refused_then_the_handshake_works(
    fresh: RawStdio,
) -> None:
    await fresh.send(_call(5, {"name": "list_models", "arguments": {}}))
    await fresh.send(line({"jsonrpc": "2.0", "id": 6, "method": "tools/list"}))
    await fresh.send(_ping(7))
    _check(await fresh.wait_for(5), INVALID_PARAMS)
    _check(await fresh.wait_for(6), INVALID_PARAMS)
    _check(await fresh.wait_for(7), "result")
    await fresh.initialize()
    await fresh.probe()


async def test_cancelling_initialize_in_flight_is_ignored(fresh: RawStdio) -> None:
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    # One write: the cancellation is already queued while initialize is handled.
    await fresh.send(line(RAW_INITIALIZE) + line(cancel))
    _check(await fresh.wait_for(1), "result")
    await fresh.send(line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    await fresh.probe()


async def test_a_lone_surrogate_in_kimis_error_text_does_not_stop_the_server(
    emulator: Emulator, fresh: RawStdio
) -> None:
    """Kimi's error echoed a lone surrogate: the tool error could not be written as JSON and the
    stdio server stopped, leaving the client waiting."""
    body = '{"error": {"type": "invalid_request_error", "message": "bad \\ud800 thing"}}'
    headers = {"content-type": "application/json"}
    emulator.inject(Fault("raw", path="/v1/models", status=400, body=body, headers=headers))
    await fresh.initialize()
    await fresh.send(_call(8, {"name": "list_models", "arguments": {}}))
    answer = await fresh.wait_for(8)
    _check(answer, "tool_error")
    assert "bad \ufffd thing" in json.dumps(answer, ensure_ascii=False), answer
    await fresh.probe()


def _peak_rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("data", "expect"),
    [
        pytest.param(_ping(5, pad="a" * (64 << 20)), "result", id="line_64mib"),
        pytest.param(_raw_ping(5, _deep(100_000)), None, id="nesting_100000"),
    ],
)
async def test_inputs_only_the_sdk_parses(
    emulator_url: str, workdir: Path, data: bytes, expect: Expect | None
) -> None:
    """Recorded, not required: the SDK reads these before any code of ours sees them."""
    async with raw_stdio(server_env(emulator_url, workdir), workdir) as session:
        await session.initialize()
        with anyio.fail_after(60):
            await session.send(data)
        await session.probe()
        if expect is not None:
            _check(await session.wait_for(5), expect)
        print(f"\npeak RSS of the child: {_peak_rss_kib(session.process.pid) // 1024} MiB")
    _assert_protocol_only(session, {id_key(1), id_key(5)})
