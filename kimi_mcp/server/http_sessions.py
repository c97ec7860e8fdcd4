"""Legacy-era (2025) HTTP sessions: a cap that closes the oldest idle session before it refuses.

The SDK keeps a session until it has been idle for `session_idle_timeout` and, at `max_sessions`,
answers every new session 503 (defaults: 30 minutes and 10,000). A client that abandons its
sessions, or many that do, would lock every other legacy-era client out until the oldest expire.
Here the timeout and the cap are settings (`http_session_idle`, `http_max_sessions`), and at the
cap the session idle for longest is closed to admit the new one; only when every session has a
request in flight (an open GET stream counts) is a new one refused.
"""

import logging
import math
from typing import Any

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

log = logging.getLogger(__name__)


class RoomMakingSessionManager(StreamableHTTPSessionManager):
    """The SDK's manager; admission (under its creation lock) first makes room at the cap."""

    def _admit_session(self, requestor: Any) -> Any:
        if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
            self._close_oldest_idle()
        return super()._admit_session(requestor)

    def _close_oldest_idle(self) -> None:
        # A session's idle deadline is its last request's end plus the timeout (infinite while a
        # request is in flight), so the smallest finite one is the session idle for longest.
        idle = {
            session_id: transport.idle_scope.deadline
            for session_id, transport in self._server_instances.items()
            if transport.idle_scope is not None and math.isfinite(transport.idle_scope.deadline)
        }
        if not idle:
            return
        oldest = min(idle, key=idle.__getitem__)
        transport = self._server_instances.pop(oldest)  # its id answers 404 from now on
        self._session_owners.pop(oldest, None)
        assert transport.idle_scope is not None
        # The same end as an idle timeout: the session's task leaves its loop and terminates it.
        transport.idle_scope.cancel()
        timeout = self.session_idle_timeout or 0.0
        idle_for = anyio.current_time() - (idle[oldest] - timeout)
        log.info(
            "closed session %s, idle for %.0f s, to admit a new one (http_max_sessions=%d)",
            oldest[:8],
            idle_for,
            self.max_sessions,
        )


def make_room_for_new_sessions(manager: StreamableHTTPSessionManager) -> None:
    """Give the manager `streamable_http_app` built the room-making admission.

    The SDK builds its manager inside `streamable_http_app` and offers no way to pass another;
    the subclass adds behaviour only (no state), so the built instance takes its class.
    """
    if type(manager) is not StreamableHTTPSessionManager:
        raise TypeError(f"unexpected session manager {type(manager).__name__}: update kimi-mcp")
    manager.__class__ = RoomMakingSessionManager
