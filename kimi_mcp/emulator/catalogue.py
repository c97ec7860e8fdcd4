"""The emulator's model table and tokenizer (kimi-api.md sections 2.3, 2.7 and 6.1).

Pure data and arithmetic: no HTTP and no validation here (see `rules`). Nothing is
imported from the rest of kimi_mcp on purpose (house style 0.6).
"""

from itertools import takewhile
from typing import Any

# Section 6.1(a), plus kimi-k2.7-code and moonshot-v1-8k so that every rule family exists:
# (id, created, context_length, supports_image_in, supports_video_in, supports_reasoning).
DEFAULT_MODELS: tuple[tuple[str, int, int, bool, bool, bool], ...] = (
    ("kimi-k3", 1785110400, 1048576, True, True, True),
    ("kimi-k2.7-code", 1785000000, 262144, True, True, True),
    ("kimi-k2.6", 1778000000, 262144, True, True, True),
    ("kimi-k2.5", 1769000000, 262144, True, False, True),
    ("moonshot-v1-128k", 1709149158, 131072, False, False, False),
    ("moonshot-v1-8k", 1709149158, 8192, False, False, False),
)

Obj = dict[str, Any]  # a JSON object
ORG = "org-emulator<ak-emulator>"
IMAGE_TOKENS = 1024  # the fixed moonshot-v1 vision price per image (section 2.3)
VIDEO_TOKENS = 2048  # the docs only say "dynamic"; any fixed number keeps counts deterministic
CACHE_MIN_PROMPT = 256  # section 2.7: only a previous prompt above 256 tokens can be cached
FIXED_FAMILIES = ("kimi-k2.5", "kimi-k2.6", "kimi-k2.7-code", "kimi-k3")
THINKING_FAMILIES = ("kimi-k2.5", "kimi-k2.6", "kimi-k2.7-code")


def model_entries(models: list[Obj] | None) -> list[Obj]:
    """The `/v1/models` entries: the given list as is, else the default table in the 6.1 shape."""
    if models is not None:
        return [dict(m) for m in models]
    return [
        {"id": i, "object": "model", "created": c, "owned_by": "moonshot", "context_length": w}
        | {"supports_image_in": img, "supports_video_in": vid, "supports_reasoning": rsn}
        for i, c, w, img, vid, rsn in DEFAULT_MODELS
    ]


def text_tokens(text: str) -> int:
    """Tokens of a text: one per started group of 4 UTF-8 bytes."""
    return -(-len(text.encode()) // 4)


def count_tokens(messages: list[Obj]) -> int:
    """The emulator's tokenizer: per message 4, plus each text part's `text_tokens`, plus 1024 per
    image part and 2048 per video part. Only `content` is counted (not names or tool calls)."""
    return sum(
        4 + _content_tokens(m.get("content") if isinstance(m, dict) else None) for m in messages
    )


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return text_tokens(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            total += text_tokens(part["text"])
        total += {"image_url": IMAGE_TOKENS, "video_url": VIDEO_TOKENS}.get(str(kind), 0)
    return total


def cached_tokens(previous: list[Obj] | None, messages: list[Obj]) -> int:
    """Automatic prefix caching: whole messages shared with a previous prompt above 256 tokens."""
    if not previous or count_tokens(previous) <= CACHE_MIN_PROMPT:
        return 0
    shared = takewhile(lambda pair: pair[0] == pair[1], zip(previous, messages, strict=False))
    return count_tokens(messages[: len(list(shared))])


def family(model_id: str) -> str:
    """The rule family of a model id; "other" for ids the documented tables do not cover."""
    for name in FIXED_FAMILIES:
        if model_id == name or model_id.startswith(name + "-"):
            return name
    return "moonshot-v1" if model_id.startswith("moonshot-v1-") else "other"
