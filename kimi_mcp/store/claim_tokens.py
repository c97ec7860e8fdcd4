"""Upload claim tokens, shared by the backends: whose claim it is, so a claim left by a process
that crashed on this host lapses at once rather than after its seconds."""

import os
import secrets
import socket

_HOST = socket.gethostname()


def new_token() -> str:
    """`host:pid:random`: unique, and says which process holds the claim."""
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(8)}"


def lapsed(token: str, expires_at: float, now: float) -> bool:
    """Expired, or held by a process of this host that is gone (a crash frees it at once)."""
    return expires_at <= now or holder_is_gone(token)


def holder_is_gone(token: str) -> bool:
    """True when the token's process ran on this host and has exited."""
    host, _, rest = token.partition(":")
    pid = rest.partition(":")[0]
    if host != _HOST or not pid.isdigit():
        return False  # another machine sharing the store: only the expiry tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by another user
        return False
    return False
