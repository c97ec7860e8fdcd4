"""The tool-call loop of kimi-api.md 2.8: stream, run the calls the model asked for as fibers,
feed their results back, and ask again, until the model answers or the round cap is reached.

Everything happens inside the one chat slot and the one deadline of the ask. Once a round was
billed, nothing ends the call with an error: a deadline while fibers run returns the answer so
far, marked "deadline", and a failed fiber becomes an `Error: ...` tool message the model reads.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import anyio

from kimi_mcp.ask.kimi_tools import Toolbox
from kimi_mcp.errors import KimiError
from kimi_mcp.kimi.client import ChatSlot, KimiClient, ProgressHook
from kimi_mcp.kimi.stream import ChatOutcome
from kimi_mcp.kimi.types import Usage
from kimi_mcp.store.conversations import Turn

log = logging.getLogger(__name__)

StepHook = Callable[[str], Awaitable[None]]  # "searching: ...", told to the caller's progress
SHOWN_ARGUMENT = 120  # characters of a query or URL quoted in a progress message
ERROR_CHARS = 2000  # of a failure's text given back to the model
FIBERS_AT_ONCE = 4  # a round's calls run concurrently, this many at a time
MAX_CALLS_PER_ROUND = 32  # more is a model gone astray: the rest get an error, not a fiber
# Characters of one tool result sent back: a fiber may answer up to 16 MiB, and a whole page
# in the next prompt makes Kimi refuse it as too long (a 256K-token window holds about 1 MB).
MAX_RESULT_CHARS = 200_000


@dataclass(frozen=True)
class ToolRun:
    """One tool call the model made, as the result reports it."""

    name: str
    formula: str | None
    arguments: dict[str, Any] | None  # None when the model wrote arguments that are not JSON
    status: Literal["ok", "error"]
    error: str | None = None


Reply = tuple[str, ToolRun, bool]  # the tool message's content, the call's record, searched


@dataclass
class LoopResult:
    outcome: ChatOutcome  # the last round's, with the usage of every round added up
    rounds: int = 0  # tool rounds run
    runs: list[ToolRun] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)  # whole tool rounds, to keep in order
    searches: int = 0  # web-search fibers that ran (each one is charged)


@dataclass(frozen=True)
class ToolLoop:
    client: KimiClient
    slot: ChatSlot
    toolbox: Toolbox
    max_rounds: int
    thinks: bool  # reasoning_content must go back with each tool-call turn
    on_progress: ProgressHook | None = None
    on_step: StepHook | None = None

    async def run(self, body: dict[str, Any]) -> LoopResult:
        """Stream `body` (its messages are extended round by round) until a final answer."""
        if not self.toolbox.empty:
            body = {**body, "tools": self.toolbox.declarations}
        messages: list[dict[str, Any]] = list(body["messages"])
        result: LoopResult | None = None
        while True:
            try:
                outcome = await self.slot.stream({**body, "messages": messages}, **self._hooks())
            except KimiError as exc:
                if result is None:  # nothing was billed yet: the ask fails as any would
                    raise
                return _failed_round(result, exc)
            result = _added(result, outcome)
            if not _wants_tools(outcome):
                return result
            if result.rounds >= self.max_rounds:
                result.outcome = replace(result.outcome, truncated_reason="tool_rounds")
                return result
            round_turns = await self._run_round(outcome, result)
            if round_turns is None:  # the deadline passed while the fibers ran
                result.outcome = replace(result.outcome, truncated_reason="deadline")
                return result
            result.rounds += 1
            result.turns += round_turns
            messages += [turn_message(turn, self.thinks) for turn in round_turns]

    def _hooks(self) -> dict[str, Any]:
        return {"on_progress": self.on_progress} if self.on_progress else {}

    async def _run_round(self, outcome: ChatOutcome, result: LoopResult) -> list[Turn] | None:
        """Run every call of the round at once; the round's turns, or None past the deadline."""
        calls = outcome.tool_calls
        if self.on_step is not None:
            await self.on_step("; ".join(_step(call) for call in calls))
        replies = [("", self._unfinished(call), False) for call in calls]
        deadline = self.slot.deadline
        with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as scope:
            if len(calls) == 1:  # most rounds: in this task (a task group cost ~0.06 ms)
                replies[0] = await self._run_call(calls[0])
            else:
                await self._run_all(calls, replies)
        for _, run, searched in replies:  # a search that ran is charged, deadline or not
            result.runs.append(run)
            result.searches += searched
        if scope.cancelled_caught or anyio.current_time() >= deadline:
            return None  # half a round is never kept: Kimi needs every call answered
        assistant = Turn("assistant", outcome.content, outcome.reasoning or None, tool_calls=calls)
        tool_turns = [
            Turn("tool", content, tool_call_id=str(call["id"]))
            for call, (content, _, _) in zip(calls, replies, strict=True)
        ]
        return [assistant, *tool_turns]

    async def _run_all(self, calls: list[dict[str, Any]], replies: list[Reply]) -> None:
        """Each call in `replies`' place, FIBERS_AT_ONCE at a time."""
        limiter = anyio.CapacityLimiter(FIBERS_AT_ONCE)

        async def run_one(index: int) -> None:
            if index >= MAX_CALLS_PER_ROUND:
                why = f"more than {MAX_CALLS_PER_ROUND} tool calls at once; make fewer calls"
                replies[index] = _failed(_name(calls[index]), None, None, why)
                return
            async with limiter:
                replies[index] = await self._run_call(calls[index])

        async with anyio.create_task_group() as group:
            for index in range(len(calls)):
                group.start_soon(run_one, index)

    def _unfinished(self, call: dict[str, Any]) -> ToolRun:
        """A call's record until its fiber answers (what stays when the deadline passes)."""
        name = _name(call)
        arguments = _arguments(str(call["function"]["arguments"]))
        why = "the deadline passed before it finished"
        return ToolRun(name, self.toolbox.formula_of.get(name), arguments, "error", why)

    async def _run_call(self, call: dict[str, Any]) -> Reply:
        """The tool message's content, the call's record, and whether a search ran."""
        function = call["function"]
        name, arguments = str(function["name"]), str(function["arguments"])
        formula = self.toolbox.formula_of.get(name)
        parsed = _arguments(arguments)
        if formula is None:  # the model called a function nobody declared
            return _failed(name, None, parsed, f"there is no tool named '{name}'")
        if parsed is None:  # Kimi refuses such a fiber (400): the model hears it at once
            why = "its arguments are not a JSON object; call it again with JSON object arguments"
            return _failed(name, formula, None, why)
        try:  # a deadline that passes here is seen by the round, which then ends the loop
            fiber = await self.client.run_fiber(
                formula, name, arguments, deadline=self.slot.deadline
            )
        except KimiError as exc:
            return _failed(name, formula, parsed, str(exc))
        if not fiber.succeeded:
            return _failed(name, formula, parsed, fiber.failure)
        searched = formula.startswith("moonshot/web-search:")
        result = fiber.result
        if len(result) > MAX_RESULT_CHARS and fiber.context.encrypted_output:
            # Cut, it could not be decrypted: the search ran (and is charged) but cannot be read.
            why = f"the result ({len(result)} characters) is too large to read; ask for less"
            text, run, _ = _failed(name, formula, parsed, why)
            return text, run, searched
        if len(result) > MAX_RESULT_CHARS:
            left_out = len(result) - MAX_RESULT_CHARS
            result = f"{result[:MAX_RESULT_CHARS]}\n[kimi-mcp: {left_out} characters were left out]"
        run = ToolRun(name, formula, parsed, "ok")
        # Kimi refuses an empty message, and an empty result is still an answer to the call.
        return result or "(no output)", run, searched


def _failed(name: str, formula: str | None, arguments: dict[str, Any] | None, why: str) -> Reply:
    log.info("tool call %s failed: %s", name, why)
    why = why[:ERROR_CHARS]
    return f"Error: {why}", ToolRun(name, formula, arguments, "error", why), False


def _name(call: dict[str, Any]) -> str:
    return str(call["function"]["name"])


def _wants_tools(outcome: ChatOutcome) -> bool:
    """A complete tool-call turn: a cut one is returned as it is (its calls never ran)."""
    return (
        outcome.finish_reason == "tool_calls"
        and bool(outcome.tool_calls)
        and outcome.truncated_reason is None
    )


def _added(so_far: LoopResult | None, outcome: ChatOutcome) -> LoopResult:
    if so_far is None:
        return LoopResult(outcome)
    so_far.outcome = replace(outcome, usage=_sum(so_far.outcome.usage, outcome.usage))
    return so_far


def _failed_round(result: LoopResult, exc: KimiError) -> LoopResult:
    """Earlier rounds were billed and their tools ran: a round Kimi then refuses returns them
    (kept in the conversation, so asking again goes on from their results) with Kimi's error.
    The last answer's text was the tool-call turn's, which the kept rounds hold already."""
    log.info("tool round %d failed: %s", result.rounds + 1, exc)
    result.outcome = replace(
        result.outcome,
        content="",
        reasoning="",
        finish_reason=None,
        tool_calls=[],
        truncated_reason="stream_cut",
        error=str(exc),
    )
    return result


def _sum(a: Usage | None, b: Usage | None) -> Usage | None:
    """Every round is billed: the call's usage is their sum."""
    if a is None or b is None:
        return a or b
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
        cached_tokens=a.cached_tokens + b.cached_tokens,
    )


def _arguments(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _step(call: dict[str, Any]) -> str:
    """What a progress message says while the call runs."""
    name = str(call["function"]["name"])
    arguments = _arguments(str(call["function"]["arguments"])) or {}
    if name == "web_search":
        return f'searching: "{str(arguments.get("query", ""))[:SHOWN_ARGUMENT]}"'
    if name == "fetch":
        return f"fetching {str(arguments.get('url', ''))[:SHOWN_ARGUMENT]}"
    if name in ("code_runner", "quickjs"):
        return "running code"
    return f"running {name[:SHOWN_ARGUMENT]}"


def turn_message(turn: Turn, thinks: bool) -> dict[str, Any]:
    """A kept turn as Kimi must see it again (kimi-api.md 2.2 and 2.8)."""
    if turn.role == "tool":
        return {"role": "tool", "tool_call_id": turn.tool_call_id, "content": turn.content}
    message: dict[str, Any] = {"role": turn.role, "content": turn.content}
    if turn.tool_calls:
        message["tool_calls"] = turn.tool_calls
        if thinks:  # required back on tool-call turns; a space where none was kept (LiteLLM)
            message["reasoning_content"] = turn.reasoning or " "
    return message
