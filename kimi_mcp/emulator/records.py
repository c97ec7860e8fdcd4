"""What the emulator keeps and tests read back: requests received, files stored, clients that
left early, and the Kimi-style ids it hands out (kimi-api.md section 2.5)."""

import builtins
import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One API request as the emulator received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any | None  # the parsed body when it is JSON
    form: dict[str, str] | None  # the non-file fields of a multipart body
    time: float  # time.monotonic() on arrival


@dataclass
class StoredFile:
    """A file uploaded to the emulator."""

    id: str
    filename: str
    bytes: int
    purpose: str
    created_at: int
    status: str
    content: builtins.bytes

    def as_json(self) -> dict[str, Any]:
        """The File object of section 2.5."""
        fields = {k: v for k, v in vars(self).items() if k != "content"}
        return fields | {"object": "file", "status_details": ""}


@dataclass(frozen=True)
class Disconnect:
    """A paced answer (a chat stream, or a slow or dripping body) the client left before its end."""

    path: str
    time: float  # time.monotonic() when the emulator noticed
    chunks_sent: int  # body pieces written before (SSE events for a stream)


def new_id() -> str:
    """Kimi-style ids: 20 lower-case alphanumerics, e.g. co3t989kqq4ua4e78urg (section 2.5)."""
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20))
