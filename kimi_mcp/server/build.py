"""The MCP server: its services built from the settings, the tools and prompts it offers, and
KimiErrors turned into ToolErrors in one place."""

import functools
import logging
import os
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

import anyio
import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import RequestStateSecurity
from mcp.server.mcpserver.exceptions import ToolError

from kimi_mcp import __version__
from kimi_mcp.ask.catalogue import ModelCatalogue
from kimi_mcp.ask.chat import ChatService, KimiTools
from kimi_mcp.ask.documents import DocumentService
from kimi_mcp.ask.kimi_tools import WEB_SEARCH, FormulaCatalogue
from kimi_mcp.ask.pricing import Price, PriceTable
from kimi_mcp.ask.spending import CostMeter
from kimi_mcp.ask.token_counts import TokenCounter
from kimi_mcp.config import Settings, default_config_path, too_broad
from kimi_mcp.errors import KimiError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.policy import redact
from kimi_mcp.local_files.guard import PathGuard
from kimi_mcp.server.app_context import AppContext
from kimi_mcp.server.arguments import ArgumentGuard, UnknownPromptGuard
from kimi_mcp.server.compact_schemas import CompactToolsServer
from kimi_mcp.server.log_level import serve_set_level
from kimi_mcp.server.owners import OwnerScope
from kimi_mcp.server.prompts import register_prompts
from kimi_mcp.server.readiness import Readiness
from kimi_mcp.server.resources import register_conversation_resources
from kimi_mcp.server.results import wire_safe
from kimi_mcp.server.search_tool import SEARCH_ANNOTATIONS, web_search
from kimi_mcp.server.tools import TOOLS, ToolEntry, ask_kimi
from kimi_mcp.store.open import Stores, open_stores, sqlite_directory

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Tools for Moonshot's Kimi models. Use ask_kimi for a second opinion or to have Kimi read "
    "long documents (upload them first, or pass local paths) without spending your own context. "
    "web_search answers from the live web with cited links. Results say when an answer is "
    "truncated; never present a truncated answer as complete."
)

P = ParamSpec("P")
R = TypeVar("R")


def _reported(fn: Callable[P, Awaitable[R]], secrets: tuple[str, ...]) -> Callable[P, Awaitable[R]]:
    """Turn KimiErrors into ToolErrors: the only way their message reaches the model (mcp 2.3).

    Anything else is a bug of ours: it is logged and reported with the key redacted, because an
    exception's text (a library's, say, that quotes the request) is not ours to trust.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except KimiError as exc:
            log.info("%s failed: %s", fn.__name__, exc)
            # wire_safe: a lone surrogate Kimi echoed (in an error body, say) cannot be sent
            # as JSON and would stop a stdio server.
            raise ToolError(wire_safe(str(exc))) from None
        except ToolError:
            raise
        except Exception as exc:
            trace = redact("".join(traceback.format_exception(exc)), secrets)
            log.error("%s crashed (a kimi-mcp bug; please report it):\n%s", fn.__name__, trace)
            detail = redact(f"{type(exc).__name__}: {exc}", secrets)[:300]
            raise ToolError(
                f"kimi-mcp failed unexpectedly in {fn.__name__} ({detail}). Try again; if it "
                "keeps failing, report it with the server's log."
            ) from None

    return wrapper


def build_server(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    inbound_tokens: tuple[str, ...] = (),
    clients_set_log_level: bool = True,
    readiness: Readiness | None = None,
) -> MCPServer[AppContext]:
    """The kimi MCP server; `transport` is the test seam for the upstream HTTP traffic,
    `inbound_tokens` the HTTP bearers in use (generated ones are not in `settings`),
    `clients_set_log_level` whether logging/setLevel changes the stderr log (stdio only), and
    `readiness` (HTTP) is given the stores to probe while the server runs."""
    log_file_access(settings)  # here: stdio and HTTP both build their server once, after logging
    stores = open_stores_for(settings)  # nothing is opened until used
    store = stores.conversations

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppContext]) -> AsyncIterator[AppContext]:
        client = KimiClient(
            api_key=settings.api_key,
            base_url=settings.api_base_url,
            user_agent=f"kimi-mcp/{__version__}",
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            max_concurrent_chats=settings.max_concurrent_chats,
            transport=transport,
        )
        catalogue = ModelCatalogue(client)
        ledger, spend = stores.uploads, stores.spend
        documents = DocumentService(client, guard_for(settings), ledger, settings.upload_min_rate)
        chat = ChatService(
            client,
            catalogue,
            store,
            documents,
            settings.default_model,
            settings.deadline,
            settings.answer_cap,
            TokenCounter(client, stores.token_counts),
            CostMeter(price_table(settings), spend, settings.daily_spend_cap),
            KimiTools(
                FormulaCatalogue(client),
                frozenset(settings.kimi_tools_allowed),
                settings.max_tool_rounds,
            ),
            stores.answer_writes,
        )
        if readiness is not None:
            readiness.watch(stores)  # every store, whatever the backend
        try:
            yield AppContext(settings, client, catalogue, chat, documents)
        finally:
            if readiness is not None:
                readiness.forget()
            with anyio.CancelScope(shield=True):  # a cancelled shutdown still closes each
                await client.aclose()
                await stores.aclose()

    tools = offered_tools(settings)
    server = CompactToolsServer[AppContext](
        "kimi",
        middleware=[ArgumentGuard(fn for fn, _, _ in tools), OwnerScope()],
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,
        request_state_security=request_state_security(settings),
    )
    state_keys = settings.request_state_keys or []
    keys = (settings.api_key, settings.auth_token, *(settings.auth_tokens or {}), *state_keys)
    configured = [key.get_secret_value() for key in keys if key]
    secrets = tuple(secret for secret in (*configured, *inbound_tokens) if secret)
    for fn, title, annotations in tools:
        tool = _reported(fn, secrets)
        server.add_tool(tool, title=title, annotations=annotations, structured_output=True)
    register_conversation_resources(server, store)
    if ask_kimi in (fn for fn, _, _ in tools):  # every prompt is a request to call ask_kimi
        register_prompts(server)
    else:
        without_prompts(server)
    server.middleware.append(UnknownPromptGuard(server.list_prompts))
    serve_set_level(server, applies=clients_set_log_level)
    return server


def open_stores_for(settings: Settings) -> Stores:
    """The stores `store_url` names (SQLite in data_dir by default); callers see interfaces.

    Raises:
        StoreError: a Redis URL without the redis extra installed.
    """
    return open_stores(
        settings.store_url,
        data_dir=settings.data_dir,
        key_prefix=settings.store_key_prefix,
        ttl_days=settings.conversation_ttl_days,
    )


def request_state_security(settings: Settings) -> RequestStateSecurity | None:
    """The configured keys sealing multi-round-trip state; None: the SDK's per-process key.

    Every replica must share the keys and the server name ("kimi", the state's audience), so a
    request one replica started can resume on another.
    """
    if not settings.request_state_keys:
        return None
    return RequestStateSecurity(keys=[k.get_secret_value() for k in settings.request_state_keys])


def offered_tools(settings: Settings) -> list[ToolEntry]:
    """The tools the settings offer, in the fixed order of `TOOL_NAMES`."""
    everything = list(TOOLS)
    everything.insert(1, (web_search, "Search the web with Kimi", SEARCH_ANNOTATIONS))
    wanted = set(settings.tools)
    if WEB_SEARCH not in settings.kimi_tools_allowed:  # never offer a tool that could only refuse
        if "web_search" in wanted and "tools" in settings.model_fields_set:
            log.warning("web_search is not offered: kimi_tools_allowed leaves out web-search")
        wanted.discard("web_search")
    return [tool for tool in everything if tool[0].__name__ in wanted]


def without_prompts(server: MCPServer[AppContext]) -> None:
    """No prompts: no `prompts` capability either (an empty one sends hosts looking for none)."""
    handlers = server._lowlevel_server._request_handlers  # no public removal (mcp 2.3)
    for method in ("prompts/list", "prompts/get"):
        handlers.pop(method, None)


def guard_for(settings: Settings) -> PathGuard:
    """The guard a server built from `settings` uses: its own config and data stay private."""
    config = settings.config.expanduser() if settings.config else default_config_path()
    return PathGuard(
        settings.allowed_dirs,
        deny_names=settings.deny_names,
        protected=[config, *_state_dirs(settings)],
        why_none_allowed=_why_none_allowed(settings),
    )


def _state_dirs(settings: Settings) -> list[Path]:
    """data_dir, and the directory a sqlite:/// store_url names: never readable as documents."""
    directories = [settings.data_dir.expanduser()]
    if settings.store_url and settings.store_url.startswith("sqlite:"):
        directories.append(sqlite_directory(settings.store_url, settings.data_dir))
    return directories


def price_table(settings: Settings) -> PriceTable:
    """The built-in prices for the platform's currency, with the config file's on top."""
    overrides = {model: Price(**price.model_dump()) for model, price in settings.prices.items()}
    return PriceTable.for_currency(settings.currency, overrides)


def _why_none_allowed(settings: Settings) -> str:
    if settings.allowed_dirs:
        return ""
    if "allowed_dirs" in settings.model_fields_set:
        return "allowed_dirs is set to an empty list"
    try:
        working = Path(os.path.realpath(Path.cwd()))
    except OSError:  # started in a directory that was deleted since
        return "the working directory the server was started in no longer exists"
    reason = too_broad(working) or "not a usable directory"
    return f"the server was started in {working}, {reason}, which is never allowed by default"


def log_file_access(settings: Settings) -> None:
    """Say at start-up where local files may be read from, and warn when that is too broad."""
    if not settings.allowed_dirs:
        log.warning(
            "No directory is allowed for local files: %s. Allow one with --allow-dir PATH, "
            "allowed_dirs in the config file or KIMI_MCP_ALLOWED_DIRS.",
            _why_none_allowed(settings),
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
