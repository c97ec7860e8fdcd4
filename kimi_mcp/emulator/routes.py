"""The emulator's API handlers (kimi-api.md section 2): models, chat, token estimate, balance and
files. Each answers a `Reply` or raises `Rejection`; `app` does the rest."""

import mimetypes
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.datastructures import UploadFile
from starlette.requests import Request

from kimi_mcp.emulator import answer as answers
from kimi_mcp.emulator import rules, tool_model, wire
from kimi_mcp.emulator.chat_rules import ChatRequest, check_chat
from kimi_mcp.emulator.records import StoredFile, new_id
from kimi_mcp.emulator.requests import read_form, read_json
from kimi_mcp.emulator.state import EmulatorState

Handler = Callable[[Request], Awaitable[wire.Reply]]
PURPOSES = ("file-extract", "image", "video", "batch")  # the 2026 OpenAPI list (section 2.5)


class ApiRoutes:
    """The section 2 handlers of one emulator."""

    def __init__(self, emulator: EmulatorState) -> None:
        self.emu = emulator

    async def models(self, request: Request) -> wire.Reply:
        return wire.json_reply({"object": "list", "data": self.emu.models})

    async def chat(self, request: Request) -> wire.Reply:
        emu = self.emu
        chat = check_chat(await read_json(request), emu.models, self._purposes())
        if emu.available_balance <= 0:
            credit = f"<org-emulator> {emu.available_balance:g}"
            message = f"You exceeded your current token quota: {credit}, please check your "
            raise rules.Rejection(message + "account balance", 429, "exceeded_current_quota_error")
        answer = self._answer(chat)
        cached = emu.cached_tokens(chat.messages, chat.cache_key)
        usage = {"prompt_tokens": chat.prompt_tokens, "completion_tokens": answer.completion_tokens}
        usage |= {"total_tokens": sum(usage.values()), "cached_tokens": cached}
        cid = f"cmpl-{uuid.uuid4().hex}"
        if not chat.stream:
            return wire.json_reply(answers.chat_completion(cid, chat.model, answer, usage))
        size, include = emu.chunk_chars, chat.include_usage
        events = answers.chat_events(cid, chat.model, answer, usage, size, include)
        return wire.Reply(media_type=wire.SSE_TYPE, events=events)

    def _answer(self, chat: ChatRequest) -> answers.Answer:
        """A round of tool calls if the question asks for declared tools (`tool_model`), else the
        text: the test's `reply`, or the default echo with what the tools returned."""
        question, declared = answers.last_user_text(chat.messages), {t["name"] for t in chat.tools}
        calls = tool_model.next_calls(question, chat.messages, declared, chat.tool_choice)
        if calls:
            return answers.compose_calls(tool_model.explain(calls), calls, chat)
        if self.emu.reply:
            return answers.compose(self.emu.reply(chat.messages), chat)
        notes = tool_model.final_notes(question, chat.messages, declared) if chat.tools else ""
        text = f"Emulated {chat.model} reply: {question}" + (f"\n\n{notes}" if notes else "")
        return answers.compose(text, chat)

    async def estimate(self, request: Request) -> wire.Reply:
        body = rules.check_fields(await read_json(request), frozenset({"model", "messages"}))
        model = rules.find_model(self.emu.models, body.get("model"))
        messages = rules.check_messages(body.get("messages"), model, self._purposes())
        return wire.json_reply({"data": {"total_tokens": self.emu.count_tokens(messages)}})

    async def balance(self, request: Request) -> wire.Reply:
        emu = self.emu
        data = {"available_balance": emu.available_balance, "voucher_balance": emu.voucher_balance}
        data["cash_balance"] = emu.cash_balance
        return wire.json_reply({"code": 0, "data": data, "scode": "0x0", "status": True})

    async def upload(self, request: Request) -> wire.Reply:
        form = await read_form(request)
        purpose, upload = form.get("purpose"), form.get("file")
        if purpose not in PURPOSES:  # the docs' stale text, still served in 2026 (section 4)
            raise rules.Rejection("Invalid purpose: only 'file-extract' accepted")
        if not isinstance(upload, UploadFile):
            raise rules.bad("a file field is required")
        content = await upload.read()
        self._check_upload(len(content))
        name, now = upload.filename or "file", int(time.time())
        stored = StoredFile(new_id(), name, len(content), str(purpose), now, "ok", content)
        self.emu.files[stored.id] = stored
        return wire.json_reply(stored.as_json())

    def _check_upload(self, size: int) -> None:
        if len(self.emu.files) >= self.emu.max_files:
            count = f"the max file count {self.emu.max_files}"
            raise rules.Rejection(
                f"The number of files you have uploaded exceeded {count}, please delete previous "
                "uploaded files"
            )
        if not size:
            raise rules.Rejection("File size is zero, please confirm and re-upload the file")
        if size > self.emu.max_file_bytes:
            limit = "max file size is 100MB"
            raise rules.Rejection(
                f"File size is too large, {limit}, please confirm and re-upload the file"
            )

    async def list_files(self, request: Request) -> wire.Reply:
        """Every file in one page, in the documented shape (no `has_more`: section 2.5).

        Kimi documents no query parameters, so what it does with `after` is UNKNOWN. The OpenAI
        SDKs page on with `after=<last id>` until a page comes back empty; answering the same
        page again would make them loop forever, so `after` lists only the files uploaded after
        that one (none for an unknown id). Without `after`, nothing changes."""
        stored = list(self.emu.files.values())
        after = request.query_params.get("after")
        if after is not None:
            ids = [file.id for file in stored]
            stored = stored[ids.index(after) + 1 :] if after in ids else []
        return wire.json_reply({"object": "list", "data": [file.as_json() for file in stored]})

    async def file_info(self, request: Request) -> wire.Reply:
        return wire.json_reply(self._file(request).as_json())

    async def delete_file(self, request: Request) -> wire.Reply:
        stored = self.emu.files.pop(self._file(request).id)
        return wire.json_reply({"id": stored.id, "object": "file", "deleted": True})

    async def file_content(self, request: Request) -> wire.Reply:
        stored = self._file(request)
        if stored.purpose in ("image", "video"):
            raise rules.bad(f"no extracted content for {stored.purpose} files")
        mime = mimetypes.guess_type(stored.filename)[0] or "application/octet-stream"
        text = stored.content.decode(errors="replace")
        data = {"content": text, "file_type": mime, "filename": stored.filename, "title": ""}
        # Section 2.5: a JSON document served as text; clients put the raw string in a prompt.
        return wire.Reply(body=answers.dumps(data | {"type": "file"}), media_type="text/plain")

    def _file(self, request: Request) -> StoredFile:
        file_id = request.path_params["file_id"]
        if file_id not in self.emu.files:
            message = f"Not found the file {file_id} or Permission denied"
            raise rules.Rejection(message, 404, "resource_not_found_error")
        return self.emu.files[file_id]

    def _purposes(self) -> dict[str, str]:
        return {file_id: stored.purpose for file_id, stored in self.emu.files.items()}
