"""kimi-k3's reasoning_effort across a conversation: asked, remembered, changed, refused."""

import pytest

from kimi_mcp.ask.effort import choose_effort
from kimi_mcp.errors import InputError
from kimi_mcp.store.conversations import Conversation, Turn

TURNS = [Turn("user", "q"), Turn("assistant", "a")]


def conversation(model: str, effort: str | None, turns: list[Turn] = TURNS) -> Conversation:
    return Conversation("conv_1", model, None, list(turns), reasoning_effort=effort)


def test_a_new_kimi_k3_conversation_sends_the_effort_asked_for() -> None:
    choice = choose_effort("kimi-k3", "low", None)
    assert (choice.effort, choice.cache_reset) == ("low", False)


def test_a_later_turn_without_effort_keeps_the_remembered_one() -> None:
    choice = choose_effort("kimi-k3", None, conversation("kimi-k3", "high"))
    assert (choice.effort, choice.cache_reset) == ("high", False)


@pytest.mark.parametrize(
    ("before", "asked", "reset"),
    [("high", "low", True), (None, "low", True), (None, "max", False), ("max", "max", False)],
)
def test_a_changed_effort_resets_the_cache_kimis_default_being_max(
    before: str | None, asked: str, reset: bool
) -> None:
    assert choose_effort("kimi-k3", asked, conversation("kimi-k3", before)).cache_reset is reset


def test_no_cache_to_reset_before_the_first_kimi_k3_turn() -> None:
    assert not choose_effort("kimi-k3", "low", conversation("kimi-k3", "high", [])).cache_reset
    assert not choose_effort("kimi-k3", "low", conversation("kimi-k2.6", None)).cache_reset


def test_a_remembered_effort_is_dropped_not_refused_on_a_model_without_it() -> None:
    choice = choose_effort("kimi-k2.6", None, conversation("kimi-k3", "high"))
    assert (choice.effort, choice.cache_reset) == (None, False)


def test_an_effort_asked_of_another_model_is_refused_naming_kimi_k3() -> None:
    with pytest.raises(InputError, match=r"kimi-k2\.6 does not take reasoning_effort.*kimi-k3"):
        choose_effort("kimi-k2.6", "low", conversation("kimi-k3", "high"))
