"""The one Redis connection pool of a process, shared by the Redis backends of every store.

Created on first use inside the running event loop and dropped by `aclose` (the next use opens a
new one), so a server started again in a new loop never reuses a closed pool. Timeouts are
bounded and a dropped connection is retried once at once, so a Redis restart costs one call's
reconnect, not a kimi-mcp restart. Every failure is a `StoreError` naming the URL without its
password and the fix.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.retry import Retry

from kimi_mcp.errors import StoreError
from kimi_mcp.store.store_url import masked_url

TIMEOUT_SECONDS = 3.0  # connect and each command: a Redis that does not answer is down
URL_FIX = "Check store_url (KIMI_MCP_STORE_URL)"
DOWN_FIX = (
    "Start Redis or fix store_url (KIMI_MCP_STORE_URL); kimi-mcp reconnects by itself once it "
    "answers, no restart needed."
)
Value = str | int | float


class RedisConnection:
    """The client, the key prefix and the error translation the Redis backends share."""

    def __init__(self, url: str, *, prefix: str) -> None:
        self.url = url
        self.shown = masked_url(url)
        self.prefix = prefix
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def client(self) -> Redis:
        if self._client is None:
            self._client = Redis.from_url(
                self.url,
                socket_connect_timeout=TIMEOUT_SECONDS,
                socket_timeout=TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 1),  # a connection Redis dropped: once more at once
                decode_responses=True,
                encoding_errors="surrogatepass",  # lone surrogates kept exactly, as SQLite does
            )
            self._scripts = {}
        return self._client

    async def run(self, script: str, keys: Sequence[str], args: Sequence[Value]) -> object:
        """Run a Lua script (atomic: Redis runs nothing else meanwhile) by its digest."""
        client = self.client()
        if script not in self._scripts:
            self._scripts[script] = client.register_script(script)
        return await self._scripts[script](keys=list(keys), args=list(args), client=client)

    @asynccontextmanager
    async def errors(self) -> AsyncIterator[None]:
        """Turn a Redis failure, or a value kimi-mcp did not write, into a clear StoreError."""
        try:
            yield
        except StoreError:
            raise
        except AuthenticationError as exc:
            raise StoreError(self.shown, "Redis refused the password", URL_FIX + ".") from exc
        except ResponseError as exc:
            raise StoreError(
                self.shown, f"Redis refused a command ({exc})", _response_fix(str(exc))
            ) from exc
        except (RedisError, OSError) as exc:
            raise StoreError(self.shown, f"Redis is not reachable ({exc})", DOWN_FIX) from exc
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise self.foreign(f"{type(exc).__name__}: {exc}") from exc

    def foreign(self, detail: str) -> StoreError:
        return StoreError(
            self.shown,
            f"a key under the prefix '{self.prefix}' holds something kimi-mcp did not write "
            f"({detail[:200]})",
            "Give kimi-mcp a prefix of its own (store_key_prefix, KIMI_MCP_STORE_KEY_PREFIX) or "
            "delete the foreign keys.",
        )

    async def check(self) -> None:
        """Reachable and answering, or StoreError: called before anything is billed."""
        async with self.errors():
            await self.client().ping()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _response_fix(message: str) -> str:
    if "NOAUTH" in message or "WRONGPASS" in message:
        return URL_FIX + ": the password in it."
    if "WRONGTYPE" in message:
        return (
            "Another program uses keys under kimi-mcp's prefix: set store_key_prefix "
            "(KIMI_MCP_STORE_KEY_PREFIX) to one of kimi-mcp's own."
        )
    if "READONLY" in message:
        return URL_FIX + ": point it at the Redis primary, not a read-only replica."
    return "Check Redis' log and its memory limit (maxmemory); " + URL_FIX + "."
