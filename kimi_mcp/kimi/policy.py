"""Upstream policy as pure functions: which error an answer is, whether to retry, how long."""

import functools
import json
import random
import re
import string
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from time import time
from urllib.parse import quote, quote_plus

from kimi_mcp.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RedirectError,
    ServerError,
)

BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 20.0
RETRY_TIME_CAP = 30.0  # total seconds one call may spend waiting between attempts
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
MESSAGE_LIMIT = 500

# error.type decides first: one status carries several meanings (429 is "slow down" and "pay").
_BY_TYPE: dict[str, type[APIStatusError]] = {
    "content_filter": ContentFilterError,
    "invalid_request_error": BadRequestError,
    "invalid_authentication_error": AuthenticationError,
    "incorrect_api_key_error": AuthenticationError,
    "permission_denied_error": PermissionDeniedError,
    "resource_not_found_error": NotFoundError,
    "rate_limit_reached_error": RateLimitError,
    "engine_overloaded_error": RateLimitError,
    "exceeded_current_quota_error": QuotaExceededError,
    "server_error": ServerError,
    "unexpected_output": ServerError,
    "server_unavailable": ServerError,
}
_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TRY_AGAIN = re.compile(r"try again after (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
REDACT_WINDOW = 8  # characters of a secret's written form that count as a leak of it
_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # keeps lengths


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Remove every secret from text, even when the upstream echoes it back.

    A secret is found in any written form a library or a server may give it (as is, repr or
    bytes-repr escaped, JSON escaped, percent-encoded; ASCII case ignored) and in part: any run
    of REDACT_WINDOW characters of one of those forms is removed, so a head or tail cut off by a
    length limit, or the pieces around an escape we do not know, never show either.
    """
    if not text:
        return text
    folded = text.translate(_ASCII_FOLD)
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        for grams, width in _secret_grams(secret):
            spans += [
                (i, i + width)
                for i in range(len(folded) - width + 1)
                if folded[i : i + width] in grams
            ]
    return _cut(text, spans)


@functools.lru_cache(maxsize=16)
def _secret_grams(secret: str) -> tuple[tuple[frozenset[str], int], ...]:
    """For each written form of `secret`: its runs of REDACT_WINDOW characters (the whole form
    when shorter), case-folded like the text they are looked for in."""
    if not secret:
        return ()
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe="", errors="surrogatepass"),  # a lone surrogate must not raise
        quote_plus(secret, errors="surrogatepass"),
    }
    grams = []
    for form in forms:
        form = form.translate(_ASCII_FOLD)
        width = min(REDACT_WINDOW, len(form))
        grams.append((frozenset(form[i : i + width] for i in range(len(form) - width + 1)), width))
    return tuple(grams)


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each run of overlapping or touching spans replaced by one [redacted]."""
    if not spans:
        return text
    pieces: list[str] = []
    kept_from = 0
    start, end = -1, -1
    for span_start, span_end in sorted(spans):
        if span_start > end:
            if end >= 0:
                pieces += [text[kept_from:start], "[redacted]"]
                kept_from = end
            start = span_start
        end = max(end, span_end)
    pieces += [text[kept_from:start], "[redacted]", text[end:]]
    return "".join(pieces)


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, *, secrets: tuple[str, ...] = ()
) -> APIStatusError:
    """Map any non-2xx answer to one APIStatusError; tolerant of non-JSON bodies."""
    error_type, message = _parse_error_body(body)
    message = redact(message, secrets)[:MESSAGE_LIMIT]
    if 300 <= status < 400:
        where = redact(headers.get("location", "?"), secrets)
        message = f"redirect to {where}"
        cls: type[APIStatusError] = RedirectError
    else:
        cls = _BY_TYPE.get(error_type or "") or _BY_STATUS.get(status) or _fallback(status)
    return cls(
        status_code=status,
        error_type=error_type,
        upstream_message=message,
        retry_after=retry_after_seconds(headers, message),
        retry_hint=_should_retry_header(headers),
    )


# How an error inside a stream would have been answered as a plain response (kimi-api.md 4).
_EVENT_STATUS = {
    "rate_limit_reached_error": 429,
    "engine_overloaded_error": 429,
    "exceeded_current_quota_error": 429,
    "content_filter": 400,
    "invalid_request_error": 400,
}


def error_from_event(
    chunk: Mapping[str, object], *, secrets: tuple[str, ...] = ()
) -> APIStatusError:
    """An `{"error": ...}` event inside an SSE stream (undocumented, seen with proxies)."""
    body = json.dumps(dict(chunk)).encode()
    error_type, _ = _parse_error_body(body)
    return error_from_response(_EVENT_STATUS.get(error_type or "", 500), {}, body, secrets=secrets)


def _should_retry_header(headers: Mapping[str, str]) -> bool | None:
    value = {name.lower(): value for name, value in headers.items()}.get("x-should-retry")
    return {"true": True, "false": False}.get((value or "").strip().lower())


def _fallback(status: int) -> type[APIStatusError]:
    return ServerError if status >= 500 else APIStatusError


def _parse_error_body(body: bytes) -> tuple[str | None, str]:
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        # e.g. nginx's HTML "504 Gateway Time-out" page: its title, else its text, kept short.
        title = _TITLE.search(text)
        page = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
        return None, " ".join(page.split())[:120]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return _str_or_none(error.get("type")), str(error.get("message") or "")
        if isinstance(error, str):  # the gateway shape for unknown routes
            return None, f"{error}: {data.get('message', '')}".strip()
    return None, text[:120]


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def retry_after_seconds(headers: Mapping[str, str], message: str = "") -> float | None:
    """Seconds Kimi asks us to wait: retry-after-ms, Retry-After (seconds or date), or the text.

    Zero, negative or unreadable values count as no hint (backoff applies), as in the
    OpenAI and Anthropic SDKs: a hint of "0" must not turn retries into a tight loop.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return _positive(float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    if "retry-after" in lowered:
        value = lowered["retry-after"].strip()
        try:
            return _positive(float(value))
        except ValueError:
            try:
                return _positive(parsedate_to_datetime(value).timestamp() - time())
            except (TypeError, ValueError):
                pass
    match = _TRY_AGAIN.search(message)
    return _positive(float(match.group(1))) if match else None


def _positive(seconds: float) -> float | None:
    return seconds if seconds > 0 else None


def should_retry(error: APIError, *, request_sent: bool) -> bool:
    """Retry only where another attempt can succeed and cannot bill twice.

    `x-should-retry: false` vetoes a retry; `true` never overrides our own refusal (a quota or
    TPD error stays final whatever a proxy says).
    """
    if isinstance(error, APIStatusError) and error.retry_hint is False:
        return False
    if isinstance(error, APIConnectionError):
        return not request_sent
    if isinstance(error, RateLimitError):
        return not error.is_daily_limit
    if isinstance(error, ServerError):
        return error.status_code in RETRYABLE_STATUSES
    return False


def may_have_run(error: APIError, *, request_sent: bool) -> bool:
    """Whether a failed request that runs something (a fiber) may have run it anyway: a cut
    connection after the request left, or a gateway error (500/502/504) from behind which the
    work may have started. A 429 or 503 says it was refused, so trying again cannot run it
    twice."""
    if isinstance(error, APIConnectionError):
        return request_sent
    if isinstance(error, RateLimitError):
        return False
    return isinstance(error, ServerError) and error.status_code != 503


def retry_delay(attempt: int, error: APIError, *, base: float = BACKOFF_BASE) -> float | None:
    """Seconds before retry number attempt+1, or None when Kimi asks for a wait over the cap."""
    asked = error.retry_after if isinstance(error, APIStatusError) else None
    if asked is not None:
        return asked if asked <= RETRY_AFTER_CAP else None
    backoff = min(BACKOFF_CAP, base * 2.0**attempt)
    return backoff * random.uniform(0.75, 1.0)


def wait_allowed(delay: float, *, now: float, deadline: float, waited: float) -> bool:
    """A wait may start only if it ends before the deadline and keeps the call's waits between
    attempts (`waited` so far) within RETRY_TIME_CAP. Time queued for a chat slot or spent in
    attempts is not retry time: a call that waited its turn still gets its retries."""
    return now + delay < deadline and waited + delay <= RETRY_TIME_CAP
