"""The SSE reader: usage in either place, reasoning apart, and [DONE] as the only completion."""

import json

import pytest

from kimi_mcp.errors import ResponseValidationError
from kimi_mcp.kimi.stream import StreamState


def data(chunk: object) -> str:
    return f"data: {json.dumps(chunk)}"


def delta(**fields: object) -> str:
    return data({"choices": [{"index": 0, "delta": fields, "finish_reason": None}]})


USAGE = {"prompt_tokens": 19, "completion_tokens": 13, "total_tokens": 32, "cached_tokens": 4}


def feed(lines: list[str]) -> StreamState:
    state = StreamState(model="kimi-k2.6")
    for line in lines:  # each line one event: a blank line dispatches it
        if state.feed_line(line) or state.feed_line(""):
            break
    return state


def test_usage_inside_the_choice_is_read() -> None:
    finish = data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": USAGE}]})
    state = feed(
        [
            delta(role="assistant", content=""),
            delta(content="Hel"),
            "",
            delta(content="lo"),
            finish,
            "data: [DONE]",
        ]
    )
    outcome = state.outcome()
    assert outcome.content == "Hello"
    assert outcome.usage is not None and outcome.usage.cached_tokens == 4
    assert outcome.truncated_reason is None


def test_usage_at_chunk_level_is_read() -> None:
    finish = data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": USAGE})
    outcome = feed([delta(content="x"), finish, "data: [DONE]"]).outcome()
    assert outcome.usage is not None and outcome.usage.total_tokens == 32


def test_cached_tokens_in_prompt_tokens_details_is_read() -> None:
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 1,
        "total_tokens": 6,
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    finish = data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": usage}]})
    outcome = feed([finish, "data: [DONE]"]).outcome()
    assert outcome.usage is not None and outcome.usage.cached_tokens == 3


def test_reasoning_is_collected_apart_from_content() -> None:
    state = feed(
        [
            delta(reasoning_content="Let me see. "),
            delta(reasoning_content="Yes."),
            delta(content="42"),
        ]
    )
    assert state.phase == "answering"
    outcome = state.outcome()
    assert outcome.reasoning == "Let me see. Yes." and outcome.content == "42"


def test_a_stream_without_done_is_cut_even_after_a_finish_reason() -> None:
    finish = data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    assert feed([delta(content="x"), finish]).outcome().truncated_reason == "stream_cut"


def test_length_and_content_filter_finishes_are_truncations() -> None:
    for reason in ("length", "content_filter"):
        finish = data({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
        assert (
            feed([delta(content="x"), finish, "data: [DONE]"]).outcome().truncated_reason == reason
        )


def test_a_malformed_chunk_is_a_validation_error() -> None:
    with pytest.raises(ResponseValidationError):
        feed(["data: {not json"])


def test_comments_and_other_fields_are_ignored() -> None:
    state = feed([": keep-alive", "event: message", "id: 1", delta(content="ok"), "data: [DONE]"])
    assert state.outcome().content == "ok" and state.done
