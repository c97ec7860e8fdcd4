"""ask_kimi's work, apart from MCP: build the messages, fit them, stream the answer, remember it."""

import logging
from dataclasses import dataclass, field, replace

import anyio

from kimi_mcp.ask.catalogue import ModelCatalogue
from kimi_mcp.ask.documents import DocumentService
from kimi_mcp.ask.effort import choose_effort
from kimi_mcp.ask.exchange import ChatAnswer, ChatRequest, Stored
from kimi_mcp.ask.history import HistoryMessages
from kimi_mcp.ask.kimi_tools import NO_TOOLS, FormulaCatalogue, Toolbox, checked_tools
from kimi_mcp.ask.pricing import Estimate
from kimi_mcp.ask.prompting import Prompt, fit_prompt, learnt_counts
from kimi_mcp.ask.question import user_message
from kimi_mcp.ask.sources import cited_sources
from kimi_mcp.ask.spending import Bill, CostMeter
from kimi_mcp.ask.structured import ParsedAnswer, check_json_options, parse_answer
from kimi_mcp.ask.token_counts import TokenCounter
from kimi_mcp.ask.tool_loop import LoopResult, StepHook, ToolLoop
from kimi_mcp.errors import KimiError, StoreError
from kimi_mcp.kimi.client import KimiClient, ProgressHook
from kimi_mcp.kimi.rules import chat_body, format_fields, thinks
from kimi_mcp.kimi.stream import ChatOutcome
from kimi_mcp.kimi.types import ModelInfo
from kimi_mcp.store.answer_writes import AnswerWrites, Keep, Written
from kimi_mcp.store.conversations import (
    Conversation,
    ConversationStore,
    Turn,
    new_conversation,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KimiTools:
    """What ask_kimi may do with Kimi's official tools on this server."""

    formulas: FormulaCatalogue
    allowed: frozenset[str]
    max_rounds: int


@dataclass(frozen=True)
class ChatService:
    client: KimiClient
    catalogue: ModelCatalogue
    store: ConversationStore
    documents: DocumentService
    default_model: str
    default_deadline: float
    answer_cap: int
    counter: TokenCounter
    costs: CostMeter
    tools: KimiTools
    writes: AnswerWrites  # the turns, the token counts and the spend after an answer, in one go
    histories: HistoryMessages = field(default_factory=HistoryMessages)

    async def ask(
        self,
        request: ChatRequest,
        on_progress: ProgressHook | None,
        on_step: StepHook | None = None,
    ) -> ChatAnswer:
        deadline = anyio.current_time() + (request.deadline or self.default_deadline)
        check_json_options(
            json_mode=request.json_mode, json_schema=request.json_schema, prefix=request.prefix
        )
        names = checked_tools(request.kimi_tools, self.tools.allowed)
        conversation = await self._opened(request)
        await self.costs.check_cap()
        model_id = request.model or (conversation.model if conversation else self.default_model)
        model = await self.catalogue.get(model_id, deadline=deadline)
        # Refused here, before documents are uploaded, rather than when the body is built.
        effort = choose_effort(model.id, request.reasoning_effort, conversation)
        format_fields(model.id, json_mode=request.json_mode, json_schema=request.json_schema)
        if conversation is None:  # its id keys Kimi's prompt cache from the first call on
            conversation = new_conversation(model.id, request.system, owner=request.owner)
        conversation = replace(conversation, reasoning_effort=effort.effort)
        file_ids = await self._documents(request, conversation, deadline)
        documents = await self.documents.system_messages(file_ids, deadline=deadline)
        toolbox = await self.tools.formulas.toolbox(names, deadline=deadline) if names else NO_TOOLS
        hooks = Hooks(on_progress, on_step)
        loop, prompt = await self._in_slot(
            model, request, conversation, documents, toolbox, deadline, hooks
        )
        dropped = prompt.fitted.dropped_turns
        outcome = loop.outcome
        answer = (request.prefix or "") + outcome.content  # Kimi does not repeat the prefix
        turns = [Turn("user", request.prompt), *loop.turns]
        if answer:  # Kimi rejects empty messages, so an empty partial answer is not kept
            turns.append(Turn("assistant", answer, outcome.reasoning or None))
        stored, estimate = await self._settle(
            request, conversation, turns, model.id, file_ids, prompt, loop
        )
        result = self._result(outcome, answer, conversation.id, dropped, file_ids)
        parsed = _parsed(request, result)
        return replace(
            result,
            stored=stored.ok,
            store_error=stored.error,
            cost=estimate.cost,
            cost_note=estimate.note,
            tool_calls=loop.runs,
            sources=cited_sources(answer),
            rounds=loop.rounds,
            searches=loop.searches,
            json_value=parsed.value,
            json_error=parsed.error,
            cache_reset=effort.cache_reset,
        )

    async def _opened(self, request: ChatRequest) -> Conversation | None:
        """The conversation to continue, if any; store first, then bill: nothing is sent to a
        store that cannot keep it. A load checks the store as `check` does, so a continued
        conversation costs one store round trip here, not two."""
        try:
            if request.conversation_id:
                return await self.store.load(request.conversation_id, owner=request.owner)
            if request.keep:
                await self.store.check()
        except StoreError as exc:
            raise exc.with_note("Nothing was sent to Kimi (no cost).") from None
        return None

    async def _settle(
        self,
        request: ChatRequest,
        conversation: Conversation,
        turns: list[Turn],
        model: str,
        file_ids: list[str],
        prompt: Prompt,
        loop: LoopResult,
    ) -> tuple[Stored, Estimate]:
        """Keep the turns, keep what the call taught the token counts, and charge the call, in
        one go (one worker-thread hop on SQLite: a hop each made the answer wait for three),
        store first, then bill. None of them raises for a store that fails, and a cancelled call
        still makes them: the answer was billed."""
        keep = Keep(conversation, turns, model, file_ids) if request.keep else None
        counts = learnt_counts(request, prompt, loop, turns)
        bill = self._bill(model, loop)
        with anyio.CancelScope(shield=True):
            written = await self._write(keep, counts, bill)
        self.counter.stored(written.counts)
        if bill.charge is not None:
            self.costs.recorded(model, written.charge)
        if keep is None:
            return Stored(False, "not kept: a one-off question"), bill.estimate
        return _stored(conversation.id, written.keep), bill.estimate

    def _bill(self, model: str, loop: LoopResult) -> Bill:
        """What the call cost and the spend to record; a bug pricing it costs neither the
        turns nor the answer (logged; the call is reported with no cost and not counted)."""
        try:
            return self.costs.bill(model, loop.outcome.usage, loop.searches)
        except Exception:
            log.exception("a %s call could not be priced (a kimi-mcp bug; please report it)", model)
            return Bill(Estimate(None, "kimi-mcp failed to price this call (see its log)."), None)

    async def _write(self, keep: Keep | None, counts: dict[str, int], bill: Bill) -> Written:
        try:
            return await self.writes.write(keep, counts, bill.charge)
        except Exception as exc:  # each write's own failure is returned: this is a bug of ours
            log.exception("the writes after an answer failed (a kimi-mcp bug; please report it)")
            return Written(exc, exc, exc)

    async def _in_slot(
        self,
        model: ModelInfo,
        request: ChatRequest,
        conversation: Conversation,
        documents: list[dict[str, str]],
        toolbox: Toolbox,
        deadline: float,
        hooks: "Hooks",
    ) -> tuple[LoopResult, Prompt]:
        """Build the question (reading inline images) only once a chat slot is held, and stream
        in it, tool rounds and all: calls waiting for a slot hold no image, so
        max_concurrent_chats bounds that memory too. The body dies with this frame, before the
        store is written."""
        async with self.client.chat_slot(deadline) as slot:
            question = await user_message(
                request.prompt,
                request.images,
                model,
                client=self.client,
                guard=self.documents.guard,
                deadline=deadline,
            )
            prompt = await fit_prompt(
                self.counter,
                self.histories,
                model,
                request,
                conversation,
                documents,
                question,
                deadline,
            )
            body = chat_body(
                model,
                prompt.fitted.messages,
                thinking=request.thinking,
                max_tokens=request.max_tokens,
                json_mode=request.json_mode,
                json_schema=request.json_schema,
                reasoning_effort=conversation.reasoning_effort,
                prompt_cache_key=conversation.id,
            )
            loop = ToolLoop(
                self.client,
                slot,
                toolbox,
                self.tools.max_rounds,
                thinks(model, request.thinking),
                hooks.progress,
                hooks.step,
            )
            return await loop.run(body), prompt

    async def _documents(
        self, request: ChatRequest, conversation: Conversation | None, deadline: float
    ) -> list[str]:
        """Earlier documents of the conversation, then the ones named now (each once)."""
        ids = list(conversation.file_ids) if conversation else []
        ids += request.file_ids
        for path in request.files:
            ids.append(await self.documents.file_id_for(path, deadline=deadline))
        return list(dict.fromkeys(ids))

    def _result(
        self,
        outcome: ChatOutcome,
        answer: str,
        conversation_id: str,
        dropped: int,
        file_ids: list[str],
    ) -> ChatAnswer:
        reason = outcome.truncated_reason
        if len(answer) > self.answer_cap:
            answer = answer[: self.answer_cap]
            reason = reason or "size"
        reasoning = outcome.reasoning  # capped alike: 2 MB of thinking is no smaller a result
        if len(reasoning) > self.answer_cap:
            reasoning = reasoning[: self.answer_cap]
            reason = reason or "reasoning_size"
        return ChatAnswer(
            answer=answer,
            model=outcome.model,
            finish_reason=outcome.finish_reason,
            truncated_reason=reason,
            reasoning=reasoning or None,
            usage=outcome.usage,
            conversation_id=conversation_id,
            dropped_turns=dropped,
            file_ids=file_ids,
            upstream_error=outcome.error,
        )


def _stored(conversation_id: str, failure: Exception | None) -> Stored:
    """Whether the turns were kept; a failure never costs the caller the answer it was billed
    for."""
    if failure is None:
        return Stored(True)
    if isinstance(failure, KimiError):
        log.warning("answer in %s not kept: %s", conversation_id, failure)
        return Stored(False, str(failure))
    log.error(
        "answer in %s not kept (a kimi-mcp bug; please report it)",
        conversation_id,
        exc_info=failure,
    )
    return Stored(False, "kimi-mcp failed to store it (see the server log)")


@dataclass(frozen=True)
class Hooks:
    """Where progress goes: stream beats, and steps of the tool loop ("searching: ...")."""

    progress: ProgressHook | None
    step: StepHook | None


def _parsed(request: ChatRequest, result: ChatAnswer) -> ParsedAnswer:
    if not (request.json_mode or request.json_schema is not None):
        return ParsedAnswer()
    return parse_answer(
        result.answer,
        request.json_schema,
        cut=result.truncated_reason if result.truncated else None,
    )
