"""The conversation store on Redis, for replicas sharing their state.

Keys under the prefix: `conv:<id>` (a hash: owner, model, system, effort, first prompt, times),
`conv:<id>:turns` (a list, one JSON turn each), `conv:<id>:files` (a list of file ids, merged),
`ended:<id>` (the tombstone: reason and owner, kept a year) and `recent:<owner>` (a sorted set of
the owner's ids by last turn). Every change is one Lua script, so it is atomic: an append checks
the tombstone, the owner and expiry in the same step as it writes. Expiry is Redis' own TTL on a
conversation's keys, renewed by each append; an id still in its owner's set whose keys are gone
expired, and is buried as such when next seen. Times are Redis' clock (`TIME`), shared by every
replica. Text is JSON with ASCII escapes, so lone surrogates come back exactly.
"""

import json
from typing import Any, cast

from kimi_mcp.store.conversation_cache import NOTHING, CachedTurns, ConversationCache
from kimi_mcp.store.conversations import (
    Conversation,
    ConversationSummary,
    EndReason,
    Turn,
    ended_meanwhile,
    unknown_conversation,
)
from kimi_mcp.store.redis_connection import RedisConnection

DAY_MS = 86_400_000
TOMBSTONE_MS = 365 * DAY_MS  # as SQLite: "deleted"/"expired" remembered for a year
FIRST_PROMPT_CHARS = 120
RECENT_PASSES = 20  # pages of a listing read while expired ids are buried

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "
_BURY = (
    "local function bury(ended, recent, id, owner, reason) "
    "redis.call('HSET', ended, 'reason', reason, 'owner', owner) "
    "redis.call('PEXPIRE', ended, ARGV[3]) redis.call('ZREM', recent, id) end "
)
# KEYS: conv, turns, files, ended, recent. ARGV: id, owner, tombstone ms, ttl ms, model, system,
# effort ('' for none), first prompt ('' for none), n files, files..., turns...
APPEND = (
    _NOW
    + _BURY
    + """
local id, owner, ttl = ARGV[1], ARGV[2], tonumber(ARGV[4])
local tomb = redis.call('HMGET', KEYS[4], 'owner', 'reason')
if tomb[2] then return {'ended', tomb[1] or '', tomb[2]} end
local held = redis.call('HGET', KEYS[1], 'owner')
if held then
  if held ~= owner then return {'foreign'} end
elseif redis.call('ZSCORE', KEYS[5], id) then
  bury(KEYS[4], KEYS[5], id, owner, 'expired')
  return {'ended', owner, 'expired'}
else
  redis.call('HSET', KEYS[1], 'owner', owner, 'system', ARGV[6], 'created', now)
end
redis.call('HSET', KEYS[1], 'model', ARGV[5], 'updated', now)
if ARGV[7] == '' then redis.call('HDEL', KEYS[1], 'effort')
else redis.call('HSET', KEYS[1], 'effort', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSETNX', KEYS[1], 'first', ARGV[8]) end
local files = tonumber(ARGV[9])
for i = 10, 9 + files do
  if not redis.call('LPOS', KEYS[3], ARGV[i]) then redis.call('RPUSH', KEYS[3], ARGV[i]) end
end
for i = 10 + files, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('ZADD', KEYS[5], now, id)
if ttl > 0 then
  for k = 1, 3 do redis.call('PEXPIRE', KEYS[k], ttl) end
  redis.call('PEXPIRE', KEYS[5], ttl + tonumber(ARGV[3]))
end
return {'ok'}
"""
)
# KEYS: conv, turns, files, ended, recent. ARGV: id, owner, tombstone ms.
DELETE = (
    _BURY
    + """
local id, owner = ARGV[1], ARGV[2]
local held = redis.call('HGET', KEYS[1], 'owner')
if held == owner then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  bury(KEYS[4], KEYS[5], id, owner, 'deleted')
  return 'ok'
end
local tomb = redis.call('HMGET', KEYS[4], 'owner', 'reason')
if tomb[2] and tomb[1] == owner then return tomb[2] end
if not held and redis.call('ZSCORE', KEYS[5], id) then
  bury(KEYS[4], KEYS[5], id, owner, 'expired')
  return 'expired'
end
return ''
"""
)
# KEYS: conv, ended, recent. ARGV: id, owner, tombstone ms. Buries an id whose keys expired.
EXPIRED = (
    _BURY
    + """
if redis.call('EXISTS', KEYS[1]) == 1 or not redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  return 0
end
bury(KEYS[2], KEYS[3], ARGV[1], ARGV[2], 'expired')
return 1
"""
)


class RedisConversationStore:
    """`ttl_days` after its last turn a conversation expires (0: never), as on SQLite."""

    def __init__(self, connection: RedisConnection, *, ttl_days: float = 0) -> None:
        self._redis = connection
        self._ttl_ms = round(ttl_days * DAY_MS)
        self._cache = ConversationCache()

    def _keys(self, conversation_id: str, owner: str) -> list[str]:
        conv = self._redis.key("conv", conversation_id)
        ended = self._redis.key("ended", conversation_id)
        return [conv, conv + ":turns", conv + ":files", ended, self._redis.key("recent", owner)]

    async def check(self) -> None:
        await self._redis.check()

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def append(
        self, conversation: Conversation, turns: list[Turn], model: str, file_ids: list[str]
    ) -> None:
        conversation_id, owner = conversation.id, conversation.owner
        effort = conversation.reasoning_effort
        first = next((t.content for t in turns if t.role == "user"), None)
        args: list[str | int] = [
            conversation_id,
            owner,
            TOMBSTONE_MS,
            self._ttl_ms,
            model,
            _json(conversation.system),
            "" if effort is None else effort,
            "" if first is None else _json(first[:FIRST_PROMPT_CHARS]),
            len(file_ids),
            *file_ids,
            *(_json(_turn_fields(turn)) for turn in turns),
        ]
        async with self._redis.errors():
            ran = await self._redis.run(APPEND, self._keys(conversation_id, owner), args)
        answer = cast(list[str], ran)
        if answer[0] == "foreign":
            raise ended_meanwhile(conversation_id, None)
        if answer[0] == "ended":
            reason = cast(EndReason, answer[2]) if answer[1] == owner else None
            raise ended_meanwhile(conversation_id, reason)

    async def load(self, conversation_id: str, *, owner: str) -> Conversation:
        """One round trip: the conversation's hash, its documents and only the turns after the
        ones cached (a full read when the cache holds none of this conversation)."""
        cached = self._cache.latest(conversation_id)
        async with self._redis.errors():
            read = await self._read(conversation_id, owner, cached.next)
            held, new, file_ids, tomb, listed = read
            if held and held.get("owner") == owner:
                if held.get("created", "") != cached.created and cached.next:  # a new one, same id
                    held, new, file_ids, _, _ = await self._read(conversation_id, owner, 0)
                    cached = NOTHING
                return self._loaded(conversation_id, held, cached, new, file_ids)
            self._cache.drop(conversation_id)
            reason = await self._why_missing(conversation_id, owner, held, tomb, listed)
        raise unknown_conversation(conversation_id, reason)

    async def _read(self, conversation_id: str, owner: str, start: int) -> list[Any]:
        conv, turns, files, ended, recent = self._keys(conversation_id, owner)
        async with self._redis.client().pipeline(transaction=True) as pipe:
            pipe.hgetall(conv)
            pipe.lrange(turns, start, -1)
            pipe.lrange(files, 0, -1)
            pipe.hmget(ended, "owner", "reason")
            pipe.zscore(recent, conversation_id)
            answers: list[Any] = await pipe.execute()
            return answers

    def _loaded(
        self,
        conversation_id: str,
        held: dict[str, str],
        cached: CachedTurns,
        new: list[str],
        file_ids: list[str],
    ) -> Conversation:
        created = held.get("created", "")
        if new or cached.created != created:
            turns = [Turn(**json.loads(turn)) for turn in new]
            cached = self._cache.extend(
                conversation_id, cached, created, cached.next + len(new), turns
            )
        return _conversation(conversation_id, held, list(cached.turns), file_ids)

    async def _why_missing(
        self,
        conversation_id: str,
        owner: str,
        held: dict[str, str],
        tomb: list[str | None],
        listed: float | None,
    ) -> EndReason | None:
        if tomb[1] is not None and tomb[0] == owner:
            return cast(EndReason, tomb[1])
        if not held and listed is not None and await self._bury_expired(conversation_id, owner):
            return "expired"
        return None

    async def _bury_expired(self, conversation_id: str, owner: str) -> bool:
        conv, _, _, ended, recent = self._keys(conversation_id, owner)
        args: list[str | int] = [conversation_id, owner, TOMBSTONE_MS]
        return bool(await self._redis.run(EXPIRED, [conv, ended, recent], args))

    async def recent(self, limit: int, *, owner: str) -> list[ConversationSummary]:
        found: list[ConversationSummary] = []
        recent, start = self._redis.key("recent", owner), 0
        async with self._redis.errors():
            for _ in range(RECENT_PASSES):  # a page that held expired ids is followed by another
                wanted = limit - len(found)
                if wanted <= 0:
                    break
                page = await self._redis.client().zrevrange(recent, start, start + wanted - 1)
                ids = cast(list[str], page)
                if not ids:
                    break
                buried = await self._summaries(ids, owner, found)
                start += len(ids) - buried  # buried ids left the set
        return found

    async def _summaries(self, ids: list[str], owner: str, found: list[ConversationSummary]) -> int:
        """Add the summaries of `ids` to `found`; bury the ones that expired and count them."""
        async with self._redis.client().pipeline(transaction=False) as pipe:
            for conversation_id in ids:
                conv = self._redis.key("conv", conversation_id)
                pipe.hmget(conv, "owner", "model", "updated", "first")
                pipe.llen(conv + ":turns")
            answers = await pipe.execute()
        buried = 0
        for at, conversation_id in enumerate(ids):
            (held, model, updated, first), turns = answers[2 * at], answers[2 * at + 1]
            if held != owner:
                buried += await self._bury_expired(conversation_id, owner)
                continue
            prompt = "" if first is None else str(json.loads(first))
            found.append(ConversationSummary(conversation_id, model, turns, float(updated), prompt))
        return buried

    async def delete(self, conversation_id: str, *, owner: str) -> None:
        keys = self._keys(conversation_id, owner)
        async with self._redis.errors():
            answer = await self._redis.run(DELETE, keys, [conversation_id, owner, TOMBSTONE_MS])
        if answer != "ok":
            raise unknown_conversation(conversation_id, cast(EndReason, answer) or None)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=True)  # escapes lone surrogates, read back exactly


def _turn_fields(turn: Turn) -> dict[str, Any]:
    fields = {"role": turn.role, "content": turn.content, "reasoning": turn.reasoning}
    return fields | {"tool_calls": turn.tool_calls, "tool_call_id": turn.tool_call_id}


def _conversation(
    conversation_id: str, held: dict[str, str], turns: list[Turn], file_ids: list[str]
) -> Conversation:
    return Conversation(
        conversation_id,
        held["model"],
        json.loads(held["system"]),
        turns,
        file_ids,
        held["owner"],
        held.get("effort"),
    )
