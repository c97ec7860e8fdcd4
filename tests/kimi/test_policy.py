"""Error mapping (error.type first, then status) and the retry policy, as pure functions."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from kimi_mcp.errors import (
    APIConnectionError,
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
from kimi_mcp.kimi.policy import (
    RETRY_AFTER_CAP,
    RETRY_TIME_CAP,
    error_from_event,
    error_from_response,
    retry_after_seconds,
    retry_delay,
    should_retry,
    wait_allowed,
)


def body(error_type: str, message: str = "m") -> bytes:
    return json.dumps({"error": {"type": error_type, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (400, "invalid_request_error", BadRequestError),
        (400, "content_filter", ContentFilterError),
        (401, "invalid_authentication_error", AuthenticationError),
        (401, "incorrect_api_key_error", AuthenticationError),
        (403, "permission_denied_error", PermissionDeniedError),
        (404, "resource_not_found_error", NotFoundError),
        (429, "rate_limit_reached_error", RateLimitError),
        (429, "engine_overloaded_error", RateLimitError),
        (429, "exceeded_current_quota_error", QuotaExceededError),
        (500, "server_error", ServerError),
        (500, "unexpected_output", ServerError),
        (503, "server_unavailable", ServerError),
        # Kimi uses 403 for some balance problems: the type decides, not the status.
        (403, "exceeded_current_quota_error", QuotaExceededError),
    ],
)
def test_error_type_decides_the_class(
    status: int, error_type: str, expected: type[APIStatusError]
) -> None:
    error = error_from_response(status, {}, body(error_type))
    assert type(error) is expected
    assert error.status_code == status and error.error_type == error_type


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (429, RateLimitError),
        (502, ServerError),
        (504, ServerError),
        (418, APIStatusError),
    ],
)
def test_status_decides_when_the_body_is_not_kimi_json(
    status: int, expected: type[APIStatusError]
) -> None:
    error = error_from_response(status, {}, b"<html><title>504 Gateway Time-out</title></html>")
    assert type(error) is expected


def test_gateway_shape_for_unknown_routes_is_read() -> None:
    raw = json.dumps({"code": 5, "error": "url.not_found", "message": "x", "status": False})
    error = error_from_response(404, {}, raw.encode())
    assert isinstance(error, NotFoundError)
    assert "url.not_found" in str(error)


def test_redirect_is_an_error_that_names_the_target() -> None:
    error = error_from_response(307, {"location": "http://elsewhere/v1"}, b"")
    assert isinstance(error, RedirectError)
    assert "http://elsewhere/v1" in str(error)


def test_upstream_echo_of_the_key_is_redacted() -> None:
    error = error_from_response(
        401,
        {},
        body("invalid_authentication_error", "bad key sk-secret-1"),
        secrets=("sk-secret-1",),
    )
    assert "sk-secret-1" not in str(error)
    assert "[redacted]" in str(error)


@pytest.mark.parametrize(
    ("error_type", "status", "advice"),
    [
        ("exceeded_current_quota_error", 429, "check_balance"),
        ("resource_not_found_error", 404, "list_models"),
        ("invalid_authentication_error", 401, "MOONSHOT_API_KEY"),
    ],
)
def test_messages_tell_the_model_what_to_do(error_type: str, status: int, advice: str) -> None:
    message = "Not found the model kimi-k9 or Permission denied" if status == 404 else "m"
    assert advice in str(error_from_response(status, {}, body(error_type, message)))


def test_rate_limit_message_says_how_long_to_wait() -> None:
    message = (
        "Your account org<ak> request reached organization max RPM: 3, "
        "please try again after 20 seconds"
    )
    error = error_from_response(429, {}, body("rate_limit_reached_error", message))
    assert error.retry_after == 20
    assert "wait 20 seconds" in str(error)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "0"}, None),
        ({"retry-after": "-5"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after-ms": "0"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_retry_after_as_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = retry_after_seconds({"Retry-After": when})
    assert seconds is not None and 25 <= seconds <= 31


def rate_limit(message: str = "m", retry_after: float | None = None) -> RateLimitError:
    return RateLimitError(
        status_code=429,
        error_type="rate_limit_reached_error",
        upstream_message=message,
        retry_after=retry_after,
    )


def test_what_is_retried_and_what_is_not() -> None:
    assert should_retry(rate_limit(), request_sent=True)
    assert should_retry(error_from_response(503, {}, b""), request_sent=True)
    assert should_retry(APIConnectionError("refused", not_sent=True), request_sent=False)
    assert not should_retry(APIConnectionError("reset"), request_sent=True)
    assert not should_retry(
        rate_limit("request reached organization TPD rate limit"), request_sent=True
    )
    for error_type, status in [
        ("exceeded_current_quota_error", 429),
        ("invalid_request_error", 400),
        ("invalid_authentication_error", 401),
        ("permission_denied_error", 403),
        ("resource_not_found_error", 404),
        ("content_filter", 400),
    ]:
        assert not should_retry(
            error_from_response(status, {}, body(error_type)), request_sent=True
        )
    assert not should_retry(error_from_response(501, {}, b""), request_sent=True)


def test_backoff_grows_and_stays_under_the_cap() -> None:
    delays = [retry_delay(attempt, rate_limit()) for attempt in range(8)]
    assert all(d is not None and 0 < d <= 8.0 for d in delays)
    first, last = delays[0], delays[-1]
    assert first is not None and last is not None and first < last


def test_retry_after_is_honoured_up_to_the_cap_then_refused() -> None:
    assert retry_delay(0, rate_limit(retry_after=2.5)) == 2.5
    assert retry_delay(0, rate_limit(retry_after=RETRY_AFTER_CAP + 1)) is None


def test_x_should_retry_false_vetoes_and_true_never_overrides() -> None:
    vetoed = error_from_response(503, {"x-should-retry": "false"}, b"")
    assert not should_retry(vetoed, request_sent=False)
    quota_body = body("exceeded_current_quota_error")
    quota = error_from_response(429, {"X-Should-Retry": "true"}, quota_body)
    assert not should_retry(quota, request_sent=False)
    assert error_from_response(503, {"x-should-retry": "maybe"}, b"").retry_hint is None


def test_waits_stay_inside_the_deadline_and_the_total_retry_budget() -> None:
    assert wait_allowed(1.0, now=10.0, deadline=20.0, waited=0.0)
    assert not wait_allowed(1.0, now=19.5, deadline=20.0, waited=0.0)
    assert not wait_allowed(2.0, now=0.0, deadline=1e9, waited=RETRY_TIME_CAP - 1)
    # Time since the call started (queued for a slot, in attempts) is not retry time.
    assert wait_allowed(2.0, now=1000.0, deadline=1e9, waited=0.0)


def test_an_error_event_in_a_stream_is_classified_like_a_response() -> None:
    event = {"error": {"type": "engine_overloaded_error", "message": "busy"}}
    error = error_from_event(event)
    assert isinstance(error, RateLimitError) and error.status_code == 429
    quota = error_from_event({"error": {"type": "exceeded_current_quota_error", "message": "x"}})
    assert isinstance(quota, QuotaExceededError)
    assert isinstance(error_from_event({"error": {"message": "?"}}), ServerError)


def test_a_5xx_asking_for_a_long_wait_says_how_long() -> None:
    """Contract: a wait over the cap fails at once, with the number of seconds in the message."""
    error = error_from_response(503, {"retry-after": "300"}, b"busy")
    assert "wait 300 seconds" in str(error)
    assert "wait" not in str(error_from_response(503, {}, b"busy"))
