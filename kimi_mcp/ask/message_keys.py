"""Content keys of messages, and of whole message lists, kept per conversation so that keying a
long history costs only its new turns.

A message's key (sha256 of the model and the message) names Kimi's count of it in the token
count store. A list's digest chains its messages' keys, so the digest of history + new turns is
the old digest extended by the new keys: no call rehashes the whole history. A conversation only
grows (stored turns are never edited or reordered, and ids are never reused), so the keys of its
first n turns, once computed, hold for every later load of it.
"""

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kimi_mcp.ask.fitting import upper_bound

Message = dict[str, Any]
MEMO_SIZE = 256  # conversations whose keys are kept (about 100 bytes per turn)
START = hashlib.sha256(b"kimi-mcp message list").hexdigest()


def message_key(model: str, message: Message) -> str:
    """The key of Kimi's count of `message` (the format the token count store has always used)."""
    encoded = json.dumps([model, message], sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def chained(digest: str, keys: Iterable[str]) -> str:
    """The digest of a list extended by the messages of `keys`."""
    for key in keys:
        digest = hashlib.sha256(f"{digest}{key}".encode("ascii")).hexdigest()
    return digest


@dataclass(frozen=True)
class Keyed:
    """The keys of a list's first `count` messages (`keys` may run on: it only ever grows),
    their local upper bounds' sum, and the list's digest."""

    keys: list[str]
    bounds: list[int]
    count: int
    digest: str
    bound_sum: int


@dataclass
class _Growing:
    keys: list[str] = field(default_factory=list)
    bounds: list[int] = field(default_factory=list)
    digest: str = START
    bound_sum: int = 0

    def extend(self, model: str, messages: Iterable[Message]) -> "_Growing":
        for message in messages:
            key = message_key(model, message)
            self.keys.append(key)
            self.bounds.append(upper_bound(message))
            self.bound_sum += self.bounds[-1]
            self.digest = chained(self.digest, [key])
        return self

    def snapshot(self) -> Keyed:
        return Keyed(self.keys, self.bounds, len(self.keys), self.digest, self.bound_sum)


def keyed(model: str, messages: Iterable[Message]) -> Keyed:
    return _Growing().extend(model, messages).snapshot()


class HistoryKeys:
    """The keys of each conversation's history, extended by the turns added since the last call."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._size = size
        self._memo: OrderedDict[tuple[str, str], _Growing] = OrderedDict()

    def of(
        self, conversation_id: str | None, shape: str, model: str, history: list[Message]
    ) -> Keyed:
        """`shape` names how turns became messages (the model, whether it thinks): the same
        turn is sent differently to a thinking model."""
        if conversation_id is None:
            return keyed(model, history)
        memo_key = (conversation_id, shape)
        entry = self._memo.pop(memo_key, None)
        if entry is not None and len(entry.keys) > len(history):
            self._memo[memo_key] = entry  # this call loaded before another one appended
            return keyed(model, history)
        if entry is None or not _still_leads(entry, model, history):
            entry = _Growing()
        entry.extend(model, history[len(entry.keys) :])
        self._memo[memo_key] = entry
        if len(self._memo) > self._size:
            self._memo.popitem(last=False)
        return entry.snapshot()


def _still_leads(entry: _Growing, model: str, history: list[Message]) -> bool:
    """The history still starts with the turns `entry` keyed. Stored turns are never edited, so
    this always holds; checked on the last of them anyway (one hash), because a wrong key would
    put another message's count in the fit."""
    return not entry.keys or message_key(model, history[len(entry.keys) - 1]) == entry.keys[-1]
