"""The upload ledger on Redis, for replicas sharing their state.

Keys under the prefix: `upload:<sha256>:<purpose>` (the file id of that content),
`file:<file id>` (a hash: the entry and its local source path), `body:<file id>` (the extracted
text) and `claim:<sha256>:<purpose>` (the claim token, expiring with the claim: `SET NX PX`, one
atomic command, so two replicas never both claim the same content).
"""

import time
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from redis.typing import EncodableT

from kimi_mcp.store.claim_tokens import holder_is_gone, new_token
from kimi_mcp.store.redis_connection import RedisConnection
from kimi_mcp.store.uploads import LedgerEntry

# KEYS: the key. ARGV: the value it must hold to be deleted.
DELETE_IF_HELD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: claim. ARGV: the lapsed holder, the new token, ms. Takes over a claim whose process died.
TAKE_OVER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
_SEPARATOR = "|"  # a claim token is `host:pid:random|sha256|purpose`: release finds its key


class RedisUploadLedger:
    def __init__(self, connection: RedisConnection) -> None:
        self._redis = connection

    async def check(self) -> None:
        await self._redis.check()

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def find(self, sha256: str, purpose: str) -> LedgerEntry | None:
        async with self._redis.errors():
            file_id = await self._redis.client().get(self._redis.key("upload", sha256, purpose))
            found = await self.describe(str(file_id)) if file_id is not None else None
        return found[0] if found else None

    async def record(self, entry: LedgerEntry, source: Path) -> None:
        fields: Mapping[EncodableT, EncodableT] = {
            "sha256": entry.sha256,
            "purpose": entry.purpose,
            "filename": entry.filename,
            "bytes": entry.bytes,
            "source": str(source),
            "created_at": time.time(),
        }
        upload = self._redis.key("upload", entry.sha256, entry.purpose)
        async with (
            self._redis.errors(),
            self._redis.client().pipeline(transaction=True) as pipe,
        ):
            pipe.hset(self._redis.key("file", entry.file_id), mapping=fields)
            pipe.set(upload, entry.file_id)
            await pipe.execute()

    async def forget(self, file_id: str) -> None:
        file = self._redis.key("file", file_id)
        async with self._redis.errors():
            found = await self._redis.client().hmget(file, "sha256", "purpose")
            sha256, purpose = cast(list[str | None], found)
            if sha256 is not None and purpose is not None:
                upload = self._redis.key("upload", sha256, purpose)
                await self._redis.run(DELETE_IF_HELD, [upload], [file_id])
            await self._redis.client().delete(file, self._redis.key("body", file_id))

    async def describe(self, file_id: str) -> tuple[LedgerEntry, str | None] | None:
        async with self._redis.errors():
            found = await self._redis.client().hgetall(self._redis.key("file", file_id))
            fields = cast(dict[str, str], found)
            if not fields:
                return None
            sha256, purpose = fields["sha256"], fields["purpose"]
            current = await self._redis.client().get(self._redis.key("upload", sha256, purpose))
            if current != file_id:  # the same content recorded again under a newer id
                return None
            entry = LedgerEntry(sha256, purpose, file_id, fields["filename"], int(fields["bytes"]))
        return entry, fields.get("source")

    async def claim(self, sha256: str, purpose: str, *, seconds: float) -> str | None:
        """A claim token, or None while another live claim holds this content (see
        `UploadLedger.claim`); it expires by Redis' clock, shared by every replica."""
        token = _SEPARATOR.join((new_token(), sha256, purpose))
        milliseconds = round(seconds * 1000)
        if milliseconds <= 0:
            return token  # a claim of no seconds has lapsed already: it blocks no one
        key = self._redis.key("claim", sha256, purpose)
        async with self._redis.errors():
            client = self._redis.client()
            if await client.set(key, token, nx=True, px=milliseconds):
                return token
            holder = cast(str | None, await client.get(key))
            if holder is None or not holder_is_gone(holder):
                return None
            taken = await self._redis.run(TAKE_OVER, [key], [holder, token, milliseconds])
        return token if taken else None

    async def release(self, claim: str) -> None:
        _, sha256, purpose = claim.split(_SEPARATOR)
        async with self._redis.errors():
            key = self._redis.key("claim", sha256, purpose)
            await self._redis.run(DELETE_IF_HELD, [key], [claim])

    async def cached_body(self, file_id: str) -> str | None:
        async with self._redis.errors():
            body = await self._redis.client().get(self._redis.key("body", file_id))
        return cast(str | None, body)

    async def cache_body(self, file_id: str, body: str) -> None:
        async with self._redis.errors():
            await self._redis.client().set(self._redis.key("body", file_id), body)
