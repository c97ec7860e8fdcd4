"""The KimiError tree; str(exc) is the sentence the model reads, so it says what to do next.

KimiError
├── ConfigError                 bad settings: start-up stops (exit 2), never a tool error
├── NotConfiguredError          no API key: every API tool answers this
├── UnusableKeyError            a key no HTTP header can carry (settings refuse it earlier)
├── InputError                  a tool argument we refuse before calling Kimi
├── StoreError                  the conversation store or upload ledger cannot be used
└── APIError                    talking to Kimi failed
    ├── APIConnectionError      no usable answer (refused, reset, cut)
    │   └── APITimeoutError
    ├── ResponseValidationError 2xx whose body is not what the docs describe
    │   └── UpstreamMalformedError  a stream chunk of the wrong shape (kind upstream_malformed)
    └── APIStatusError          non-2xx; .status_code .error_type .retry_after
        ├── BadRequestError          400 invalid_request_error
        │   └── ContentFilterError   400 content_filter
        ├── AuthenticationError      401
        ├── PermissionDeniedError    403
        ├── NotFoundError            404 resource_not_found_error
        ├── RateLimitError           429 rate_limit_reached_error, engine_overloaded_error
        ├── QuotaExceededError       429 exceeded_current_quota_error
        ├── ServerError              5xx
        └── RedirectError            3xx (never followed: the key goes nowhere else)
"""


class KimiError(Exception):
    """Base of every error kimi-mcp raises on purpose."""


class ConfigError(KimiError):
    """Settings are invalid; raised at start-up only."""


class NotConfiguredError(KimiError):
    def __init__(self) -> None:
        super().__init__(
            "No Kimi API key is configured, so this tool cannot reach Kimi. Tell the user to set "
            "MOONSHOT_API_KEY (a key from platform.kimi.ai, or platform.kimi.com for the China "
            "region) in this MCP server's environment and restart it. Retrying will not help."
        )


class UnusableKeyError(KimiError):
    def __init__(self) -> None:
        super().__init__(
            "The Kimi API key holds characters no HTTP header can carry (non-ASCII, spaces or "
            "control characters), so nothing was sent. Tell the user to copy MOONSHOT_API_KEY "
            "again from the Kimi console and restart this MCP server. Retrying will not help."
        )


class InputError(KimiError):
    """A tool argument refused before anything was sent upstream."""


class SpendCapError(KimiError):
    """Today's recorded spend reached daily_spend_cap: refused before anything was sent."""


class StoreError(KimiError):
    """A kept-state file (conversations, upload ledger) that cannot be used: names it and the fix.

    Not a bug of kimi-mcp: a full disk, a read-only directory or another program's file at the
    path are the user's to fix, so the message says how.
    """

    def __init__(self, path: object, problem: str, fix: str) -> None:
        self.path, self.problem, self.fix = str(path), problem, fix
        super().__init__(f"kimi-mcp cannot use its store {self.path}: {problem}. {fix}")

    def with_note(self, note: str) -> "StoreError":
        """The same error with a sentence added (e.g. that nothing was sent to Kimi)."""
        self.args = (f"{self.args[0]} {note}",)
        return self


class APIError(KimiError):
    """Anything that went wrong talking to Kimi."""


class APIConnectionError(APIError):
    """No usable answer: the connection failed, was reset, or the body was cut."""

    def __init__(self, message: str, *, not_sent: bool = False) -> None:
        super().__init__(message)
        self.not_sent = not_sent  # True when no byte of the request left: always safe to retry


class APITimeoutError(APIConnectionError):
    """Kimi did not answer in time."""


class ResponseValidationError(APIError):
    """Kimi answered 2xx with a body that does not match the documented shape."""


class UpstreamMalformedError(ResponseValidationError):
    """A stream chunk that is not JSON or not of the documented shape. Once text was streamed,
    the call returns it as a partial answer (truncated_reason "upstream_malformed") instead."""

    kind = "upstream_malformed"


class APIStatusError(APIError):
    """Kimi answered with a non-2xx status."""

    advice = "Retrying the same request will not help."

    def __init__(
        self,
        *,
        status_code: int,
        error_type: str | None,
        upstream_message: str,
        retry_after: float | None = None,
        attempts: int = 1,
        retry_hint: bool | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_type = error_type
        self.upstream_message = upstream_message
        self.retry_after = retry_after
        self.attempts = attempts
        self.retry_hint = retry_hint  # the x-should-retry header, when the server sent one
        super().__init__(self._compose())

    def _compose(self) -> str:
        kind = f" {self.error_type}" if self.error_type else ""
        said = f': "{self.upstream_message}"' if self.upstream_message else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"Kimi answered HTTP {self.status_code}{kind}{said}{tries}. {self.hint()}"

    def hint(self) -> str:
        return self.advice

    def with_attempts(self, attempts: int) -> "APIStatusError":
        self.attempts = attempts
        self.args = (self._compose(),)
        return self


class BadRequestError(APIStatusError):
    def hint(self) -> str:
        text = self.upstream_message.lower()
        if "token" in text and ("limit" in text or "too long" in text):
            return (
                "The prompt plus the answer budget exceed the model's context window: shorten "
                "the input, lower max_tokens, or pick a model with a larger context_length "
                "(see list_models)."
            )
        return "Fix the request (see Kimi's message); retrying it unchanged will not help."


class ContentFilterError(BadRequestError):
    advice = "Kimi's moderation rejected the input or the output; rephrase the request."

    def hint(self) -> str:
        return self.advice


class AuthenticationError(APIStatusError):
    advice = (
        "Kimi rejected the API key. Tell the user to check MOONSHOT_API_KEY; keys are per "
        'region, so a platform.kimi.com (China) key needs region = "china" and a '
        'platform.kimi.ai key needs region = "global". Retrying will not help.'
    )


class PermissionDeniedError(APIStatusError):
    advice = "This account may not use that API or resource; retrying will not help."


class NotFoundError(APIStatusError):
    def hint(self) -> str:
        if "model" in self.upstream_message.lower():
            return "Call list_models to see the model ids this key can use."
        return "Check the id: list_files shows the files that exist."


class RateLimitError(APIStatusError):
    @property
    def is_daily_limit(self) -> bool:
        return "TPD" in self.upstream_message

    def hint(self) -> str:
        if self.is_daily_limit:
            return "The account's daily token limit (TPD) is used up; try again tomorrow."
        wait = f"{self.retry_after:.0f}" if self.retry_after is not None else "a few"
        return f"Kimi is busy or rate-limiting this account: wait {wait} seconds, then retry."


class QuotaExceededError(APIStatusError):
    advice = (
        "The Kimi account is out of balance or suspended. Call check_balance and ask the user "
        "to top up; retrying will not help."
    )


class ServerError(APIStatusError):
    def hint(self) -> str:
        if self.retry_after is not None:  # over our cap, or it would have been waited out
            return f"Kimi is unavailable and asked to wait {self.retry_after:.0f} seconds."
        return "Kimi had a server-side problem; retrying a little later may help."


class RedirectError(APIStatusError):
    advice = (
        "kimi-mcp never follows redirects (the API key must only go to the configured "
        "base_url). Check the base_url setting."
    )
