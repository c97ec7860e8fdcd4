"""Kimi's token counts of messages, kept by content key so every process and replica reuses them.

A count never changes for a given model and message, so a lost or stale entry only costs a
recount; the store is a cache, and a store failure never fails the call that wanted the count.
`sqlite_token_counts` and `redis_token_counts` implement it.
"""

from typing import Protocol

MAX_ENTRIES = 200_000  # counts kept (about 20 MB on disk); the least recently stored go first
KEEP_DAYS = 30  # a count unused this long is forgotten (Redis TTL; SQLite prunes by age too)


class TokenCountStore(Protocol):
    async def check(self) -> None: ...

    async def get_many(self, keys: list[str]) -> dict[str, int]:
        """The counts found among `keys` (missing keys are simply absent).

        Raises:
            StoreError: the store failed.
        """

    async def put_many(self, counts: dict[str, int]) -> None:
        """Keep `counts` (content key -> tokens).

        Raises:
            StoreError: the store failed.
        """

    async def aclose(self) -> None: ...
