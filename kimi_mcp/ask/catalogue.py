"""The live model list from GET /v1/models, cached briefly so each chat need not fetch it."""

import anyio

from kimi_mcp.errors import InputError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.types import ModelInfo

CACHE_SECONDS = 600.0


class ModelCatalogue:
    def __init__(self, client: KimiClient, *, ttl: float = CACHE_SECONDS) -> None:
        self._client = client
        self._ttl = ttl
        self._models: list[ModelInfo] = []
        self._fetched_at = -float("inf")
        self._lock = anyio.Lock()

    async def models(self, *, deadline: float, fresh: bool = False) -> list[ModelInfo]:
        if not (fresh or self._stale()):
            return self._models  # most calls: no lock to take (~0.008 ms each)
        async with self._lock:  # one fetch even when several calls start at once
            if fresh or self._stale():
                self._models = await self._client.list_models(deadline=deadline)
                self._fetched_at = anyio.current_time()
            return self._models

    def _stale(self) -> bool:
        return anyio.current_time() - self._fetched_at > self._ttl

    async def get(self, model_id: str, *, deadline: float) -> ModelInfo:
        """The model's entry, re-reading the list once before calling an id unknown."""
        for fresh in (False, True):
            models = await self.models(deadline=deadline, fresh=fresh)
            for model in models:
                if model.id == model_id:
                    return model
        available = ", ".join(model.id for model in models) or "none"
        raise InputError(
            f"Unknown model '{model_id}'. Models this key can use: {available}. "
            "Call list_models for their context windows and capabilities."
        )
