"""The turns kept in memory are bounded: by conversations and by characters, oldest use first out
(a server continuing many long conversations must not grow without end)."""

from kimi_mcp.store.conversation_cache import NOTHING, ConversationCache
from kimi_mcp.store.conversations import Turn


def test_the_least_recently_used_conversation_leaves_first() -> None:
    cache = ConversationCache(conversations=2, chars=1_000)
    for name in ("a", "b"):
        cache.extend(name, NOTHING, "t", 1, [Turn("user", name)])
    assert cache.get("a", "t").turns == (Turn("user", "a"),)  # "a" used last: "b" is oldest
    cache.extend("c", NOTHING, "t", 1, [Turn("user", "c")])
    assert cache.get("b", "t") is NOTHING
    assert [cache.get(name, "t").next for name in ("a", "c")] == [1, 1]


def test_characters_are_bounded_and_a_conversation_too_big_is_not_kept() -> None:
    cache = ConversationCache(conversations=10, chars=100)
    cache.extend("a", NOTHING, "t", 1, [Turn("user", "x" * 60)])
    cache.extend("b", NOTHING, "t", 1, [Turn("assistant", "y" * 30, reasoning="z" * 30)])
    assert cache.get("a", "t") is NOTHING  # 60 + 60 > 100: the older one went
    kept = cache.get("b", "t")
    assert kept.chars == 60
    cache.extend("b", kept, "t", 2, [Turn("user", "w" * 50)])  # 110 > 100: not kept at all
    assert cache.get("b", "t") is NOTHING


def test_a_different_creation_stamp_is_another_conversation() -> None:
    cache = ConversationCache()
    cache.extend("a", NOTHING, "created-1", 1, [Turn("user", "old")])
    assert cache.get("a", "created-2") is NOTHING
    assert cache.latest("a").created == "created-1"
