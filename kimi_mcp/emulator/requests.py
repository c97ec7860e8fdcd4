"""Reading a Starlette request the way the emulator needs it: recorded whole, or parsed as JSON or
a multipart form, with malformed bodies refused as Kimi would."""

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from kimi_mcp.emulator import rules
from kimi_mcp.emulator.records import RecordedRequest


async def record_request(request: Request, started: float) -> RecordedRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    body, form, parsed = await request.body(), None, None
    if headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            fields = (await read_form(request)).multi_items()
            form = {key: value for key, value in fields if isinstance(value, str)}
        except rules.Rejection:
            form = None  # the endpoint answers the malformed body
    elif body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    return RecordedRequest(request.method, request.url.path, headers, body, parsed, form, started)


async def read_form(request: Request) -> Any:
    """The multipart form (parsed once per request, then cached by Starlette)."""
    try:
        return await request.form(max_files=4, max_fields=16)
    except HTTPException as exc:  # Starlette's answer to a malformed multipart body
        raise rules.bad(f"malformed multipart body: {exc.detail}") from exc


async def read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise rules.bad("the request body is not valid JSON") from exc
