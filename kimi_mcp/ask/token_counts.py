"""Kimi's token count of each message, cached by content: a stored turn is counted once.

Fitting a long conversation needs exact counts, but asking Kimi to count the whole history on
every call would send it all again each time. Counting message by message lets a count be
reused for as long as the message stays in the history (and across conversations that share a
system prompt or a document). Counts are kept in memory and in the store, so other processes
and replicas reuse them too; the store is only a cache, so its failures cost a recount, never
the call. The sum of per-message counts is never below Kimi's count of the whole list (each
count carries the per-message framing), so fitting with it is safe.

An upper bound of a count (from Kimi's usage, see `usage_counts`) may be kept under a message's
key as well: it is as safe for fitting as the count itself.
"""

import logging
from collections import OrderedDict
from typing import Any

import anyio
import anyio.abc

from kimi_mcp.ask.message_keys import HistoryKeys, message_key
from kimi_mcp.errors import StoreError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.store.token_counts import TokenCountStore

log = logging.getLogger(__name__)

Message = dict[str, Any]
CACHE_SIZE = 8192  # message counts kept; about 1 MB
CONCURRENCY = 4  # counts asked at once: Kimi's lowest tiers allow few requests in flight


class TokenCounter:
    def __init__(
        self, client: KimiClient, store: TokenCountStore | None = None, *, size: int = CACHE_SIZE
    ) -> None:
        self._client = client
        self._store = store
        self._size = size
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._limit = anyio.CapacityLimiter(CONCURRENCY)

        self.history_keys = HistoryKeys()  # each conversation's message keys, kept as it grows

    async def count_each(
        self, model: str, messages: list[Message], *, deadline: float
    ) -> list[int]:
        keys = [message_key(model, message) for message in messages]
        counts = await self.known(keys)
        missing = {key: m for key, m in zip(keys, messages, strict=True) if key not in counts}
        counts.update(await self.count(model, missing, deadline=deadline))
        return [counts[key] for key in keys]

    async def known(self, keys: list[str]) -> dict[str, int]:
        """The counts kept (in memory, else in the store) among `keys`; Kimi is not asked."""
        counts = {key: self._cache[key] for key in keys if key in self._cache}
        for key in counts:
            self._cache.move_to_end(key)
        stored = await self._stored(list(dict.fromkeys(k for k in keys if k not in counts)))
        for key, tokens in stored.items():
            self._remember(key, tokens)
        return counts | stored

    def remembered(self, key: str) -> int | None:
        """The count kept in this process's memory, if any (no store read)."""
        return self._cache.get(key)

    async def count(
        self, model: str, messages: dict[str, Message], *, deadline: float, store: bool = True
    ) -> dict[str, int]:
        """Kimi's count of each of `messages` (by key), one request each, kept for later: in
        memory, and in the store unless `store` is False (the caller then keeps them itself,
        with what else it writes, in one round trip)."""
        counts: dict[str, int] = {}
        errors: list[Exception] = []

        async def count(key: str, message: Message, group: anyio.abc.TaskGroup) -> None:
            async with self._limit:
                try:
                    counts[key] = await self._client.estimate_tokens(
                        model, [message], deadline=deadline
                    )
                except Exception as exc:  # raised whole below: a task group would wrap it
                    errors.append(exc)
                    group.cancel_scope.cancel()  # the other counts are moot now

        async with anyio.create_task_group() as group:
            for key, message in messages.items():
                group.start_soon(count, key, message, group)
        if errors:
            raise errors[0]
        for key, tokens in counts.items():
            self._remember(key, tokens)
        if store:
            await self._keep(counts)
        return counts

    def remember_all(self, counts: dict[str, int]) -> None:
        """Keep counts (or upper bounds of them) for this process; the caller keeps them in the
        store, for every other one (with the other writes after an answer)."""
        for key, tokens in counts.items():
            self._remember(key, tokens)

    def stored(self, failure: Exception | None) -> None:
        """Counts the caller wrote to the store with its other writes, or `failure` kept them
        out: logged, and nothing is lost (the store is a cache; a later call counts again)."""
        if isinstance(failure, StoreError):
            log.info("token counts not kept in the store: %s", failure)
        elif failure is not None:
            log.error("token counts not kept (a kimi-mcp bug; please report it)", exc_info=failure)

    async def _stored(self, keys: list[str]) -> dict[str, int]:
        if self._store is None or not keys:
            return {}
        try:
            return await self._store.get_many(keys)
        except StoreError as exc:
            log.info("token counts not read from the store (counting again): %s", exc)
            return {}

    async def _keep(self, counts: dict[str, int]) -> None:
        if self._store is None or not counts:
            return
        try:
            await self._store.put_many(counts)
        except StoreError as exc:
            log.info("token counts not kept in the store: %s", exc)

    def _remember(self, key: str, tokens: int) -> None:
        self._cache[key] = tokens
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
