"""The writes after an answer, made in one go on every backend: store first, then bill, and each
failure its own, so a turn the store refuses never loses the call's spend."""

import pytest

from kimi_mcp.errors import InputError
from kimi_mcp.store.answer_writes import Charge, Keep
from kimi_mcp.store.conversations import DEFAULT_OWNER, Turn, new_conversation
from kimi_mcp.store.spend import Spend
from tests.store.conftest import OpenStores

pytestmark = pytest.mark.anyio
MODEL = "kimi-k2.6"
DAY = "2026-12-01"


async def test_the_turns_the_counts_and_the_spend_are_all_kept(open_backend: OpenStores) -> None:
    stores = open_backend()
    conversation = new_conversation(MODEL, None, owner=DEFAULT_OWNER)
    turns = [Turn("user", "why?"), Turn("assistant", "because.")]
    keep = Keep(conversation, turns, MODEL, ["file-a"])
    charge = Charge(DAY, "USD", Spend(0.25, prompt_tokens=7, completion_tokens=3))
    written = await stores.answer_writes.write(keep, {"key-a": 12}, charge)
    assert (written.keep, written.counts, written.charge) == (None, None, None)
    again = open_backend()  # another process reads what was written
    loaded = await again.conversations.load(conversation.id, owner=DEFAULT_OWNER)
    assert loaded.turns == turns and loaded.file_ids == ["file-a"]
    assert await again.token_counts.get_many(["key-a"]) == {"key-a": 12}
    total = await again.spend.day_total(DAY, "USD")
    assert (total.amount, total.prompt_tokens, total.calls) == (0.25, 7, 1)


async def test_a_turn_the_store_refuses_still_records_the_spend(open_backend: OpenStores) -> None:
    """The conversation was deleted while Kimi answered: the turn is not kept (and says why),
    but the call was billed, so its spend is recorded all the same."""
    stores = open_backend()
    conversation = new_conversation(MODEL, None, owner=DEFAULT_OWNER)
    await stores.conversations.append(conversation, [Turn("user", "one")], MODEL, [])
    await stores.conversations.delete(conversation.id, owner=DEFAULT_OWNER)
    keep = Keep(conversation, [Turn("user", "two")], MODEL, [])
    written = await stores.answer_writes.write(keep, {}, Charge(DAY, "USD", Spend(0.5)))
    assert isinstance(written.keep, InputError) and "was deleted" in str(written.keep)
    assert written.charge is None
    assert (await stores.spend.day_total(DAY, "USD")).amount == 0.5


async def test_nothing_to_write_writes_nothing(open_backend: OpenStores) -> None:
    written = await open_backend().answer_writes.write(None, {}, None)
    assert (written.keep, written.counts, written.charge) == (None, None, None)
