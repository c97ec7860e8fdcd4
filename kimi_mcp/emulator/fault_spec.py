"""The emulator's faults as data: what misbehaves, for which requests, how many times; the presets
of Kimi's documented errors; and the JSON form the admin route accepts (kimi-api.md section 4).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack, get_args

from kimi_mcp.emulator.catalogue import ORG

CHAT_PATH = "/v1/chat/completions"
OVERLOADED = "The engine is currently overloaded, please try again later"
SUSPENDED = f"Your account {ORG} is suspended, please check your plan and billing details"
HIGH_RISK = "The request was rejected because it was considered high risk"
FaultKind = Literal[
    "error",
    "slow",
    "cut_stream",
    "reset",
    "redirect",
    "drip",
    "malformed_stream",
    "huge_body",
    "raw",
    "ping_stream",
    "stream_error",
    "framing",
]
ANSWERING_KINDS = ("error", "redirect", "raw")  # these replace the response entirely
# Section 4: 500 has two documented bodies, 503 a type without text, 502/504 come from nginx.
SERVER_ERRORS: dict[int, tuple[str | None, str]] = {
    500: ("unexpected_output", "invalid state transition"),
    502: (None, "Bad Gateway"),
    503: ("server_unavailable", "The service is temporarily unavailable, please try again later"),
    504: (None, "Gateway Time-out"),
}


class Target(TypedDict, total=False):
    """Which requests a preset fault applies to (the Fault fields of the same names)."""

    path: str
    method: str | None
    times: int


@dataclass(frozen=True)
class Fault:
    """A misbehaviour for the next `times` requests matching `path` ("*" = any) and `method`.

    "error" answers `status` with Kimi's error body (`error_type` None: an nginx HTML page);
    "redirect" answers 307 (or `status`, when 3xx) to `location`; "raw" answers `status` with
    `body` as it is (broken JSON, an HTML page, nothing, a wrong shape; add
    `Content-Encoding` in `headers` for a garbled encoding).
    The others shape the normal answer: "slow" waits `delay` before answering (between events
    for a stream); "drip" sends the body one byte per `delay`; "cut_stream" ends the body cleanly
    after `after_chunks` content chunks (a non-stream body after half its bytes); "reset" drops
    the connection at the same point; "malformed_stream" slips a `data: {not json` event in
    right after the role chunk, before any text (a non-stream body becomes `{not json`);
    "huge_body" replaces the body with a chunked JSON body of `size` bytes. Streams only:
    "ping_stream" sends nothing but `: ping` comments, one per `delay`, until the client
    leaves; "stream_error" sends `{"error": {error_type, message}}` as an event after
    `after_chunks` content chunks and ends without [DONE]; "framing" sends the stream with
    CRLF, comments, `event:`/`id:`/`retry:` lines and two-line `data:`, one byte per write.
    `headers` are added to the answer in every case.
    """

    kind: FaultKind
    path: str = CHAT_PATH
    method: str | None = None
    times: int = 1
    status: int = 500
    error_type: str | None = "server_error"
    message: str = "Emulated server error"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    after_chunks: int = 1
    location: str = "http://127.0.0.1:9/elsewhere"
    size: int = 0
    body: str = ""

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind) or self.times < 1:
            raise ValueError(f"bad fault: kind {self.kind!r}, times {self.times}")

    def matches(self, method: str, path: str) -> bool:
        return self.path in ("*", path) and (self.method or method).upper() == method.upper()

    @classmethod
    def engine_overloaded(cls, retry_after: float | None = None, **to: Unpack[Target]) -> "Fault":
        """429 `engine_overloaded_error`, with `Retry-After` when `retry_after` is given."""
        return _error(429, "engine_overloaded_error", OVERLOADED, to, retry_after)

    @classmethod
    def rate_limit(
        cls,
        kind: Literal["rpm", "concurrency", "tpm", "tpd"],
        retry_after: float | None = None,
        **to: Unpack[Target],
    ) -> "Fault":
        """429 `rate_limit_reached_error` with the section 4 message of the given limit."""
        wait = 1 if retry_after is None else retry_after
        again = f"please try again after {int(wait) if wait == int(wait) else wait} seconds"
        messages = {
            "rpm": f"max RPM: 3, {again}",
            "concurrency": f"max concurrency: 1, {again}",
            "tpm": "TPM rate limit, current:510000, limit:500000",
            "tpd": "TPD rate limit,current:1500001, limit:1500000",
        }
        message = f"Your account {ORG} request reached organization {messages[kind]}"
        return _error(429, "rate_limit_reached_error", message, to, retry_after)

    @classmethod
    def quota(cls, **to: Unpack[Target]) -> "Fault":
        """429 `exceeded_current_quota_error` (account suspended; never worth a retry)."""
        return _error(429, "exceeded_current_quota_error", SUSPENDED, to)

    @classmethod
    def server_error(
        cls, status: Literal[500, 502, 503, 504] = 500, **to: Unpack[Target]
    ) -> "Fault":
        """A 5xx: 500/503 as Kimi's JSON body, 502/504 as nginx's HTML page."""
        return _error(status, *SERVER_ERRORS[status], to)

    @classmethod
    def content_filter(cls, **to: Unpack[Target]) -> "Fault":
        """400 `content_filter`: input or output tripped moderation."""
        return _error(400, "content_filter", HIGH_RISK, to)


def _error(
    status: int, error_type: str | None, message: str, to: Target, retry: float | None = None
) -> Fault:
    headers = {}
    if retry is not None:  # whole seconds, plus milliseconds when the wait is fractional
        headers["Retry-After"] = str(math.ceil(retry))
        if retry != int(retry):
            headers["retry-after-ms"] = str(round(retry * 1000))
    return Fault(
        "error", status=status, error_type=error_type, message=message, headers=headers, **to
    )


PRESETS: dict[str, Callable[[float | None, Target], Fault]] = {
    "engine_overloaded": lambda retry, to: Fault.engine_overloaded(retry, **to),
    "rate_limit_rpm": lambda retry, to: Fault.rate_limit("rpm", retry, **to),
    "rate_limit_concurrency": lambda retry, to: Fault.rate_limit("concurrency", retry, **to),
    "rate_limit_tpm": lambda retry, to: Fault.rate_limit("tpm", retry, **to),
    "rate_limit_tpd": lambda retry, to: Fault.rate_limit("tpd", retry, **to),
    "quota": lambda _, to: Fault.quota(**to),
    "content_filter": lambda _, to: Fault.content_filter(**to),
    "server_error": lambda _, to: Fault.server_error(500, **to),
    "server_error_500": lambda _, to: Fault.server_error(500, **to),
    "server_error_502": lambda _, to: Fault.server_error(502, **to),
    "server_error_503": lambda _, to: Fault.server_error(503, **to),
    "server_error_504": lambda _, to: Fault.server_error(504, **to),
}


def fault_from_json(data: Any) -> Fault:
    """A fault from the admin route: Fault fields, or {"preset": a PRESETS name, "retry_after",
    "path", "times", "method"}."""
    if not isinstance(data, dict):
        raise ValueError("a fault is a JSON object")
    fields: dict[str, Any] = dict(data)
    preset = fields.pop("preset", None)
    if preset is None:
        return Fault(**fields)
    to = Target()
    for key in ("path", "times", "method"):
        if key in fields:
            to[key] = fields.pop(key)
    retry = fields.pop("retry_after", None)
    if fields or preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} or field(s) {sorted(fields)}")
    return PRESETS[preset](retry, to)
