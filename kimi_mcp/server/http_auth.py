"""Access control in front of the SDK's HTTP app: a Host/Origin guard, then a bearer token.

Both are plain ASGI middlewares so they answer before anything reads the request body. Order
(outermost first): the Host/Origin guard, then the bearer check, then the SDK app (which repeats
the Host/Origin check and enforces the 4 MiB body limit). The guard comes first on purpose: a
foreign Host or Origin is a browser-borne or DNS-rebinding request, and it gets the same 421/403
whether or not it carries a token, so such a page learns nothing about the token check and the
token is never compared for it.
"""

import hmac
import secrets
from collections.abc import Collection

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

MIN_TOKEN_CHARS = 16
WWW_AUTHENTICATE = 'Bearer realm="kimi-mcp"'


def generate_token() -> str:
    """A fresh token for one run: 256 random bits, safe inside a header."""
    return secrets.token_urlsafe(32)


def token_problem(token: str) -> str | None:
    """Why `token` cannot be an HTTP bearer token, or None when it can."""
    if not token:
        return "auth_token is empty"
    if any(not 0x21 <= ord(char) <= 0x7E for char in token):
        return "auth_token may hold only visible ASCII characters (no spaces)"
    return None


def is_authorized(header_values: list[bytes], token: bytes) -> bool:
    """One `Authorization: Bearer <token>` header, scheme case-insensitive (RFC 6750 2.1)."""
    if len(header_values) != 1:
        return False
    scheme, _, credentials = header_values[0].partition(b" ")
    if scheme.lower() != b"bearer" or not credentials:
        return False
    # Constant time: the answer must not reveal how many leading bytes were right.
    return hmac.compare_digest(credentials, token)


class BearerAuth:
    """401 unless the request carries the token; `open_paths` (health checks) need none.

    The token is read from the Authorization header only: never from the query string, where it
    would land in proxy logs and browser history.
    """

    def __init__(self, app: ASGIApp, token: str, open_paths: Collection[str] = ()) -> None:
        self.app, self.token, self.open_paths = app, token.encode("ascii"), frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Lifespan passes; so does a WebSocket, which no route accepts (the router closes it).
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name.lower() == b"authorization"]
        if is_authorized(values, self.token):
            await self.app(scope, receive, send)
            return
        await _refusal(bool(values))(scope, receive, send)


def _refusal(sent_credentials: bool) -> Response:
    # RFC 6750 3.1: a request with no credentials gets the bare challenge, a wrong one an error.
    error = "invalid_token" if sent_credentials else "unauthorized"
    challenge = WWW_AUTHENTICATE + (', error="invalid_token"' if sent_credentials else "")
    body = {
        "error": error,
        "error_description": "send the kimi-mcp token as 'Authorization: Bearer <token>'",
    }
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": challenge})


class HostOriginGuard:
    """421 for a Host, 403 for an Origin outside the allow-lists, before anything else runs.

    The checks themselves are the SDK's (`TransportSecurityMiddleware`), so the rules match the
    ones it applies again inside the MCP endpoint; running them here first also covers requests
    the SDK never sees (wrong method, unknown path, CORS preflight).
    """

    def __init__(
        self, app: ASGIApp, security: TransportSecuritySettings, open_paths: Collection[str] = ()
    ) -> None:
        self.app, self.open_paths = app, frozenset(open_paths)
        self.checker = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        refusal = await self.checker.validate_request(Request(scope), is_post=False)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await refusal(scope, receive, send)
