"""The SSE reader: usage in either place, reasoning apart, and [DONE] as the only completion."""

import json

import pytest

from kimi_mcp.errors import ResponseValidationError, UpstreamMalformedError
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


# Malformed chunks: Kimi's fault, reported as upstream_malformed, never a crash of ours ----------


def raw(payload: str) -> str:
    return f"data: {payload}"


@pytest.mark.parametrize(
    "chunk",
    [
        raw('{"choices": [{"index": 0, "delta": "oops"}]}'),
        raw('{"choices": {"index": 0, "delta": {"content": "x"}}}'),
        raw('{"choices": ["oops"]}'),
        raw('{"choices": [{"index": 0, "delta": {"content": 42}}]}'),
        raw('{"choices": [{"index": 0, "delta": {"reasoning_content": ["x"]}}]}'),
        raw('{"choices": [{"index": 0, "delta": {}, "finish_reason": 1}]}'),
        raw('{"choices": [], "usage": "lots"}'),
        raw('{"choices": [], "usage": {"prompt_tokens": "many"}}'),
        raw("[1, 2, 3]"),
        raw("[" * 100_000 + "]" * 100_000),
        raw('{"a":' * 100_000 + "1" + "}" * 100_000),
        "data: {not json",
    ],
    ids=[
        "string-delta",
        "choices-object",
        "choice-string",
        "content-number",
        "reasoning-array",
        "finish-reason-number",
        "usage-string",
        "usage-field-string",
        "chunk-array",
        "deep-array",
        "deep-object",
        "not-json",
    ],
)
def test_malformed_chunks_are_upstream_malformed_and_keep_the_text(chunk: str) -> None:
    state = StreamState(model="kimi-k2.6")
    feed_into(state, [delta(content="Hello "), delta(content="world")])
    with pytest.raises(UpstreamMalformedError, match="Kimi sent a malformed stream chunk"):
        feed_into(state, [chunk])
    outcome = state.outcome("upstream_malformed")
    assert outcome.content == "Hello world"
    assert outcome.truncated_reason == "upstream_malformed"


def feed_into(state: StreamState, lines: list[str]) -> None:
    for line in lines:
        state.feed_line(line)
        state.feed_line("")


def test_a_null_usage_field_is_not_a_cut() -> None:
    usage = {
        "prompt_tokens": 19,
        "completion_tokens": None,
        "total_tokens": 32,
        "cached_tokens": None,
    }
    finish = data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": usage}]})
    outcome = feed([delta(content="ok"), finish, "data: [DONE]"]).outcome()
    assert outcome.truncated_reason is None and outcome.content == "ok"
    assert outcome.usage is not None
    assert (outcome.usage.prompt_tokens, outcome.usage.completion_tokens) == (19, 0)


def test_null_fields_where_kimi_leaves_them_out_are_fine() -> None:
    chunk = raw('{"choices": [{"index": 0, "delta": null, "finish_reason": null}], "usage": null}')
    state = feed([chunk, raw('{"choices": null}'), delta(content=None), "data: [DONE]"])
    assert state.outcome().truncated_reason is None


def test_an_error_field_that_is_null_is_no_error() -> None:
    """`{"error": null}` was reported as "Kimi answered HTTP 500", losing a complete answer."""
    state = feed([delta(content="all of it"), raw('{"error": null}'), "data: [DONE]"])
    outcome = state.outcome()
    assert (outcome.content, outcome.truncated_reason) == ("all of it", None)


def test_a_surrogate_pair_split_across_two_events_is_one_character() -> None:
    """Kimi may send U+1F600 as `\\ud83d` in one delta and `\\ude00` in the next."""
    state = feed(
        [
            raw('{"choices": [{"index": 0, "delta": {"content": "smile \\ud83d"}}]}'),
            raw('{"choices": [{"index": 0, "delta": {"content": "\\ude00!"}}]}'),
            raw('{"choices": [{"index": 0, "delta": {"reasoning_content": "\\ud83d"}}]}'),
            raw('{"choices": [{"index": 0, "delta": {"reasoning_content": "\\ude00"}}]}'),
            "data: [DONE]",
        ]
    )
    outcome = state.outcome()
    assert outcome.content == "smile \U0001f600!" and outcome.reasoning == "\U0001f600"
    assert outcome.content.encode("utf-8") == "smile 😀!".encode()


def test_a_lone_surrogate_does_not_crash_the_reader() -> None:
    state = feed(
        [
            raw('{"choices": [{"index": 0, "delta": {"content": "a\\ud83d b \\ude00"}}]}'),
            "data: [DONE]",
        ]
    )
    assert state.outcome().content == "a\ud83d b \ude00"
