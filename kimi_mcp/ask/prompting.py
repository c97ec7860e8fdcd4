"""The prompt of one ask_kimi call: the messages fitted into the model's window, and what the
call's usage teaches the next fit (how many tokens a conversation is known to take)."""

import logging
from dataclasses import dataclass

from kimi_mcp.ask.exchange import ChatRequest
from kimi_mcp.ask.fitting import Fitted, Known, Message, answer_room, fit
from kimi_mcp.ask.history import HistoryMessages
from kimi_mcp.ask.token_counts import TokenCounter
from kimi_mcp.ask.tool_loop import LoopResult, turn_message
from kimi_mcp.ask.usage_counts import Basis, FitCounts, learnt
from kimi_mcp.kimi.rules import thinks
from kimi_mcp.kimi.types import ModelInfo
from kimi_mcp.store.conversations import Conversation, Turn

log = logging.getLogger(__name__)

NO_WINDOW = 1 << 40  # a model that reports no context_length: let Kimi judge the length


@dataclass(frozen=True)
class Prompt:
    """The fitted prompt, and what it was fitted from: what the call's usage is learnt against."""

    fitted: Fitted
    counts: FitCounts
    question: Message  # as sent
    budget: int


async def fit_prompt(
    counter: TokenCounter,
    histories: HistoryMessages,
    model: ModelInfo,
    request: ChatRequest,
    conversation: Conversation | None,
    documents: list[dict[str, str]],
    question: Message,
    deadline: float,
) -> Prompt:
    system = request.system or (conversation.system if conversation else None)
    head: list[Message] = [{"role": "system", "content": system}] if system else []
    head += documents  # the documented pattern: each file's content as a system message
    thinking = thinks(model, request.thinking)
    history = histories.of(conversation, thinking)
    tail: list[Message] = [question]
    if request.prefix:
        tail.append({"role": "assistant", "content": request.prefix, "partial": True})
    window = model.context_length or NO_WINDOW
    budget = window - answer_room(window, request.max_tokens)
    # Keyed once per turn for the life of the process: the fit stays flat as history grows.
    shape = f"{model.id}:{thinking}"
    conversation_id = conversation.id if conversation else None
    keys = counter.history_keys.of(conversation_id, shape, model.id, history)
    basis = Basis(model.id, head, keys)
    counts = FitCounts(counter, basis, head + history + tail, deadline=deadline)
    known = Known(keys.bounds, keys.bound_sum)
    fitted = await fit(head, history, tail, budget=budget, counts=counts, known=known)
    return Prompt(fitted, counts, question, budget)


def learnt_counts(
    request: ChatRequest, prompt: Prompt, loop: LoopResult, turns: list[Turn]
) -> dict[str, int]:
    """The fit's counts, and what Kimi's usage proves for the next fit of this conversation
    (usage_counts), to keep in the store. With a prefix nothing is proved: Kimi's count of the
    answer leaves the prefix out."""
    exchange = None
    if request.keep and not request.prefix:
        answer = turns[-1] if turns[-1].role == "assistant" else None
        exchange = (
            turn_message(turns[0], thinks=False),  # as the next call will send them
            turn_message(answer, thinks=False) if answer else None,
        )
    fitted = prompt.fitted
    whole = fitted.dropped_turns == 0 and loop.rounds == 0
    whole = whole and exchange is not None and exchange[0] == prompt.question
    usage = loop.outcome.usage
    try:  # after billing: a failure here costs later calls a recount, never this answer
        return learnt(prompt.counts, exchange, usage, whole=whole, budget=prompt.budget)
    except Exception:
        log.exception("token counts not kept (a kimi-mcp bug; please report it)")
        return {}
