"""The token counts one fit reads and asks for, and what Kimi's usage proves for the next fit.

After a call, Kimi's usage gives P = prompt_tokens, the count of exactly the messages sent, and
C = completion_tokens, the answer with its reasoning: an upper bound of the answer's text. So:
- the answer message counts at most C + its framing (or its local bound, if smaller): kept
  under its key, the next call never asks Kimi to count it;
- when the call sent head + the whole history + the question (nothing dropped, one chat round,
  the question kept as sent), the next call's head + history counts at most P + that answer
  bound. This "proof" is kept under a digest of that exact message list (model, head, history),
  in the token count store, so it survives a restart and every replica reads it; the next fit
  then needs no request at all while the proof + the new question fits.
Tool rounds (usage is summed over rounds), a prefix (Kimi does not count it in C), an image
question (kept without its images) or dropped turns prove nothing for the next list: those
calls fall back to the per-message counts, which stay correct.
"""

import hashlib
from functools import cached_property

from kimi_mcp.ask.fitting import PER_MESSAGE, Message, upper_bound
from kimi_mcp.ask.message_keys import Keyed, chained, keyed, message_key
from kimi_mcp.ask.token_counts import TokenCounter
from kimi_mcp.kimi.types import Usage

PROOF = "kimi-mcp prompt proof"


class Basis:
    """The head and history a fit started from, keyed. The head (the system prompt and whole
    documents) is keyed only when a proof is looked up or kept: most calls need neither."""

    def __init__(self, model: str, head: list[Message], history: Keyed) -> None:
        self.model = model
        self.head_messages = head
        self.history = history

    @property
    def tail_start(self) -> int:
        """Where the tail (the question) starts in head + history + tail."""
        return len(self.head_messages) + self.history.count

    @cached_property
    def head(self) -> Keyed:
        return keyed(self.model, self.head_messages)

    def proof_key(self, history_digest: str | None = None) -> str:
        digest = self.history.digest if history_digest is None else history_digest
        text = f"{PROOF}\0{self.model}\0{self.head.digest}\0{digest}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FitCounts:
    """`fitting.Counts` for one fit of head + history + tail."""

    def __init__(
        self, counter: TokenCounter, basis: Basis, messages: list[Message], *, deadline: float
    ) -> None:
        """`messages`: head + history + tail, the list `basis` keys the first part of."""
        self.counter = counter
        self.basis = basis
        self._messages = messages
        self._deadline = deadline
        self._tail_keys: dict[int, str] = {}  # keyed only if asked for (images make it costly)
        self._absent: set[str] = set()  # read and not found: not read again in this fit
        self.unsaved: dict[str, int] = {}  # counted in this fit, for `learn` to keep in the store

    async def proven(self) -> int | None:
        """The proof, read with the counts of the head and tail that the fit needs next when
        the proof alone does not do: one store read, not two."""
        key = self.basis.proof_key()
        if (proof := self.counter.remembered(key)) is not None:
            return proof  # kept by this process's call before: no store read at all
        heads, tail = len(self.basis.head_messages), self.basis.tail_start
        fixed = [*range(heads), *range(tail, len(self._messages))]
        found = await self._read([key, *(self._key(index) for index in fixed)])
        return found.get(key)

    async def known(self, indexes: list[int]) -> list[int | None]:
        keys = [self._key(index) for index in indexes]
        found = await self._read(keys)
        return [found.get(key) for key in keys]

    async def _read(self, keys: list[str]) -> dict[str, int]:
        found = await self.counter.known([key for key in keys if key not in self._absent])
        self._absent.update(key for key in keys if key not in found)
        return found

    async def count(self, indexes: list[int]) -> list[int]:
        keys = [self._key(index) for index in indexes]
        messages = {key: self._messages[index] for key, index in zip(keys, indexes, strict=True)}
        model, deadline = self.basis.model, self._deadline
        counted = await self.counter.count(model, messages, deadline=deadline, store=False)
        self.unsaved.update(counted)
        return [counted[key] for key in keys]

    def _key(self, index: int) -> str:
        heads = len(self.basis.head_messages)
        if index < heads:
            return self.basis.head.keys[index]
        if index < self.basis.tail_start:
            return self.basis.history.keys[index - heads]
        if index not in self._tail_keys:
            self._tail_keys[index] = message_key(self.basis.model, self._messages[index])
        return self._tail_keys[index]


def learnt(
    counts: FitCounts,
    exchange: tuple[Message, Message | None] | None,
    usage: Usage | None,
    *,
    whole: bool,
    budget: int,
) -> dict[str, int]:
    """The counts the fit asked for and what `usage` proves after the call (`exchange`: the
    question and answer as kept; None when nothing was kept): remembered in this process at
    once, and returned for the caller to keep in the store, in one write with the others."""
    kept = proved(counts.basis, exchange, usage, whole=whole, budget=budget) if exchange else {}
    learnt = kept | counts.unsaved  # an exact count wins over a bound
    counts.counter.remember_all(learnt)
    return learnt


def proved(
    basis: Basis,
    exchange: tuple[Message, Message | None],
    usage: Usage | None,
    *,
    whole: bool,
    budget: int,
) -> dict[str, int]:
    """The answer's bound and, when the call sent `basis` whole with the question (`whole`), the
    proof for head + history + question + answer.

    Nothing while the local bounds of that list stay under a quarter of `budget`: only a question
    of most of the window would then need counts, and a write is a store round trip.
    """
    question, answer = exchange
    if usage is None or usage.prompt_tokens <= 0 or usage.completion_tokens <= 0:
        return {}  # no usage (a cut stream), or one that proves nothing
    local = sum(map(upper_bound, basis.head_messages)) + basis.history.bound_sum
    local += upper_bound(question) + (upper_bound(answer) if answer is not None else 0)
    if local <= budget // 4:
        return {}
    keys = [message_key(basis.model, question)]
    proof, kept = usage.prompt_tokens, {}
    if answer is not None:
        bound = min(usage.completion_tokens + PER_MESSAGE, upper_bound(answer))
        keys.append(message_key(basis.model, answer))
        kept[keys[-1]] = bound
        proof += bound
    if whole:
        kept[basis.proof_key(chained(basis.history.digest, keys))] = proof
    return kept
