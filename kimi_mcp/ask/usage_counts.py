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
        self._counter = counter
        self._basis = basis
        self._messages = messages
        self._deadline = deadline
        self._tail_keys: dict[int, str] = {}  # keyed only if asked for (images make it costly)

    async def proven(self) -> int | None:
        key = self._basis.proof_key()
        return (await self._counter.known([key])).get(key)

    async def known(self, indexes: list[int]) -> list[int | None]:
        keys = [self._key(index) for index in indexes]
        found = await self._counter.known(keys)
        return [found.get(key) for key in keys]

    async def count(self, indexes: list[int]) -> list[int]:
        keys = [self._key(index) for index in indexes]
        messages = {key: self._messages[index] for key, index in zip(keys, indexes, strict=True)}
        counted = await self._counter.count(self._basis.model, messages, deadline=self._deadline)
        return [counted[key] for key in keys]

    def _key(self, index: int) -> str:
        heads, history = len(self._basis.head_messages), self._basis.history
        if index < heads:
            return self._basis.head.keys[index]
        if index < heads + history.count:
            return history.keys[index - heads]
        if index not in self._tail_keys:
            self._tail_keys[index] = message_key(self._basis.model, self._messages[index])
        return self._tail_keys[index]


async def learn(
    counter: TokenCounter,
    basis: Basis,
    exchange: tuple[Message, Message | None],
    usage: Usage | None,
    *,
    whole: bool,
    budget: int,
) -> None:
    """Keep what `usage` proves after a call: the answer's bound and, when the call sent `basis`
    whole with the question (`whole`), the proof for head + history + question + answer.

    Nothing is kept while the local bounds of that list stay under a quarter of `budget`: only a
    question of most of the window would then need counts, and a write is a store round trip.
    """
    question, answer = exchange
    if usage is None or usage.prompt_tokens <= 0 or usage.completion_tokens <= 0:
        return  # no usage (a cut stream), or one that proves nothing
    local = sum(map(upper_bound, basis.head_messages)) + basis.history.bound_sum
    local += upper_bound(question) + (upper_bound(answer) if answer is not None else 0)
    if local <= budget // 4:
        return
    keys = [message_key(basis.model, question)]
    proof, kept = usage.prompt_tokens, {}
    if answer is not None:
        bound = min(usage.completion_tokens + PER_MESSAGE, upper_bound(answer))
        keys.append(message_key(basis.model, answer))
        kept[keys[-1]] = bound
        proof += bound
    if whole:
        kept[basis.proof_key(chained(basis.history.digest, keys))] = proof
    await counter.keep(kept)
