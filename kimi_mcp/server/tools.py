"""The eight platform tools: thin, typed wrappers over the services; results are structured.

Conversation tools live in `conversation_tools`; `build` registers them all.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from kimi_mcp.ask.exchange import ChatRequest
from kimi_mcp.ask.images import STORED_IMAGE, stored_image_id
from kimi_mcp.config import FormulaName
from kimi_mcp.errors import InputError
from kimi_mcp.kimi.paths import FILE_ID, checked_id
from kimi_mcp.local_files.guard import within_client_roots
from kimi_mcp.server.app_context import AppCtx, app_of
from kimi_mcp.server.conversation_tools import (
    CONVERSATION_ID,
    delete_conversation,
    list_conversations,
)
from kimi_mcp.server.owners import current_owner
from kimi_mcp.server.progress import ProgressReporter, UploadProgress
from kimi_mcp.server.results import (
    BalanceResult,
    ChatResult,
    DeleteResult,
    FileEntry,
    FilesResult,
    ModelEntry,
    ModelsResult,
    ReadFileResult,
    TokenEstimate,
    UploadResult,
    wire_safe,
)
from kimi_mcp.server.roots import ClientRoots, ClientRootsForAsk, ClientRootsForFiles, root_dirs

TOOL_DEADLINE = 30.0  # seconds for every tool but ask_kimi (contract)


def _deadline() -> float:
    return anyio.current_time() + TOOL_DEADLINE


# The schema states the rule the client itself applies (kimi.paths): the model sees it up front;
# the words say it too, since a refusal quotes them beside the regex (argument_errors).
FILE_ID_ARGUMENT = Field(
    min_length=1,
    max_length=128,
    pattern=f"^{FILE_ID.pattern}$",
    description="Id from upload_file or list_files (letters, digits, '_', '-', '.').",
)
MODEL = Field(description="Omit for the default; see list_models.")


def _check_file_ids(file_ids: tuple[str, ...], images: tuple[str, ...] = ()) -> None:
    """Every id is refused or accepted before anything is sent (KimiClient checks them again)."""
    for file_id in file_ids:
        checked_id(file_id, FILE_ID)
    for image in images:
        if image.startswith(STORED_IMAGE):
            stored_image_id(image)


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


# The tools ------------------------------------------------------------------------------------


async def ask_kimi(
    prompt: Annotated[str, Field(min_length=1, description="Your message to Kimi.")],
    ctx: AppCtx,
    system: Annotated[str | None, Field(description="System prompt.")] = None,
    model: Annotated[str | None, MODEL] = None,
    thinking: Annotated[
        bool | None, Field(description="Think first; omit for the model's default.")
    ] = None,
    max_tokens: Annotated[
        int | None,
        Field(ge=1, le=1_048_576, description="Cap on answer tokens, thinking included."),
    ] = None,
    json_mode: Annotated[bool, Field(description="Answer with a JSON object.")] = False,
    json_schema: Annotated[
        dict[str, Any] | None,
        Field(description="JSON Schema the answer must match (kimi-k2.5+)."),
    ] = None,
    reasoning_effort: Annotated[
        Literal["low", "high", "max"] | None,
        Field(description="kimi-k3 only; kept per conversation."),
    ] = None,
    prefix: Annotated[
        str | None, Field(min_length=1, description="Start of the answer for Kimi to continue.")
    ] = None,
    deadline: Annotated[
        float | None, Field(gt=0, le=3600, description="Seconds before a partial answer returns.")
    ] = None,
    files: Annotated[
        tuple[str, ...],
        Field(max_length=20, description="Local documents to read (allowed dirs only)."),
    ] = (),
    file_ids: Annotated[
        tuple[str, ...], Field(max_length=20, description="Documents from upload_file to read.")
    ] = (),
    images: Annotated[
        tuple[str, ...],
        Field(
            max_length=10,
            description="Local image paths or ms://<file id> of image uploads.",
        ),
    ] = (),
    conversation_id: Annotated[str | None, CONVERSATION_ID] = None,
    kimi_tools: Annotated[
        tuple[FormulaName, ...],
        Field(max_length=9, description="Kimi's own tools (web-search is charged)."),
    ] = (),
    client_roots: ClientRootsForAsk = None,
) -> ChatResult:
    """Ask a Kimi model; pass conversation_id back to continue. A truncated answer is incomplete:
    never present it as final."""
    _check_file_ids(file_ids, images)
    app = app_of(ctx)
    request = ChatRequest(
        prompt,
        system,
        model,
        thinking,
        max_tokens,
        json_mode,
        prefix,
        deadline,
        conversation_id,
        files,
        file_ids,
        images,
        owner=current_owner(),
        kimi_tools=kimi_tools,
        json_schema=json_schema,
        reasoning_effort=reasoning_effort,
    )

    async def send(progress: float, message: str) -> None:
        await ctx.report_progress(progress, None, message)

    # The SDK offers no public way to ask whether the caller wants progress (report_progress is
    # a no-op without a token), so the beat always runs; it costs ~0.1 ms per call.
    with within_client_roots(root_dirs(client_roots)):
        async with ProgressReporter(send).running() as reporter:
            answer = await app.chat.ask(request, reporter.update, reporter.step)
    return ChatResult.of(answer)


async def list_models(ctx: AppCtx) -> ModelsResult:
    """List the Kimi models this key can use, with their windows and capabilities."""
    app = app_of(ctx)
    models = await app.catalogue.models(deadline=_deadline(), fresh=True)
    entries = [ModelEntry(**model.model_dump()) for model in models]
    return ModelsResult(models=entries, default_model=app.settings.default_model)


async def upload_file(
    path: Annotated[str, Field(min_length=1, description="Local file path (allowed dirs only).")],
    ctx: AppCtx,
    purpose: Annotated[
        Literal["file-extract", "image", "video", "batch"],
        Field(description="file-extract for documents Kimi should read."),
    ] = "file-extract",
    client_roots: ClientRoots = None,
) -> UploadResult:
    """Upload a local file to Kimi (max 100 MB); returns its file id."""

    async def send(sent: float, total: float, message: str) -> None:
        await ctx.report_progress(sent, total, message)

    documents = app_of(ctx).documents
    with within_client_roots(root_dirs(client_roots)):
        async with UploadProgress(send).running() as progress:
            # The deadline grows with the file's size (upload_min_rate), once its size is known.
            upload = await documents.upload(
                path, purpose, deadline=_deadline(), on_progress=progress.advance
            )
    fields = upload.file.model_dump(exclude={"created_at"})
    return UploadResult(**fields, sha256=upload.sha256, reused=upload.reused)


async def read_file(
    file_id: Annotated[str, FILE_ID_ARGUMENT],
    ctx: AppCtx,
    offset: Annotated[int, Field(ge=0, description="Character offset to start from.")] = 0,
    limit: Annotated[int, Field(ge=1, le=100_000, description="Characters to return.")] = 20_000,
) -> ReadFileResult:
    """Read the text Kimi extracted from an uploaded file, a page at a time."""
    extracted = await app_of(ctx).documents.text(file_id, deadline=_deadline())
    text = extracted.text
    if offset > len(text):
        raise InputError(f"offset {offset} is past the end ({len(text)} characters).")
    end = min(len(text), offset + limit)
    return ReadFileResult(
        file_id=file_id,
        filename=wire_safe(extracted.filename),
        content=wire_safe(text[offset:end]),
        offset=offset,
        total_chars=len(text),
        next_offset=end if end < len(text) else None,
    )


async def list_files(ctx: AppCtx) -> FilesResult:
    """List the files uploaded to Kimi (at most 1,000 per account)."""
    files = await app_of(ctx).client.list_files(deadline=_deadline())
    entries = [FileEntry(**item.model_dump()) for item in files]
    return FilesResult(files=entries, count=len(entries))


async def delete_file(
    file_id: Annotated[str, FILE_ID_ARGUMENT],
    ctx: AppCtx,
) -> DeleteResult:
    """Delete an uploaded file from Kimi. It cannot be undone."""
    deleted = await app_of(ctx).documents.delete(file_id, deadline=_deadline())
    return DeleteResult(id=file_id, deleted=deleted)


async def estimate_tokens(
    ctx: AppCtx,
    text: Annotated[str | None, Field(min_length=1, description="Text to count.")] = None,
    messages: Annotated[
        list[Message] | None, Field(min_length=1, description="Or a chat message list.")
    ] = None,
    model: Annotated[str | None, MODEL] = None,
    files: Annotated[
        tuple[str, ...], Field(max_length=20, description="Local documents to count too.")
    ] = (),
    file_ids: Annotated[
        tuple[str, ...], Field(max_length=20, description="Documents from upload_file to count.")
    ] = (),
    client_roots: ClientRootsForFiles = None,
) -> TokenEstimate:
    """Count tokens with Kimi's tokenizer (free) and the room left in the model's window."""
    if text is not None and messages is not None:
        raise ToolError("Give 'text' or 'messages', not both.")
    if text is None and messages is None and not files and not file_ids:
        raise ToolError("Give exactly one of 'text' or 'messages' (and/or files, file_ids).")
    _check_file_ids(file_ids)
    app = app_of(ctx)
    deadline = _deadline()
    info = await app.catalogue.get(model or app.settings.default_model, deadline=deadline)
    with within_client_roots(root_dirs(client_roots)):
        local_ids = [await app.documents.file_id_for(p, deadline=deadline) for p in files]
    # Counted the way ask_kimi sends them: each document's content as a system message.
    payload: list[dict[str, str]] = await app.documents.system_messages(
        [*file_ids, *local_ids], deadline=deadline
    )
    if messages:
        payload += [m.model_dump() for m in messages]
    elif text is not None:
        payload.append({"role": "user", "content": text})
    total = await app.client.estimate_tokens(info.id, payload, deadline=deadline)
    return TokenEstimate(
        model=info.id,
        total_tokens=total,
        context_length=info.context_length,
        remaining=max(0, info.context_length - total),
    )


async def check_balance(ctx: AppCtx) -> BalanceResult:
    """Show the Kimi balance (USD global, CNY China) and this server's spend today."""
    app = app_of(ctx)
    data = await app.client.balance(deadline=_deadline())
    currency = "CNY" if app.settings.currency == "CNY" else "USD"
    spent = await app.chat.costs.spent_today()
    return BalanceResult(**data.model_dump(), currency=currency, spent_today=spent.amount)


# Registration ---------------------------------------------------------------------------------

# A hint left out reads as the spec's default, which is also the cautious reading: not read-only,
# not idempotent, open world. Only the hints that differ from it are sent (tools/list is paid for
# on every turn), and destructiveHint always for a tool that writes, true or false. idempotentHint
# is never sent: it only tells a host that a retry is harmless, and without it a host can only be
# more careful.
_READ = ToolAnnotations(read_only_hint=True)
_CREATES = ToolAnnotations(destructive_hint=False)  # a completion, a file: something new each time
_DELETES = ToolAnnotations(destructive_hint=True)
ToolEntry = tuple[
    Callable[..., Awaitable[BaseModel]], str, ToolAnnotations
]  # function, title, hints
TOOLS: tuple[ToolEntry, ...] = (
    (ask_kimi, "Ask Kimi", _CREATES),
    (list_models, "List Kimi models", _READ),
    (upload_file, "Upload to Kimi", _CREATES),
    (read_file, "Read an uploaded file", _READ),
    (list_files, "List uploaded files", _READ),
    (delete_file, "Delete an uploaded file", _DELETES),
    (
        estimate_tokens,
        "Count tokens",
        # Not read-only: counting local `files` uploads them (once: the ledger dedupes).
        _CREATES,
    ),
    (check_balance, "Kimi balance", _READ),
    (
        list_conversations,
        "List conversations",
        ToolAnnotations(read_only_hint=True, open_world_hint=False),
    ),
    (
        delete_conversation,
        "Delete a conversation",
        ToolAnnotations(destructive_hint=True, open_world_hint=False),
    ),
)
