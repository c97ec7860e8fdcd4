"""What every store backend must do, through the interfaces its callers hold.

Each test takes `open_conversations` or `open_ledger`, a factory parametrised over the backends
(SQLite today): a second backend joins the params and must pass the same tests, reopening
included, since conversations outlive a server restart.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from kimi_mcp.errors import InputError
from kimi_mcp.store.conversations import ConversationStore, Turn, new_conversation
from kimi_mcp.store.sqlite_conversations import SqliteConversationStore
from kimi_mcp.store.sqlite_uploads import SqliteUploadLedger
from kimi_mcp.store.uploads import LedgerEntry, UploadLedger

pytestmark = pytest.mark.anyio

OpenConversations = Callable[[], Awaitable[ConversationStore]]
OpenLedger = Callable[[], Awaitable[UploadLedger]]
MODEL = "kimi-k2.6"


@pytest.fixture(params=["sqlite"])
async def open_conversations(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[OpenConversations]:
    """Opens the same conversation store again each time it is called; all closed at the end."""
    opened: list[ConversationStore] = []

    async def open_store() -> ConversationStore:
        assert request.param == "sqlite"
        opened.append(SqliteConversationStore(tmp_path / "conversations.sqlite3", ttl_days=30))
        return opened[-1]

    yield open_store
    for store in opened:
        await store.aclose()


@pytest.fixture(params=["sqlite"])
async def open_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenLedger]:
    opened: list[UploadLedger] = []

    async def open_store() -> UploadLedger:
        assert request.param == "sqlite"
        opened.append(SqliteUploadLedger(tmp_path / "uploads.sqlite3"))
        return opened[-1]

    yield open_store
    for ledger in opened:
        await ledger.aclose()


# Conversations ----------------------------------------------------------------------------------


async def test_a_conversation_is_kept_whole_and_outlives_a_reopen(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    conversation = new_conversation(MODEL, "Be brief.")
    turns = [Turn("user", "Why is the sky blue?"), Turn("assistant", "Rayleigh.", "thought")]
    await store.append(conversation, turns, MODEL, ["file-a", "file-b"])
    await store.aclose()

    kept = await (await open_conversations()).load(conversation.id)
    assert (kept.id, kept.model, kept.system) == (conversation.id, MODEL, "Be brief.")
    assert kept.turns == turns
    assert kept.file_ids == ["file-a", "file-b"]


async def test_later_turns_follow_in_order_with_the_latest_model_and_documents(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    conversation = new_conversation(MODEL, None)
    await store.append(conversation, [Turn("user", "1"), Turn("assistant", "2")], MODEL, [])
    await store.append(conversation, [Turn("user", "3")], "kimi-k3", ["file-a"])
    kept = await store.load(conversation.id)
    assert [turn.content for turn in kept.turns] == ["1", "2", "3"]
    assert (kept.model, kept.file_ids) == ("kimi-k3", ["file-a"])


async def test_recent_lists_newest_first_with_counts_and_a_short_first_prompt(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    older, newer = new_conversation(MODEL, None), new_conversation(MODEL, None)
    await store.append(older, [Turn("user", "q" * 500), Turn("assistant", "a")], MODEL, [])
    await store.append(newer, [Turn("user", "second")], MODEL, [])
    listed = await store.recent(10)
    assert [s.id for s in listed] == [newer.id, older.id]
    assert (listed[1].turns, listed[1].first_prompt) == (2, "q" * 120)
    assert [s.id for s in await store.recent(1)] == [newer.id]


async def test_a_deleted_conversation_stays_gone_and_says_why(
    open_conversations: OpenConversations,
) -> None:
    store = await open_conversations()
    conversation = new_conversation(MODEL, None)
    await store.append(conversation, [Turn("user", "private")], MODEL, [])
    await store.delete(conversation.id)
    with pytest.raises(InputError, match="was deleted"):
        await store.load(conversation.id)
    with pytest.raises(InputError, match="was deleted"):
        await store.delete(conversation.id)
    assert await store.recent(10) == []
    with pytest.raises(InputError, match="does not exist"):
        await store.load("conv_never")


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
