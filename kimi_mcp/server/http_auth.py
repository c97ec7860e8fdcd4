"""Access control in front of the SDK's HTTP app: a Host/Origin guard, then a bearer token.

One plain ASGI middleware, so it answers before anything reads the request body, and it reads the
headers once for both checks. Order: the Host/Origin check, then the bearer check, then the SDK
app (which repeats the Host/Origin check and enforces the 4 MiB body limit). The Host/Origin check
comes first on purpose: a foreign Host or Origin is a browser-borne or DNS-rebinding request, and
it gets the same 421/403 whether or not it carries a token, so such a page learns nothing about
the token check and the token is never compared for it.

A client refused with 401 looks for OAuth under `/.well-known/` (RFC 9728 protected-resource and
RFC 8414 authorization-server metadata, with or without the `/mcp` suffix); those paths answer 404
without a token, so it learns at once that there is no OAuth here (and no browser login to try),
and the 401 body says which header to send instead.

Each token names an owner (`auth_tokens`; a single `auth_token` is the default owner): the bearer
check puts it in the ASGI scope under `OWNER_SCOPE_KEY`, where `owners` finds it for every handler.
"""

import hmac
import secrets
from collections.abc import Collection, Mapping

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

MIN_TOKEN_CHARS = 16
OWNER_SCOPE_KEY = "kimi_mcp.owner"  # the owner whose token the request carried
WWW_AUTHENTICATE = 'Bearer realm="kimi-mcp"'
WELL_KNOWN = "/.well-known/"
HOW_TO_AUTHENTICATE = (
    "kimi-mcp needs a bearer token and has no OAuth: send the header "
    "'Authorization: Bearer <KIMI_MCP_AUTH_TOKEN>' (the token set in the server's "
    "KIMI_MCP_AUTH_TOKEN, or the one it printed at start-up)."
)
NO_OAUTH = (
    "kimi-mcp has no OAuth metadata: it takes a static bearer token, sent as "
    "'Authorization: Bearer <KIMI_MCP_AUTH_TOKEN>'."
)


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
    return owner_of(header_values, [(token, "")]) is not None


def owner_of(header_values: list[bytes], tokens: list[tuple[bytes, str]]) -> str | None:
    """The owner of the one bearer token in `header_values`, or None when none matches."""
    if len(header_values) != 1:
        return None
    scheme, _, credentials = header_values[0].partition(b" ")
    if scheme.lower() != b"bearer" or not credentials:
        return None
    found = None
    for token, owner in tokens:  # every token compared, so timing tells nothing of which
        # Constant time: the answer must not reveal how many leading bytes were right.
        if hmac.compare_digest(credentials, token):
            found = owner
    return found


class AccessGuard:
    """The Host/Origin guard, then the bearer check, in one pass over the request's headers.

    A Host outside the allow-list is 421 and an Origin 403, before anything else runs; the
    rules are the SDK's (`TransportSecurityMiddleware`), the ones it applies again inside the
    MCP endpoint, so requests the SDK never sees (wrong method, unknown path, CORS preflight)
    are covered too. Then 401 unless the request carries one of the tokens: `tokens` maps each
    to its owner, who reaches the handlers through the scope. The token is read from the
    Authorization header only: never from the query string, where it would land in proxy logs
    and browser history. `open_paths` (health checks) need neither.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        security: TransportSecuritySettings,
        tokens: Mapping[str, str],
        open_paths: Collection[str] = (),
    ) -> None:
        self.app, self.open_paths = app, frozenset(open_paths)
        self.checker = TransportSecurityMiddleware(security)
        self.tokens = [(token.encode("ascii"), owner) for token, owner in tokens.items()]
        # One user per owner, built once: two pydantic objects per request add up at load.
        self.users = {owner: _user(owner) for owner in tokens.values()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Lifespan passes; so does a WebSocket, which no route accepts (the router closes it).
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        credentials = _credentials(scope["headers"])
        refusal = await self._foreign(scope)
        if refusal is None and scope["path"].startswith(WELL_KNOWN):
            refusal = _not_found()  # nothing is there, token or not
        if refusal is None:
            owner = owner_of(credentials, self.tokens)
            if owner is not None:
                user = self.users[owner]
                await self.app({**scope, OWNER_SCOPE_KEY: owner, "user": user}, receive, send)
                return
            refusal = _refusal(bool(credentials))
        await refusal(scope, receive, send)

    async def _foreign(self, scope: Scope) -> Response | None:
        """The SDK's answer to a Host or Origin outside the allow-lists (421, 403), else None:
        its public check, so an SDK release that reworks its internals still guards."""
        if not self.checker.settings.enable_dns_rebinding_protection:
            return None
        return await self.checker.validate_request(Request(scope))


def _credentials(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    """Every Authorization header's value (more than one is refused by `owner_of`)."""
    return [value for name, value in headers if name.lower() == b"authorization"]


def _user(owner: str) -> AuthenticatedUser:
    # The SDK binds each session to the credential that opened it (the `user` in the scope), so
    # one owner cannot drive (or end) another's session even holding its id.
    return AuthenticatedUser(AccessToken(token=f"owner:{owner}", client_id=owner, scopes=[]))


def _not_found() -> Response:
    # Nothing is under /.well-known/, token or not: a client looking for OAuth learns at once.
    return JSONResponse({"error": "not_found", "error_description": NO_OAUTH}, 404)


def _refusal(sent_credentials: bool) -> Response:
    # RFC 6750 3.1: a request with no credentials gets the bare challenge, a wrong one an error.
    error = "invalid_token" if sent_credentials else "unauthorized"
    challenge = WWW_AUTHENTICATE + (', error="invalid_token"' if sent_credentials else "")
    body = {"error": error, "error_description": HOW_TO_AUTHENTICATE}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": challenge})
