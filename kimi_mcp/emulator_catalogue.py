"""The emulator's model table, tokenizer and Kimi's request rules (kimi-api.md sections 2-4).

Pure functions only: no HTTP here. Validation raises `Rejection`, which the emulator turns into
Kimi's error body. Nothing is imported from the rest of kimi_mcp on purpose (house style 0.6).
"""

from collections.abc import Mapping
from dataclasses import dataclass
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
SAMPLING = ("temperature", "top_p", "n", "presence_penalty", "frequency_penalty")
FIXED_SAMPLING = {"top_p": 0.95, "n": 1, "presence_penalty": 0.0, "frequency_penalty": 0.0}
CHAT_FIELDS = frozenset(
    {"model", "messages", "max_tokens", "max_completion_tokens", "stop", "response_format"}
    | {"stream", "stream_options", "tools", "tool_choice", "thinking", "reasoning_effort"}
    | {"prompt_cache_key", "safety_identifier", "logprobs", "top_logprobs", "prediction"}
    | set(SAMPLING)
)
MESSAGE_FIELDS = frozenset(
    {"role", "content", "name", "partial", "tool_calls", "tool_call_id", "reasoning_content"}
)


def model_entries(models: list[Obj] | None) -> list[Obj]:
    """The `/v1/models` entries: the given list as is, else the default table in the 6.1 shape."""
    if models is not None:
        return [dict(m) for m in models]
    return [
        {"id": i, "object": "model", "created": c, "owned_by": "moonshot", "context_length": w}
        | {"supports_image_in": img, "supports_video_in": vid, "supports_reasoning": rsn}
        for i, c, w, img, vid, rsn in DEFAULT_MODELS
    ]


class Rejection(Exception):
    """A request Kimi would refuse, with the status, error type and message it would answer."""

    def __init__(
        self, message: str, status: int = 400, error_type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.error_type = message, status, error_type


def bad(details: str) -> Rejection:
    """The generic 400 of section 4: "Invalid request: {error_details}"."""
    return Rejection(f"Invalid request: {details}")


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


def find_model(models: list[Obj], model_id: Any) -> Obj:
    """The catalogue entry of `model_id`, else Kimi's 400 (missing) or 404 (unknown)."""
    if not isinstance(model_id, str) or not model_id:
        raise bad("model is required")
    for entry in models:
        if entry.get("id") == model_id:
            return entry
    raise Rejection(
        f"Not found the model {model_id} or Permission denied", 404, "resource_not_found_error"
    )


def check_fields(body: Any, allowed: frozenset[str]) -> Obj:
    """The body as an object with no unknown top-level field."""
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad(f"unknown field(s): {', '.join(unknown)}")
    return body


def check_messages(messages: Any, model: Obj, purposes: Mapping[str, str]) -> list[Obj]:
    """Roles, non-empty content, part types, media rules and the place of `partial`.

    `purposes` maps uploaded file ids to their purpose (for `ms://` URLs)."""
    if not isinstance(messages, list) or not messages:
        raise bad("messages must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad(f"messages[{i}] must be an object")
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            raise bad(f"messages[{i}].role must be one of system, user, assistant, tool")
        unknown = sorted(set(message) - MESSAGE_FIELDS)
        if unknown:
            raise bad(f"messages[{i}] has unknown field(s): {', '.join(unknown)}")
        partial = message.get("partial")
        if partial is not None and not isinstance(partial, bool):
            raise bad(f"messages[{i}].partial must be a boolean")
        if partial and (i < len(messages) - 1 or message["role"] != "assistant"):
            raise bad("partial is only allowed on the last message, an assistant message")
        _check_content(i, message, model, purposes)
    return messages


def _check_content(i: int, message: Obj, model: Obj, purposes: Mapping[str, str]) -> None:
    content = message.get("content")
    if content is None or content in ("", []):
        # An assistant tool-call turn comes back with empty content (section 6.2(c)).
        if message["role"] == "assistant" and message.get("tool_calls"):
            return
        raise bad(f"messages[{i}].content must not be empty")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise bad(f"messages[{i}].content must be a string or a list of parts")
    for part in content:
        _check_part(i, part, model, purposes)


def _check_part(i: int, part: Any, model: Obj, purposes: Mapping[str, str]) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        return
    if kind not in ("image_url", "video_url"):
        raise bad(f"messages[{i}].content parts must be text, image_url or video_url")
    media = "image" if kind == "image_url" else "video"
    value = part.get(kind)
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise bad(f"messages[{i}] {kind} needs a url")
    if not model.get(f"supports_{media}_in"):
        raise bad(f"model {model.get('id')} does not support {media} input")
    _check_media_url(kind, media, url, purposes)


def _check_media_url(kind: str, media: str, url: str, purposes: Mapping[str, str]) -> None:
    if url.startswith(f"data:{media}/") and ";base64," in url:
        return
    if url.startswith("ms://"):
        file_id = url.removeprefix("ms://")
        if purposes.get(file_id) != media:
            raise bad(f"file {file_id} not found among files uploaded with purpose {media}")
        return
    # Section 2.6: base64 data URLs or ms://<file id>; public http(s) URLs are refused.
    raise bad(
        f"{kind} must be a data:{media}/ URL or ms://<file_id>; public URLs are not supported"
    )


def thinking_on(model: Obj, thinking: Any, effort: Any) -> bool:
    """Check `thinking` / `reasoning_effort` for the model and say whether it thinks."""
    fam, model_id = family(str(model.get("id"))), model.get("id")
    if thinking is not None and effort is not None:
        raise bad("thinking and reasoning_effort cannot be used together")
    if effort is not None:
        if fam != "kimi-k3":
            raise bad(f"reasoning_effort is not supported by model {model_id}")
        if effort not in ("low", "high", "max"):
            raise bad("reasoning_effort must be one of low, high, max")
    if thinking is None:
        return fam in FIXED_FAMILIES or (fam == "other" and bool(model.get("supports_reasoning")))
    if fam not in THINKING_FAMILIES:
        raise bad(f"thinking is not supported by model {model_id}")
    return _thinking_switch(fam, model_id, thinking)


def _thinking_switch(fam: str, model_id: Any, thinking: Any) -> bool:
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "disabled") or set(thinking) - {"type", "keep"}:
        raise bad('thinking must be {"type": "enabled"|"disabled"}')
    # Preserved Thinking ("keep") exists on k2.6, and k2.7-code accepts "all" (section 2.2).
    if "keep" in thinking and (fam == "kimi-k2.5" or thinking["keep"] not in (None, "all")):
        raise bad(f"thinking.keep is not supported by model {model_id} with this value")
    if fam == "kimi-k2.7-code" and kind == "disabled":
        raise Rejection("invalid thinking: only type=enabled is allowed for this model")
    return bool(kind == "enabled")


def check_sampling(model: Obj, body: Obj, thinking: bool) -> None:
    """Fixed values on kimi-k2.5 and newer; ranges (temperature [0, 1], n <= 5) elsewhere."""
    for name in SAMPLING:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise bad(f"{name} must be a number")
    fam = family(str(model.get("id")))
    if fam in FIXED_FAMILIES:
        fixed = FIXED_SAMPLING | {"temperature": 1.0 if thinking else 0.6}
        for name, value in fixed.items():
            given = body.get(name)
            if given is not None and abs(given - value) > 1e-9:
                raise bad(f"{name} is fixed for this model, do not pass it")
        return
    _check_ranges(body, default_temperature=0.0 if fam == "moonshot-v1" else 0.6)


def _check_ranges(body: Obj, default_temperature: float) -> None:
    limits = {"temperature": (0.0, 1.0), "top_p": (0.0, 1.0)}
    limits |= {"presence_penalty": (-2.0, 2.0), "frequency_penalty": (-2.0, 2.0)}
    for name, (low, high) in limits.items():
        value = body.get(name)
        if value is not None and not low <= value <= high:
            raise bad(f"{name} must be in [{low:g}, {high:g}]")
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or not 1 <= n <= 5):
        raise bad("n must be an integer from 1 to 5")
    temperature = body.get("temperature")
    temperature = default_temperature if temperature is None else temperature
    if (n or 1) > 1 and temperature < 0.01:
        raise bad("n > 1 needs a temperature above 0")


def check_tools(body: Obj, model: Obj, thinking: bool) -> None:
    """The tool list size, `tool_choice`, and the reasoning_content rule of thinking tool loops."""
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or len(tools) > 128):
        raise bad("tools must be a list of at most 128 tools")
    _check_tool_choice(body.get("tool_choice"), model, thinking)
    for message in body["messages"] if thinking else []:
        # The docs say to send each thinking tool-call turn back with its reasoning (2.2).
        if message.get("tool_calls") and not message.get("reasoning_content"):
            raise Rejection("thinking is enabled but reasoning_content is missing")


def _check_tool_choice(choice: Any, model: Obj, thinking: bool) -> None:
    if choice is None or choice in ("auto", "none"):
        return
    if choice == "required":
        if family(str(model.get("id"))) != "kimi-k3":
            raise bad(f"tool_choice 'required' is not supported by model {model.get('id')}")
        return
    if not isinstance(choice, dict) or choice.get("type") != "function":
        raise bad("tool_choice must be auto, none, required or a function object")
    if thinking:
        raise Rejection("tool_choice 'specified' is incompatible with thinking enabled")


def json_mode(body: Obj) -> bool:
    """Whether `response_format` asks for JSON; partial mode may not be combined with it."""
    fmt = body.get("response_format")
    if fmt is None:
        return False
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise bad("response_format.type must be text, json_object or json_schema")
    if kind == "json_schema" and not isinstance(fmt.get("json_schema"), dict):
        raise bad("response_format json_schema needs a json_schema object")
    if kind != "text" and body["messages"][-1].get("partial"):
        raise bad("partial mode cannot be combined with response_format json_object")
    return bool(kind != "text")


def stop_strings(stop: Any) -> tuple[str, ...]:
    """At most 5 stop strings of at most 32 bytes each."""
    items = [stop] if isinstance(stop, str) else stop if stop is not None else []
    if not isinstance(items, list) or len(items) > 5:
        raise bad("stop must be a string or a list of at most 5 strings")
    if any(not isinstance(s, str) or len(s.encode()) > 32 for s in items):
        raise bad("each stop string must be a string of at most 32 bytes")
    return tuple(s for s in items if s)


def max_tokens(body: Obj) -> int | None:
    """`max_completion_tokens`, else the deprecated `max_tokens` (both are accepted)."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is not None and (type(value) is not int or value < 1):
            raise bad(f"{name} must be a positive integer")
    chosen = body.get("max_completion_tokens")
    return body.get("max_tokens") if chosen is None else int(chosen)


def check_window(prompt: int, limit: int | None, model: Obj) -> None:
    """The two context-window errors of section 4 (the default max_tokens is not counted)."""
    window = model.get("context_length") or 0
    if not window:  # a catalogue entry without a window (legacy shape) sets no limit
        return
    if prompt > window:
        raise Rejection("Input token length too long")
    if limit is not None and prompt + limit > window:
        raise Rejection(f"Your request exceeded model token limit : {window}")


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion request that passed every rule."""

    model: str
    messages: list[Obj]
    thinking: bool
    json_out: bool
    stop: tuple[str, ...]
    limit: int | None
    stream: bool
    include_usage: bool
    prompt_tokens: int


def check_chat(body: Any, models: list[Obj], purposes: Mapping[str, str]) -> ChatRequest:
    """Every documented rule of `POST /v1/chat/completions`, in the order Kimi would meet them."""
    body = check_fields(body, CHAT_FIELDS)
    model = find_model(models, body.get("model"))
    messages = check_messages(body.get("messages"), model, purposes)
    thinking = thinking_on(model, body.get("thinking"), body.get("reasoning_effort"))
    check_sampling(model, body, thinking)
    check_tools(body, model, thinking)
    json_out, stop, limit = json_mode(body), stop_strings(body.get("stop")), max_tokens(body)
    stream, include_usage = _stream_flags(body)
    prompt = count_tokens(messages)
    check_window(prompt, limit, model)
    return ChatRequest(
        model["id"], messages, thinking, json_out, stop, limit, stream, include_usage, prompt
    )


def _stream_flags(body: Obj) -> tuple[bool, bool]:
    stream, options = body.get("stream"), body.get("stream_options")
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream must be a boolean")
    include = options.get("include_usage") if isinstance(options, dict) else None
    if options is not None and not isinstance(include, bool | None):
        raise bad('stream_options must be {"include_usage": bool}')
    return bool(stream), bool(include)
