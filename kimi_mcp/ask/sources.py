"""The links an answer cites: what a user can check. Web-search results come back encrypted
(kimi-api.md 2.8), so the answer's own links are the only sources a client can show."""

import re
from dataclasses import dataclass

# A Markdown link [title](url), or a bare URL; a URL ends before whitespace, a closing bracket
# or quote, and trailing punctuation that ends a sentence is not part of it. Parentheses in a
# URL are kept when balanced (Wikipedia's `Io_(moon)`). No part can match the same text two
# ways and a title holds no `[`, so a hostile answer (megabytes of `[`) is read in linear time.
_IN_LINK = r"[^\s()]"
_IN_BARE = r"[^\s<>()\[\]\"'`]"
_LINK = re.compile(
    rf"\[([^\[\]\n]{{0,300}})\]\((https?://(?:{_IN_LINK}|\({_IN_LINK}*\))+)\)"
    rf"|(https?://(?:{_IN_BARE}|\({_IN_BARE}*\))+)"
)
_TRAILING = ".,;:!?*_'\""
MAX_SOURCES = 50


@dataclass(frozen=True)
class Source:
    url: str
    title: str | None


def cited_sources(answer: str) -> list[Source]:
    """The links of `answer` in order of first citation, each URL once (a title wins over none)."""
    found: dict[str, str | None] = {}
    for match in _LINK.finditer(answer):
        title, linked, bare = match.groups()
        url = (linked or bare).rstrip(_TRAILING)
        if not url.split("://", 1)[1]:
            continue
        title = title.strip() if title and title.strip() else None
        if url not in found:
            if len(found) == MAX_SOURCES:
                break
            found[url] = title
        elif found[url] is None:
            found[url] = title
    return [Source(url, title) for url, title in found.items()]
