"""A store URL as every message, log and `kimi-mcp config` shows it: never with its password."""

from urllib.parse import urlsplit


def masked_url(url: str) -> str:
    """`url` with any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()
