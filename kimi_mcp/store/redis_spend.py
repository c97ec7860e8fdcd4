"""The spend ledger on Redis: one hash per UTC day and currency (`spend:<day>:<currency>`),
added to with HINCRBY/HINCRBYFLOAT in one MULTI/EXEC, so replicas adding at once lose nothing."""

from kimi_mcp.store.redis_connection import RedisConnection
from kimi_mcp.store.spend import Spend

_COUNTS = ("cached_tokens", "prompt_tokens", "completion_tokens", "searches", "calls")


class RedisSpendLedger:
    def __init__(self, connection: RedisConnection) -> None:
        self._redis = connection

    async def check(self) -> None:
        await self._redis.check()

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def record(self, day: str, currency: str, spend: Spend) -> None:
        key = self._redis.key("spend", day, currency)
        async with (
            self._redis.errors(),
            self._redis.client().pipeline(transaction=True) as pipe,
        ):
            pipe.hincrbyfloat(key, "amount", spend.amount)
            for name in _COUNTS:
                pipe.hincrby(key, name, getattr(spend, name))
            await pipe.execute()

    async def day_total(self, day: str, currency: str) -> Spend:
        async with self._redis.errors():
            fields = await self._redis.client().hgetall(self._redis.key("spend", day, currency))
            if not fields:
                return Spend(0.0, calls=0)
            counts = {name: int(fields.get(name, 0)) for name in _COUNTS}
            return Spend(float(fields["amount"]), **counts)
