"""The services the tools use, built from the settings: imported and built on the first call that
needs them (`app_context.Services`), never at start-up."""

from dataclasses import dataclass
from pathlib import Path

import httpx2

from kimi_mcp import __version__
from kimi_mcp.ask.catalogue import ModelCatalogue
from kimi_mcp.ask.chat import ChatService, KimiTools
from kimi_mcp.ask.documents import DocumentService
from kimi_mcp.ask.kimi_tools import FormulaCatalogue
from kimi_mcp.ask.pricing import Price, PriceTable
from kimi_mcp.ask.spending import CostMeter
from kimi_mcp.ask.token_counts import TokenCounter
from kimi_mcp.config import Settings, default_config_path
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.local_files.guard import PathGuard
from kimi_mcp.server.file_access import why_none_allowed
from kimi_mcp.store.open import Stores, sqlite_directory


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    client: KimiClient
    catalogue: ModelCatalogue
    chat: ChatService
    documents: DocumentService


def build_app(
    settings: Settings, transport: httpx2.AsyncBaseTransport | None, stores: Stores
) -> AppContext:
    """Every service, from the settings; `transport` is the test seam for the upstream traffic.
    Nothing here touches the network or a file: the HTTP client and the stores open on use."""
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
    documents = DocumentService(
        client, guard_for(settings), stores.uploads, settings.upload_min_rate
    )
    chat = ChatService(
        client,
        catalogue,
        stores.conversations,
        documents,
        settings.default_model,
        settings.deadline,
        settings.answer_cap,
        TokenCounter(client, stores.token_counts),
        CostMeter(price_table(settings), stores.spend, settings.daily_spend_cap),
        KimiTools(
            FormulaCatalogue(client),
            frozenset(settings.kimi_tools_allowed),
            settings.max_tool_rounds,
        ),
        stores.answer_writes,
    )
    return AppContext(settings, client, catalogue, chat, documents)


def guard_for(settings: Settings) -> PathGuard:
    """The guard a server built from `settings` uses: its own config and data stay private."""
    config = settings.config.expanduser() if settings.config else default_config_path()
    return PathGuard(
        settings.allowed_dirs,
        deny_names=settings.deny_names,
        protected=[config, *_state_dirs(settings)],
        why_none_allowed=why_none_allowed(settings),
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
