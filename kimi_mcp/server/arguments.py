"""Refuse tool arguments the tool does not declare (MCPServer 2.3 silently drops them), explain
wrong ones in words a model can act on, and answer an unknown prompt (or a prompt's missing or
unknown argument) as the protocol says.

A model that writes `max_token` or `conversation` expects it to act; dropping it quietly returns a
result that looks right and is not. The refusal names the argument and the ones that exist. A
wrong type or value gets one sentence per field (argument_errors) instead of pydantic's dump.
"""

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata, func_metadata
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, Prompt, TextContent
from pydantic import ValidationError


def declared_arguments(fn: Callable[..., Any]) -> frozenset[str]:
    """Parameter names a tool takes, without the injected Context and resolver-filled ones."""
    names = []
    for name, parameter in inspect.signature(fn).parameters.items():
        annotation = parameter.annotation
        origin = getattr(annotation, "__origin__", annotation)
        injected = inspect.isclass(origin) and issubclass(origin, Context)
        # Annotated[T, Resolve(fn)] is filled by the SDK (the client's roots): a caller
        # passing it as an argument is as wrong as any unknown name.
        resolved = any(isinstance(m, Resolve) for m in getattr(annotation, "__metadata__", ()))
        if not (injected or resolved):
            names.append(name)
    return frozenset(names)


@dataclass(frozen=True)
class ToolArguments:
    names: frozenset[str]
    metadata: FuncMetadata  # the same validation the SDK runs, so the verdicts agree
    schema: dict[str, Any]

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> "ToolArguments":
        names = declared_arguments(fn)
        skipped = [name for name in inspect.signature(fn).parameters if name not in names]
        metadata = func_metadata(fn, skip_names=skipped)
        return cls(names, metadata, metadata.arg_model.model_json_schema(by_alias=True))


class ArgumentGuard(ServerMiddleware[Any]):
    """Unknown and invalid tool arguments are refused here, before the SDK calls the tool."""

    def __init__(self, tool: Callable[[str], Callable[..., Any] | None]) -> None:
        # `tool` gives the function of an offered tool by name (registering it: a start-up
        # imports none), and each tool's validator is built on its first call: building all of
        # them (a pydantic model and its JSON schema per tool) was a third of build_server.
        self._tool = tool
        self._tools: dict[str, ToolArguments] = {}
        # Tools that took no arguments once without a refusal: the verdict on `{}` never
        # changes, so a call without arguments (check_balance, list_models) is not validated
        # again here; the SDK validates it once more anyway.
        self._bare_calls_pass: set[str] = set()

    def _arguments(self, name: str) -> ToolArguments | None:
        if name not in self._tools:
            fn = self._tool(name)
            if fn is None:
                return None
            self._tools[name] = ToolArguments.of(fn)
        return self._tools[name]

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method == "tools/call" and isinstance(ctx.params, dict):
            refusal = self._refusal(ctx.params.get("name"), ctx.params.get("arguments"))
            if refusal is not None:
                return CallToolResult(
                    content=[TextContent(type="text", text=refusal)], is_error=True
                )
        return await call_next(ctx)

    def _refusal(self, name: object, arguments: object) -> str | None:
        if not isinstance(name, str) or (not arguments and name in self._bare_calls_pass):
            return None  # a malformed name gets the SDK's own answer
        tool = self._arguments(name)
        arguments = {} if arguments is None else arguments
        if tool is None or not isinstance(arguments, dict):
            return None  # unknown tools and malformed params get the SDK's own answers
        unknown = sorted(set(arguments) - tool.names)
        if unknown:
            return (
                f"Unknown argument(s) for {name}: {', '.join(unknown)}. "
                f"It takes: {', '.join(sorted(tool.names)) or 'no arguments'}. Nothing was done."
            )
        try:
            tool.metadata.validate_arguments(arguments)
        except ValidationError as exc:
            from kimi_mcp.server.argument_errors import describe_invalid_arguments  # on a refusal

            return describe_invalid_arguments(name, exc, tool.schema)
        if not arguments:
            self._bare_calls_pass.add(name)
        return None


class UnknownPromptGuard(ServerMiddleware[Any]):
    """`prompts/get` for a name the server lacks, without a required argument or with one the
    prompt does not take, is invalid params (-32602) saying what to send instead.

    The SDK raises ValueError, which reaches the client as an internal error and leaves a
    30-line traceback in the log.
    """

    def __init__(self, prompts: Callable[[], Awaitable[list[Prompt]]]) -> None:
        self._prompts = prompts

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method == "prompts/get" and isinstance(ctx.params, dict):
            name = ctx.params.get("name")
            known = {prompt.name: prompt for prompt in await self._prompts()}
            if isinstance(name, str) and name not in known:
                offer = f"It has: {', '.join(sorted(known))}." if known else "It has none."
                raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name[:80]!r}. {offer}")
            arguments = ctx.params.get("arguments") or {}
            if isinstance(name, str) and isinstance(arguments, dict):
                refusal = _prompt_refusal(known[name], set(arguments))
                if refusal is not None:
                    raise MCPError(INVALID_PARAMS, refusal)
        return await call_next(ctx)


def _prompt_refusal(prompt: Prompt, given: set[str]) -> str | None:
    takes = [argument.name for argument in prompt.arguments or ()]
    needs = [argument.name for argument in prompt.arguments or () if argument.required]
    unknown = sorted(given - set(takes))
    if unknown:
        shown = ", ".join(name[:40] for name in unknown)
        return f"Prompt {prompt.name} takes {', '.join(takes)}; not: {shown}."
    missing = [name for name in needs if name not in given]
    if missing:
        return f"Prompt {prompt.name} needs the argument(s): {', '.join(missing)}."
    return None
