"""Token counts on Redis: one key per message (`tokens:<content key>`) with a TTL, read with one
MGET and written with one pipeline, so every replica reuses every count."""

from kimi_mcp.store.redis_connection import RedisConnection
from kimi_mcp.store.token_counts import KEEP_DAYS

TTL_SECONDS = KEEP_DAYS * 86_400


class RedisTokenCountStore:
    def __init__(self, connection: RedisConnection) -> None:
        self._redis = connection

    async def check(self) -> None:
        await self._redis.check()

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def get_many(self, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        async with self._redis.errors():
            values = await self._redis.client().mget([self._redis.key("tokens", k) for k in keys])
            return {key: int(v) for key, v in zip(keys, values, strict=True) if v is not None}

    async def put_many(self, counts: dict[str, int]) -> None:
        if not counts:
            return
        async with (
            self._redis.errors(),
            self._redis.client().pipeline(transaction=False) as pipe,
        ):
            for key, tokens in counts.items():
                pipe.set(self._redis.key("tokens", key), tokens, ex=TTL_SECONDS)
            await pipe.execute()
