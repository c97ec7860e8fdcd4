"""What every tool reaches through its Context: the services, built on the first call that needs
them (`Services`), so a start-up pays for none of them (issue 13: cold start and idle RSS)."""

from typing import TYPE_CHECKING

import httpx2
from mcp.server.mcpserver import Context

from kimi_mcp.config import Settings

if TYPE_CHECKING:  # the modules behind them are imported on first use, not at start-up
    from kimi_mcp.server.services import AppContext
    from kimi_mcp.store.open import Stores


class Services:
    """The services of one server, each built once on first use; `aclose` closes what was built
    (and nothing that was not), after which the next use builds them again."""

    def __init__(self, settings: Settings, transport: httpx2.AsyncBaseTransport | None) -> None:
        self.settings = settings
        self._transport = transport  # the test seam for the upstream HTTP traffic
        self._stores: Stores | None = None
        self._app: AppContext | None = None

    def stores(self) -> "Stores":
        """The stores `store_url` names (SQLite in data_dir by default); nothing is opened until
        used.

        Raises:
            StoreError: a Redis URL without the redis extra installed.
        """
        if self._stores is None:
            from kimi_mcp.store.open import open_stores

            settings = self.settings
            self._stores = open_stores(
                settings.store_url,
                data_dir=settings.data_dir,
                key_prefix=settings.store_key_prefix,
                ttl_days=settings.conversation_ttl_days,
            )
        return self._stores

    def app(self) -> "AppContext":
        """The client, catalogue, chat and document services, built on the first call.

        No lock is needed: the build awaits nothing, so no other task runs between the check and
        the assignment. A build that raises leaves nothing behind and is tried again next call.
        """
        if self._app is None:
            from kimi_mcp.server.services import build_app

            self._app = build_app(self.settings, self._transport, self.stores())
        return self._app

    async def aclose(self) -> None:
        app, stores = self._app, self._stores
        self._app = self._stores = None
        if app is not None:
            await app.client.aclose()
        if stores is not None:
            await stores.aclose()


AppCtx = Context[Services]


def app_of(ctx: AppCtx) -> "AppContext":
    return ctx.request_context.lifespan_context.app()
