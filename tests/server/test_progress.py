"""The progress reporter: best effort, never the reason an answer is lost."""

import pytest

from kimi_mcp.kimi.stream import StreamState
from kimi_mcp.server.progress import ProgressReporter

pytestmark = pytest.mark.anyio


async def test_a_failing_progress_send_does_not_fail_the_call() -> None:
    attempts: list[str] = []

    async def broken(progress: float, message: str) -> None:
        attempts.append(message)
        raise RuntimeError("the client's stream is gone")

    async with ProgressReporter(broken, min_interval=0.0).running() as reporter:
        await reporter.update(StreamState(model="kimi-k2.6"))
        await reporter.update(StreamState(model="kimi-k2.6"))
        outcome = "the answer"
    assert outcome == "the answer" and len(attempts) == 2


async def test_the_body_error_leaves_unwrapped() -> None:
    async def send(progress: float, message: str) -> None:
        return None

    with pytest.raises(ValueError, match="upstream said no"):
        async with ProgressReporter(send).running():
            raise ValueError("upstream said no")
