"""An MCPServer that registers its tools, prompts and resources when a request first needs them,
not at start-up, and answers tools/list from a snapshot.

Registering the real tools means importing them, with their result models, the services and
the Kimi client behind them, and building a pydantic model and a JSON schema per tool: most of
what a start-up cost over a bare SDK server (issue 13: cold start within 1.05x of it). A start
that a host only lists the tools of pays for none of it; the first call pays the imports once,
and builds the pydantic model and schema of the tool it calls only.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, GetPromptResult, InputRequiredResult, Tool
from mcp.types import Prompt as MCPPrompt
from mcp.types import Resource as MCPResource
from mcp.types import ResourceTemplate as MCPResourceTemplate
from pydantic import AnyUrl

from kimi_mcp.server.compact_schemas import CompactToolsServer, LifespanT

Part = Literal["prompts", "resources"]


ToolFunction = Callable[..., Any]


@dataclass
class _DeferredTools:
    listed: Callable[[], list[Tool]]  # what tools/list gives: the snapshot
    register: Callable[[str], ToolFunction]  # registers one tool by name; gives its function
    waiting: list[str]  # the offered tools not registered yet
    functions: dict[str, ToolFunction] = field(default_factory=dict)  # the registered ones


class DeferredServer(CompactToolsServer[LifespanT]):
    """Each tool is registered on the first call of it, and tools/list answers from `listed`: the
    snapshot, which `tool_list`'s test proves equal to what the tools compact to (and in their
    fixed order, whichever were registered since). Prompts and resources, each a `defer`red
    part, are registered on the first request that reads them.

    Its state is set on first use (class defaults until then), not in an `__init__`: the SDK's
    constructor takes many arguments that an override would have to keep in step."""

    _deferred_tools: _DeferredTools | None = None
    _deferred_parts: dict[Part, Callable[[], None]] | None = None

    def defer_tools(
        self,
        names: Iterable[str],
        listed: Callable[[], list[Tool]],
        register: Callable[[str], ToolFunction],
    ) -> None:
        self._deferred_tools = _DeferredTools(listed, register, list(names))

    def tool_registered(self, name: str) -> None:
        """Register the tool `name` now if it is offered and not registered yet."""
        tools = self._deferred_tools
        if tools is not None and name in tools.waiting:
            tools.functions[name] = tools.register(name)
            tools.waiting.remove(name)  # after: a registration that raised is tried again

    def tool_function(self, name: str) -> ToolFunction | None:
        """The function of the offered tool `name`, registered now if it was not yet."""
        self.tool_registered(name)
        tools = self._deferred_tools
        return tools.functions.get(name) if tools is not None else None

    def tools_registered(self) -> None:
        """Every offered tool registered now, in the fixed order (the snapshot's test)."""
        tools = self._deferred_tools
        for name in list(tools.waiting) if tools is not None else ():
            self.tool_registered(name)

    def defer(self, part: Part, register: Callable[[], None]) -> None:
        self._pending()[part] = register

    def registered(self, part: Part) -> None:
        """Register `part` now if it is still deferred."""
        register = self._pending().get(part)
        if register is not None:
            register()
            del self._pending()[part]  # after: a registration that raised is tried again

    def _pending(self) -> dict[Part, Callable[[], None]]:
        if self._deferred_parts is None:
            self._deferred_parts = {}
        return self._deferred_parts

    # Every SDK method that reads the tool, prompt or resource manager (mcp 2.3) --------------

    async def list_tools(self) -> list[Tool]:
        tools = self._deferred_tools
        return tools.listed() if tools is not None else await super().list_tools()

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[LifespanT, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        self.tool_registered(name)
        return await super().call_tool(name, arguments, context)

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        # The SDK's HTTP transport checks Mcp-Param headers against it before any middleware.
        self.tool_registered(name)
        return super()._tool_input_schema(name)

    async def list_prompts(self) -> list[MCPPrompt]:
        self.registered("prompts")
        return await super().list_prompts()

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        context: Context[LifespanT, Any] | None = None,
    ) -> GetPromptResult | InputRequiredResult:
        self.registered("prompts")
        return await super().get_prompt(name, arguments, context)

    async def list_resources(self) -> list[MCPResource]:
        self.registered("resources")
        return await super().list_resources()

    async def list_resource_templates(self) -> list[MCPResourceTemplate]:
        self.registered("resources")
        return await super().list_resource_templates()

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[LifespanT, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        self.registered("resources")
        return await super().read_resource(uri, context)
