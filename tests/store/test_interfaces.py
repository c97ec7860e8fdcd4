"""What every store backend must do, through the interfaces its callers hold.

Each test takes `open_conversations` or `open_ledger`, a factory parametrised over the backends
(`open_backend` in tests/store/conftest.py: SQLite and Redis): every backend must pass the same
tests, reopening included, since conversations outlive a server restart.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from kimi_mcp.errors import InputError
from kimi_mcp.store.conversations import (
    DEFAULT_OWNER,
    Conversation,
    ConversationStore,
    Turn,
    new_conversation,
)
from kimi_mcp.store.uploads import LedgerEntry, UploadLedger
from tests.store.conftest import OpenStores

pytestmark = pytest.mark.anyio
OWNER = DEFAULT_OWNER

OpenConversations = Callable[[], Awaitable[ConversationStore]]
OpenLedger = Callable[[], Awaitable[UploadLedger]]
MODEL = "kimi-k2.6"


@pytest.fixture
def open_conversations(open_backend: OpenStores) -> OpenConversations:
    """Opens the same conversation store again each time it is called."""

    async def open_store() -> ConversationStore:
        return open_backend().conversations

    return open_store


@pytest.fixture
def open_ledger(open_backend: OpenStores) -> OpenLedger:
    async def open_store() -> UploadLedger:
        return open_backend().uploads

    return open_store


# Conversations ----------------------------------------------------------------------------------


async def test_a_conversation_is_kept_whole_and_outlives_a_reopen(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    conversation = new_conversation(MODEL, "Be brief.", owner=OWNER)
    turns = [Turn("user", "Why is the sky blue?"), Turn("assistant", "Rayleigh.", "thought")]
    await store.append(conversation, turns, MODEL, ["file-a", "file-b"])
    await store.aclose()

    kept = await (await open_conversations()).load(conversation.id, owner=OWNER)
    assert (kept.id, kept.model, kept.system) == (conversation.id, MODEL, "Be brief.")
    assert kept.turns == turns
    assert kept.file_ids == ["file-a", "file-b"]


async def test_later_turns_follow_in_order_with_the_latest_model_and_documents(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    conversation = new_conversation(MODEL, None, owner=OWNER)
    await store.append(conversation, [Turn("user", "1"), Turn("assistant", "2")], MODEL, [])
    await store.append(conversation, [Turn("user", "3")], "kimi-k3", ["file-a"])
    kept = await store.load(conversation.id, owner=OWNER)
    assert [turn.content for turn in kept.turns] == ["1", "2", "3"]
    assert (kept.model, kept.file_ids) == ("kimi-k3", ["file-a"])


async def test_recent_lists_newest_first_with_counts_and_a_short_first_prompt(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    older, newer = (
        new_conversation(MODEL, None, owner=OWNER),
        new_conversation(MODEL, None, owner=OWNER),
    )
    await store.append(older, [Turn("user", "q" * 500), Turn("assistant", "a")], MODEL, [])
    await store.append(newer, [Turn("user", "second")], MODEL, [])
    listed = await store.recent(10, owner=OWNER)
    assert [s.id for s in listed] == [newer.id, older.id]
    assert (listed[1].turns, listed[1].first_prompt) == (2, "q" * 120)
    assert [s.id for s in await store.recent(1, owner=OWNER)] == [newer.id]


async def test_a_deleted_conversation_stays_gone_and_says_why(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    conversation = new_conversation(MODEL, None, owner=OWNER)
    await store.append(conversation, [Turn("user", "private")], MODEL, [])
    await store.delete(conversation.id, owner=OWNER)
    with pytest.raises(InputError, match="was deleted"):
        await store.load(conversation.id, owner=OWNER)
    with pytest.raises(InputError, match="was deleted"):
        await store.delete(conversation.id, owner=OWNER)
    assert await store.recent(10, owner=OWNER) == []
    with pytest.raises(InputError, match="does not exist"):
        await store.load("conv_never", owner=OWNER)


# The upload ledger ------------------------------------------------------------------------------


async def test_an_upload_is_found_by_content_and_purpose_after_a_reopen(
    open_ledger: OpenLedger, tmp_path: Path
) -> None:
    ledger = await open_ledger()
    entry = LedgerEntry("ab" * 32, "file-extract", "file-1", "notes.txt", 42)
    await ledger.record(entry, tmp_path / "notes.txt")
    await ledger.aclose()

    reopened = await open_ledger()
    assert await reopened.find(entry.sha256, "file-extract") == entry
    assert await reopened.find(entry.sha256, "image") is None
    assert await reopened.describe("file-1") == (entry, str(tmp_path / "notes.txt"))
    assert await reopened.describe("file-unknown") is None


async def test_extracted_text_is_cached_and_forgotten_with_its_upload(
    open_ledger: OpenLedger, tmp_path: Path
) -> None:
    ledger = await open_ledger()
    entry = LedgerEntry("cd" * 32, "file-extract", "file-2", "doc.pdf", 7)
    await ledger.record(entry, tmp_path / "doc.pdf")
    assert await ledger.cached_body("file-2") is None
    await ledger.cache_body("file-2", '{"content": "text"}')
    assert await ledger.cached_body("file-2") == '{"content": "text"}'

    await ledger.forget("file-2")
    assert await ledger.find(entry.sha256, "file-extract") is None
    assert await ledger.cached_body("file-2") is None
    assert await ledger.describe("file-2") is None


async def test_check_passes_on_a_usable_store_and_leaves_it_empty(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    await store.check()
    await store.check()
    assert await store.recent(10, owner=OWNER) == []


async def test_lone_surrogates_round_trip_through_the_store_exactly(
    open_conversations: OpenConversations,
) -> None:
    """Billed answers thrown away: a lone surrogate (JSON and SSE carry them) made storing fail."""
    store = await open_conversations()
    odd = "before \ud800 after \udfff, a pair \U0001f600 and é"
    conversation = new_conversation(MODEL, "system " + odd, owner=OWNER)
    turns = [Turn("user", "question " + odd), Turn("assistant", "answer " + odd, "thought " + odd)]
    await store.append(conversation, turns, MODEL, [])
    await store.aclose()

    reopened = await open_conversations()
    kept = await reopened.load(conversation.id, owner=OWNER)
    assert (kept.system, kept.turns) == ("system " + odd, turns)
    [summary] = await reopened.recent(10, owner=OWNER)
    assert summary.first_prompt == ("question " + odd)[:120]


async def test_a_turn_appended_after_its_conversation_was_deleted_is_refused(
    open_conversations: OpenConversations,
) -> None:
    """A deleted conversation came back: an ask in flight re-created it with its turns."""
    store = await open_conversations()
    conversation = new_conversation(MODEL, None, owner=OWNER)
    await store.append(conversation, [Turn("user", "first")], MODEL, [])
    loaded = await store.load(conversation.id, owner=OWNER)  # an ask starts on it...
    await store.delete(conversation.id, owner=OWNER)  # ...and it is deleted meanwhile
    with pytest.raises(InputError, match="was deleted while Kimi answered"):
        await store.append(loaded, [Turn("user", "late"), Turn("assistant", "a")], MODEL, ["f"])
    with pytest.raises(InputError, match="was deleted"):
        await store.load(conversation.id, owner=OWNER)
    assert await store.recent(10, owner=OWNER) == []


async def test_concurrent_appends_keep_every_document_and_every_turn(
    open_conversations: OpenConversations,
) -> None:
    """Concurrent asks lost a document: file_ids was last-writer-wins."""
    store, other = await open_conversations(), await open_conversations()  # two processes, too
    conversation = new_conversation(MODEL, None, owner=OWNER)
    await store.append(conversation, [Turn("user", "start")], MODEL, ["file-shared"])
    loaded = await store.load(conversation.id, owner=OWNER)
    calls = 8
    async with anyio.create_task_group() as group:
        for n in range(calls):
            target = store if n % 2 else other
            turns = [Turn("user", f"q{n}"), Turn("assistant", f"a{n}")]
            group.start_soon(target.append, loaded, turns, MODEL, ["file-shared", f"file-{n}"])
    kept = await store.load(conversation.id, owner=OWNER)
    assert sorted(kept.file_ids) == sorted(["file-shared", *(f"file-{n}" for n in range(calls))])
    assert len(kept.turns) == 1 + 2 * calls
    for n in range(calls):  # each call's question is followed by its own answer
        at = kept.turns.index(Turn("user", f"q{n}"))
        assert kept.turns[at + 1] == Turn("assistant", f"a{n}")


async def test_another_owners_conversation_answers_exactly_like_an_unknown_id(
    open_conversations: OpenConversations,
) -> None:
    """No isolation between HTTP clients: anyone could list, read, continue and delete all."""
    store = await open_conversations()
    alice = new_conversation(MODEL, None, owner="alice")
    await store.append(alice, [Turn("user", "alice's secret")], MODEL, [])
    ended = new_conversation(MODEL, None, owner="alice")
    await store.append(ended, [Turn("user", "gone")], MODEL, [])
    await store.delete(ended.id, owner="alice")

    assert await store.recent(10, owner="bob") == []
    for conversation_id in (alice.id, ended.id):  # live or deleted: bob learns nothing
        with pytest.raises(InputError) as as_bob:
            await store.load(conversation_id, owner="bob")
        with pytest.raises(InputError) as unknown:
            await store.load("conv_never", owner="bob")
        assert str(as_bob.value) == str(unknown.value).replace("conv_never", conversation_id)
        with pytest.raises(InputError, match="does not exist"):
            await store.delete(conversation_id, owner="bob")
    bobs = Conversation(alice.id, MODEL, None, owner="bob")  # a forged continuation
    with pytest.raises(InputError):
        await store.append(bobs, [Turn("user", "bob writes")], MODEL, [])
    kept = await store.load(alice.id, owner="alice")
    assert kept.turns == [Turn("user", "alice's secret")]
    assert [s.id for s in await store.recent(10, owner="alice")] == [alice.id]


async def test_one_upload_claim_per_content_across_ledgers_sharing_a_file(
    open_ledger: OpenLedger,
) -> None:
    """Two processes (here: two ledgers on one file) cannot both claim the same new content."""
    first, second = await open_ledger(), await open_ledger()
    claim = await first.claim("ab" * 32, "file-extract", seconds=60)
    assert claim is not None
    assert await second.claim("ab" * 32, "file-extract", seconds=60) is None
    assert await second.claim("ab" * 32, "image", seconds=60) is not None  # another purpose
    await first.release(claim)
    assert await second.claim("ab" * 32, "file-extract", seconds=60) is not None


async def test_an_upload_claim_not_released_lapses_after_its_seconds(
    open_ledger: OpenLedger,
) -> None:
    """A process that crashed mid-upload blocks the content no longer than its claim's seconds
    (here none, so no waiting in the test)."""
    first, second = await open_ledger(), await open_ledger()
    assert await first.claim("cd" * 32, "file-extract", seconds=0) is not None
    assert await second.claim("cd" * 32, "file-extract", seconds=60) is not None
