"""The MCP server: its settings, the tools, prompts and resources it offers, and its services,
each registered or built when a request first needs it (start-up lists the tools from a snapshot).
"""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import RequestStateSecurity

from kimi_mcp import __version__
from kimi_mcp.config import TOOL_NAMES, FormulaName, Settings, too_broad
from kimi_mcp.server.app_context import Services
from kimi_mcp.server.arguments import ArgumentGuard, UnknownPromptGuard
from kimi_mcp.server.deferred import DeferredServer, ToolFunction
from kimi_mcp.server.file_access import why_none_allowed
from kimi_mcp.server.log_level import serve_set_level
from kimi_mcp.server.owners import OwnerScope
from kimi_mcp.server.readiness import Readiness
from kimi_mcp.server.tool_list import listed

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Tools for Moonshot's Kimi models. Use ask_kimi for a second opinion or to have Kimi read "
    "long documents (upload them first, or pass local paths) without spending your own context. "
    "web_search answers from the live web with cited links. Results say when an answer is "
    "truncated; never present a truncated answer as complete."
)
WEB_SEARCH: FormulaName = "web-search"  # the formula web_search runs (ask.kimi_tools.WEB_SEARCH)


def build_server(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    inbound_tokens: tuple[str, ...] = (),
    clients_set_log_level: bool = True,
    readiness: Readiness | None = None,
) -> DeferredServer[Services]:
    """The kimi MCP server; `transport` is the test seam for the upstream HTTP traffic,
    `inbound_tokens` the HTTP bearers in use (generated ones are not in `settings`),
    `clients_set_log_level` whether logging/setLevel changes the stderr log (stdio only), and
    `readiness` (HTTP) is given the stores to probe while the server runs.

    Raises:
        StoreError: a Redis store_url without the redis extra installed (said at start-up).
    """
    log_file_access(settings)  # here: stdio and HTTP both build their server once, after logging
    services = Services(settings, transport)
    if settings.store_url:
        services.stores()  # opened now: a store_url that cannot work stops start-up
    names = offered_names(settings)
    secrets = _secrets(settings, inbound_tokens)
    server = DeferredServer[Services](
        "kimi",
        middleware=[ArgumentGuard(lambda name: server.tool_function(name)), OwnerScope()],
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=_lifespan(services, readiness),
        log_level=settings.log_level,
        request_state_security=request_state_security(settings),
    )
    server.defer_tools(
        names, lambda: listed(names), lambda name: _register_tool(server, name, secrets)
    )
    server.defer("resources", lambda: _register_resources(server, services))
    if "ask_kimi" in names:  # every prompt is a request to call ask_kimi
        server.defer("prompts", lambda: _register_prompts(server))
    else:
        without_prompts(server)
    server.middleware.append(UnknownPromptGuard(server.list_prompts))
    serve_set_level(server, applies=clients_set_log_level)
    return server


def _lifespan(
    services: Services, readiness: Readiness | None
) -> Callable[[MCPServer[Services]], AbstractAsyncContextManager[Services]]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        if readiness is not None:
            readiness.watch(services.stores())  # every store, whatever the backend
        if services.settings.daily_spend_cap is not None:
            services.app()  # now: a cap that can count nothing says so at start-up (CostMeter)
        try:
            yield services
        finally:
            if readiness is not None:
                readiness.forget()
            with anyio.CancelScope(shield=True):  # a cancelled shutdown still closes each
                await services.aclose()

    return lifespan


def _register_tool(
    server: MCPServer[Services], name: str, secrets: tuple[str, ...]
) -> ToolFunction:
    from kimi_mcp.server.tool_registry import offered_tools, register_tools

    tools = offered_tools([name])
    register_tools(server, tools, secrets)
    return tools[0][0]


def _register_resources(server: MCPServer[Services], services: Services) -> None:
    from kimi_mcp.server.resources import register_conversation_resources

    register_conversation_resources(server, lambda: services.stores().conversations)


def _register_prompts(server: MCPServer[Services]) -> None:
    from kimi_mcp.server.prompts import register_prompts

    register_prompts(server)


def _secrets(settings: Settings, inbound_tokens: tuple[str, ...]) -> tuple[str, ...]:
    """Every secret an unexpected error's text is redacted of before it is logged or sent."""
    state_keys = settings.request_state_keys or []
    keys = (settings.api_key, settings.auth_token, *(settings.auth_tokens or {}), *state_keys)
    configured = [key.get_secret_value() for key in keys if key]
    return tuple(secret for secret in (*configured, *inbound_tokens) if secret)


def request_state_security(settings: Settings) -> RequestStateSecurity | None:
    """The configured keys sealing multi-round-trip state; None: the SDK's per-process key.

    Every replica must share the keys and the server name ("kimi", the state's audience), so a
    request one replica started can resume on another.
    """
    if not settings.request_state_keys:
        return None
    return RequestStateSecurity(keys=[k.get_secret_value() for k in settings.request_state_keys])


def offered_names(settings: Settings) -> list[str]:
    """The tools the settings offer, in the fixed order of `TOOL_NAMES`."""
    wanted = set(settings.tools)
    if WEB_SEARCH not in settings.kimi_tools_allowed:  # never offer a tool that could only refuse
        if "web_search" in wanted and "tools" in settings.model_fields_set:
            log.warning("web_search is not offered: kimi_tools_allowed leaves out web-search")
        wanted.discard("web_search")
    return [name for name in TOOL_NAMES if name in wanted]


def without_prompts(server: MCPServer[Services]) -> None:
    """No prompts: no `prompts` capability either (an empty one sends hosts looking for none)."""
    handlers = server._lowlevel_server._request_handlers  # no public removal (mcp 2.3)
    for method in ("prompts/list", "prompts/get"):
        handlers.pop(method, None)


def log_file_access(settings: Settings) -> None:
    """Say at start-up where local files may be read from, and warn when that is too broad."""
    if not settings.allowed_dirs:
        log.warning(
            "No directory is allowed for local files: %s. Allow one with --allow-dir PATH, "
            "allowed_dirs in the config file or KIMI_MCP_ALLOWED_DIRS.",
            why_none_allowed(settings),
        )
        return
    shown = ", ".join(map(str, settings.allowed_dirs))
    log.info("Local files may be read from: %s (inside the client's roots, if any)", shown)
    for directory in settings.allowed_dirs:
        reason = too_broad(directory)
        if reason is not None:
            log.warning(
                "The allowed directory %s is %s: every file under it but the deny list can be "
                "sent to Kimi. Allow only the folders that hold your documents.",
                directory,
                reason,
            )
