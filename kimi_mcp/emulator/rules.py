"""Kimi's rules for any request body: known fields, the model, the messages and their parts
(kimi-api.md sections 2-4).

Pure functions only: no HTTP here. Validation raises `Rejection`, which the emulator turns into
Kimi's error body. Nothing is imported from the rest of kimi_mcp on purpose (house style 0.6).
"""

from collections.abc import Mapping
from typing import Any

from kimi_mcp.emulator.catalogue import Obj

MESSAGE_FIELDS = frozenset(
    {"role", "content", "name", "partial", "tool_calls", "tool_call_id", "reasoning_content"}
)


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
