"""An MCPServer that registers its tools, prompts and resources when a request first needs them,
not at start-up, and answers tools/list from a snapshot until its tools are registered.

Registering the real tools means importing them, with their result models, the services and
the Kimi client behind them, and building a pydantic model and a JSON schema per tool: most of
what a start-up cost over a bare SDK server (issue 13: cold start within 1.05x of it). A start
that a host only lists the tools of pays for none of it; the first call pays it once.
"""

from collections.abc import Callable, Iterable
from typing import Any, Literal

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, GetPromptResult, InputRequiredResult, Tool
from mcp.types import Prompt as MCPPrompt
from mcp.types import Resource as MCPResource
from mcp.types import ResourceTemplate as MCPResourceTemplate
from pydantic import AnyUrl

from kimi_mcp.server.compact_schemas import CompactToolsServer, LifespanT

Part = Literal["tools", "prompts", "resources"]


class DeferredServer(CompactToolsServer[LifespanT]):
    """Each `defer`red part is registered on the first request that reads it; until the tools
    are, tools/list gives what `listed` returns (the same list: `tool_list` proves it)."""

    def defer(self, part: Part, register: Callable[[], None]) -> None:
        self._pending()[part] = register

    def list_tools_before_registering(self, listed: Callable[[], list[Tool]]) -> None:
        self.__dict__["_listed"] = listed

    def registered(self, part: Part) -> None:
        """Register `part` now if it is still deferred."""
        register = self._pending().get(part)
        if register is not None:
            register()
            del self._pending()[part]  # after: a registration that raised is tried again

    def _pending(self) -> dict[Part, Callable[[], None]]:
        pending: dict[Part, Callable[[], None]] = self.__dict__.setdefault("_deferred", {})
        return pending

    # Every SDK method that reads the tool, prompt or resource manager (mcp 2.3) --------------

    async def list_tools(self) -> list[Tool]:
        listed: Callable[[], list[Tool]] | None = self.__dict__.get("_listed")
        if "tools" in self._pending() and listed is not None:
            return listed()
        return await super().list_tools()

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[LifespanT, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        self.registered("tools")
        return await super().call_tool(name, arguments, context)

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        # The SDK's HTTP transport checks Mcp-Param headers against it before any middleware.
        self.registered("tools")
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
