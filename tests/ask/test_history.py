"""HistoryMessages: a conversation's turns as Kimi's messages, each turn built once per process.

The messages must always be exactly what `turn_message` makes of the turns loaded now: the memo
only saves rebuilding them (about 0.3 ms per ask at turn 200)."""

from kimi_mcp.ask.history import HistoryMessages
from kimi_mcp.ask.tool_loop import turn_message
from kimi_mcp.store.conversations import Conversation, Turn

CALL = {"id": "c1", "type": "function", "function": {"name": "web_search", "arguments": "{}"}}


def _conversation(turns: list[Turn], conversation_id: str = "c-1") -> Conversation:
    return Conversation(conversation_id, "kimi-k2.6", None, turns)


def _turns(count: int, word: str = "q") -> list[Turn]:
    return [Turn("user" if i % 2 == 0 else "assistant", f"{word} {i}") for i in range(count)]


def _expected(turns: list[Turn], thinks: bool) -> list[dict[str, object]]:
    return [turn_message(turn, thinks) for turn in turns]


def test_a_growing_conversation_reuses_the_messages_of_its_earlier_turns() -> None:
    histories, turns = HistoryMessages(), _turns(200)
    first = histories.of(_conversation(turns), thinks=False)
    grown = [*turns, Turn("user", "new"), Turn("assistant", "answer")]
    again = histories.of(_conversation(grown), thinks=False)
    assert first == _expected(turns, False) and again == _expected(grown, False)
    assert all(a is b for a, b in zip(first, again[:200], strict=True))  # not built again


def test_an_older_load_gets_only_its_own_turns() -> None:
    histories, turns = HistoryMessages(), _turns(12)
    histories.of(_conversation(turns), thinks=False)
    assert histories.of(_conversation(turns[:10]), thinks=False) == _expected(turns[:10], False)
    assert histories.of(_conversation(turns), thinks=False) == _expected(turns, False)


def test_other_turns_under_the_same_id_are_built_anew() -> None:
    histories = HistoryMessages()
    histories.of(_conversation(_turns(10, "old")), thinks=False)
    fresh = _turns(12, "new")  # e.g. a Redis conversation dropped and made anew under its id
    assert histories.of(_conversation(fresh), thinks=False) == _expected(fresh, False)


def test_a_thinking_model_gets_the_reasoning_back_on_tool_call_turns() -> None:
    histories = HistoryMessages()
    turns = [
        Turn("user", "look it up"),
        Turn("assistant", "", "I should search", [CALL]),
        Turn("tool", "results", tool_call_id="c1"),
        Turn("assistant", "found it"),
    ]
    plain = histories.of(_conversation(turns), thinks=False)
    thinking = histories.of(_conversation(turns), thinks=True)
    assert plain == _expected(turns, False) and thinking == _expected(turns, True)
    assert thinking[1]["reasoning_content"] == "I should search"
    assert "reasoning_content" not in plain[1]


def test_callers_may_extend_what_they_get() -> None:
    histories, turns = HistoryMessages(), _turns(4)
    history = histories.of(_conversation(turns), thinks=False)
    history.append({"role": "user", "content": "not a stored turn"})
    assert histories.of(_conversation(turns), thinks=False) == _expected(turns, False)
