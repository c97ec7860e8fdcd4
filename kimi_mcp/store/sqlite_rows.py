"""A turn as a row of the SQLite conversation store, and back, with its text kept exactly.

Text SQLite cannot take as UTF-8 (a lone surrogate, which JSON and Kimi's streams can carry) is
kept as a BLOB of its UTF-8 bytes with surrogates passed through, so it reads back exactly.
"""

import json

from kimi_mcp.store.conversations import Role, Turn


def row_of(turn: Turn) -> tuple[str | bytes | None, ...]:
    calls = None if turn.tool_calls is None else json.dumps(turn.tool_calls, ensure_ascii=False)
    return (
        turn.role,
        stored(turn.content),
        stored(turn.reasoning),
        stored(calls),
        stored(turn.tool_call_id),
    )


def turn_of(
    role: Role,
    content: str | bytes,
    reasoning: str | bytes | None,
    calls: str | bytes | None,
    call_id: str | bytes | None,
) -> Turn:
    tool_calls = None if calls is None else json.loads(_text(calls))
    return Turn(role, _text(content), opt_text(reasoning), tool_calls, opt_text(call_id))


def stored(text: str | None) -> str | bytes | None:
    """`text` as SQLite can keep it exactly: itself, or its bytes when it holds a lone surrogate."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
    return text


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "surrogatepass") if isinstance(value, bytes) else value


def opt_text(value: str | bytes | None) -> str | None:
    return None if value is None else _text(value)


def prefix(value: str | bytes | None, chars: int) -> str:
    """The first `chars` characters; a BLOB cut inside a character loses that character only."""
    if not isinstance(value, bytes):
        return (value or "")[:chars]
    for cut in range(4):
        try:
            return value[: len(value) - cut].decode("utf-8", "surrogatepass")[:chars]
        except UnicodeDecodeError:
            continue
    return value.decode("utf-8", "replace")[:chars]
