"""What every tool reaches through its Context: the services built once in the lifespan."""

from dataclasses import dataclass

from mcp.server.mcpserver import Context

from kimi_mcp.ask.catalogue import ModelCatalogue
from kimi_mcp.ask.chat import ChatService
from kimi_mcp.ask.documents import DocumentService
from kimi_mcp.config import Settings
from kimi_mcp.kimi.client import KimiClient


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    client: KimiClient
    catalogue: ModelCatalogue
    chat: ChatService
    documents: DocumentService


AppCtx = Context[AppContext]


def app_of(ctx: AppCtx) -> AppContext:
    return ctx.request_context.lifespan_context
