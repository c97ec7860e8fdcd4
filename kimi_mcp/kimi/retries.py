"""One call's attempts: whether a failure may be tried again, and the wait before the next try.

Plain requests (`connection`) and streamed chats (`chat_stream`) share this loop; which errors
are retried and for how long is `policy`'s to say.
"""

import logging

import anyio

from kimi_mcp.errors import APIConnectionError, APIError, APIStatusError
from kimi_mcp.kimi.policy import retry_delay, should_retry, wait_allowed

log = logging.getLogger(__name__)


class Retries:
    """The attempts of one call, all inside its absolute `deadline` (anyio clock)."""

    def __init__(self, *, max_retries: int, backoff: float, deadline: float) -> None:
        self._max_retries = max_retries
        self._backoff = backoff
        self._deadline = deadline
        self._attempt = 0  # failed attempts so far
        self._waited = 0.0  # seconds spent between attempts (the policy caps the total)

    async def wait_or_raise(self, error: APIError, *, sent: bool) -> None:
        """Wait before the next attempt, or raise `error` (marked with the attempts made) when
        it must not be retried: not retryable, out of attempts, or no time left to wait."""
        if self._attempt >= self._max_retries or not should_retry(error, request_sent=sent):
            raise self.marked(error)
        delay = retry_delay(self._attempt, error, base=self._backoff)
        now = anyio.current_time()
        if delay is None or not wait_allowed(
            delay, now=now, deadline=self._deadline, waited=self._waited
        ):
            raise self.marked(error)
        kind = type(error).__name__
        log.info("retrying after %s (attempt %d, waiting %.2fs)", kind, self._attempt + 1, delay)
        await anyio.sleep(delay)
        self._waited += delay
        self._attempt += 1

    def marked(self, error: APIError) -> APIError:
        """`error` as the caller gets it: a status error says how many attempts were made."""
        attempts = self._attempt + 1
        return error.with_attempts(attempts) if isinstance(error, APIStatusError) else error


def not_sent(error: APIError) -> bool:
    """True when no byte of the request left: trying again cannot repeat anything."""
    return isinstance(error, APIConnectionError) and error.not_sent


def may_have_acted(method: str, error: APIError) -> bool:
    """GETs cannot bill or change anything, so only their answer matters, not whether it left."""
    return method != "GET" and not not_sent(error)
