"""Pydantic shapes of the Kimi API bodies we read (only the fields we use; extras ignored)."""

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ModelInfo(_Body):
    id: str
    # The legacy /models shape has no capability fields: default them like kimi-cli does.
    context_length: int = 0
    supports_image_in: bool = False
    supports_video_in: bool = False
    supports_reasoning: bool = False


class ModelList(_Body):
    data: list[ModelInfo]


class FileObject(_Body):
    id: str
    filename: str = ""
    bytes: int = 0
    purpose: str = ""
    status: str = ""
    created_at: int = 0


class FileList(_Body):
    data: list[FileObject]


class DeletedFile(_Body):
    id: str
    deleted: bool


class BalanceData(_Body):
    available_balance: float
    voucher_balance: float
    cash_balance: float


class BalanceBody(_Body):
    data: BalanceData


class TokenCountData(_Body):
    total_tokens: int


class TokenCountBody(_Body):
    data: TokenCountData


class FormulaTools(_Body):
    """GET /formulas/{uri}/tools (kimi-api.md 2.8): function tools to declare in a chat."""

    tools: list[dict[str, Any]]


class FiberContext(_Body):
    output: str | None = None
    encrypted_output: str | None = None  # web-search: readable by the model only
    error: Any = None


class Fiber(_Body):
    """POST /formulas/{uri}/fibers: one run of a formula's function (kimi-api.md 2.8)."""

    id: str = ""
    status: str
    context: FiberContext = Field(default_factory=FiberContext)
    error: Any = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def result(self) -> str:
        """What the model gets back: the output, or the encrypted output verbatim."""
        return self.context.encrypted_output or self.context.output or ""

    @property
    def failure(self) -> str:
        """Why a fiber that did not succeed failed, in Kimi's words where it gave any."""
        for reason in (self.error, self.context.error, self.context.output):
            if isinstance(reason, dict):
                reason = reason.get("message") or json.dumps(reason)[:500]
            if isinstance(reason, str) and reason:
                return reason
        return f"the tool ended with status '{self.status}'"


class Usage(_Body):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    prompt_tokens_details: dict[str, Any] | None = Field(default=None, exclude=True)

    def normalised(self) -> "Usage":
        """cached_tokens sits at usage.cached_tokens, or (some hosts) in prompt_tokens_details."""
        if self.cached_tokens or not self.prompt_tokens_details:
            return self
        cached = self.prompt_tokens_details.get("cached_tokens")
        return self.model_copy(update={"cached_tokens": cached if isinstance(cached, int) else 0})


def file_text(content: str) -> tuple[str, str | None]:
    """A file's extracted text and its name, from GET /files/{id}/content: a JSON string with
    `content` and `filename` (older docs), or the plain text (2026 OpenAPI, no name)."""
    try:
        data = json.loads(content)
    except ValueError:
        return content, None
    if isinstance(data, dict) and isinstance(data.get("content"), str):
        filename = data.get("filename")
        return data["content"], filename if isinstance(filename, str) else None
    return content, None
