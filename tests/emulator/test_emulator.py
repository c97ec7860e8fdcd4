"""The Kimi emulator on loopback, driven with raw HTTP: shapes, rules, faults, files, admin."""

import json
import time
import uuid
from typing import Any

import anyio
import httpx2
import pytest

from kimi_mcp.emulator import Emulator, Fault, serve_emulator
from tests.emulator.conftest import KEY

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hello nonce-4711"}]
PNG = "data:image/png;base64,iVBORw0KGgo="


def chat_body(model: str = "kimi-k2.6", messages: Any = None, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": HELLO if messages is None else messages, **extra}


async def stream_lines(http: httpx2.AsyncClient, body: dict[str, Any]) -> list[str]:
    """The `data:` payloads of a streamed chat, in order."""
    async with http.stream("POST", "/chat/completions", json=body | {"stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines()]
    return [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]


def error_of(response: httpx2.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["type"], error["message"]


# Models, auth, routes --------------------------------------------------------------------------


async def test_models_have_the_documented_shape(http: httpx2.AsyncClient) -> None:
    response = await http.get("/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids[:2] == ["kimi-k3", "kimi-k2.7-code"]
    assert {"kimi-k2.6", "kimi-k2.5", "moonshot-v1-128k", "moonshot-v1-8k"} <= set(ids)
    k3 = body["data"][0]
    assert k3 == {
        "id": "kimi-k3",
        "object": "model",
        "created": 1785110400,
        "owned_by": "moonshot",
        "context_length": 1048576,
        "supports_image_in": True,
        "supports_video_in": True,
        "supports_reasoning": True,
    }


async def test_answers_carry_kimis_headers(http: httpx2.AsyncClient) -> None:
    response = await http.get("/users/me/balance")
    uuid.UUID(response.headers["msh-request-id"])
    assert response.headers["server"] == "nginx"
    assert response.headers["server-timing"].startswith("inner; dur=")


@pytest.mark.parametrize(
    ("authorization", "error_type", "message"),
    [
        (None, "incorrect_api_key_error", "Incorrect API key provided"),
        ("Bearer sk-wrong", "invalid_authentication_error", "Invalid Authentication"),
    ],
)
async def test_a_missing_or_wrong_key_is_401(
    served: tuple[Emulator, str],
    emu: Emulator,
    authorization: str | None,
    error_type: str,
    message: str,
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx2.AsyncClient(base_url=served[1], headers=headers) as client:
        response = await client.post("/chat/completions", json=chat_body())
    assert error_of(response) == (401, error_type, message)
    assert emu.requests[-1].path == CHAT  # rejected requests are recorded too


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nope"), ("DELETE", "/v1/models")])
async def test_unknown_routes_get_the_gateway_404(
    http: httpx2.AsyncClient, method: str, path: str
) -> None:
    response = await http.request(method, path.removeprefix("/v1"))
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "url.not_found"
    assert body["code"] == 5
    assert body["status"] is False
    assert (body["method"], body["url"]) == (method, path)


# Chat ------------------------------------------------------------------------------------------


async def test_a_chat_echoes_the_prompt_with_reasoning_and_usage(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    response = await http.post("/chat/completions", json=chat_body())
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "kimi-k2.6"
    choice = body["choices"][0]
    assert "nonce-4711" in choice["message"]["content"]
    assert choice["message"]["reasoning_content"].startswith("Thinking about:")
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == emu.count_tokens(HELLO)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["cached_tokens"] == 0
    assert emu.requests[-1].json == chat_body()


@pytest.mark.parametrize(
    "body",
    [chat_body("moonshot-v1-8k"), chat_body(thinking={"type": "disabled"}, temperature=0.6)],
)
async def test_no_reasoning_when_thinking_is_off(
    http: httpx2.AsyncClient, body: dict[str, Any]
) -> None:
    message = (await http.post("/chat/completions", json=body)).json()["choices"][0]["message"]
    assert "reasoning_content" not in message
    assert "nonce-4711" in message["content"]


async def test_a_stream_follows_section_6_3(http: httpx2.AsyncClient) -> None:
    expected = (await http.post("/chat/completions", json=chat_body())).json()
    events = await stream_lines(http, chat_body())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks[1:-1]]
    kinds = [next(iter(delta)) for delta in deltas]
    assert kinds == sorted(kinds, reverse=True)  # every reasoning_content before any content
    assert all(len(next(iter(delta.values()))) <= 16 for delta in deltas)
    message = expected["choices"][0]["message"]
    assert "".join(d.get("content", "") for d in deltas) == message["content"]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == message["reasoning_content"]
    finish = chunks[-1]["choices"][0]
    assert finish["delta"] == {}
    assert finish["finish_reason"] == "stop"
    assert finish["usage"] == expected["usage"]
    assert "usage" not in chunks[-1]


async def test_include_usage_adds_an_openai_usage_chunk(http: httpx2.AsyncClient) -> None:
    events = await stream_lines(http, chat_body(stream_options={"include_usage": True}))
    last = json.loads(events[-2])
    assert last["choices"] == []
    assert last["usage"]["cached_tokens"] == 0
    assert json.loads(events[-3])["choices"][0]["usage"] == last["usage"]


async def test_max_tokens_cuts_the_answer_with_finish_reason_length(
    http: httpx2.AsyncClient,
) -> None:
    body = chat_body(max_completion_tokens=10, thinking={"type": "disabled"})
    response = (await http.post("/chat/completions", json=body)).json()
    assert response["choices"][0]["finish_reason"] == "length"
    assert response["usage"]["completion_tokens"] <= 10
    legacy = (await http.post("/chat/completions", json=chat_body(max_tokens=3))).json()
    assert legacy["choices"][0]["finish_reason"] == "length"
    assert legacy["choices"][0]["message"]["content"] == ""  # reasoning took the whole budget


async def test_partial_mode_continues_without_repeating_the_prefix(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.reply = lambda messages: "Once upon a time there was a nonce."
    prefix = {"role": "assistant", "content": "Once upon", "partial": True}
    body = chat_body(messages=[*HELLO, prefix])
    content = (await http.post("/chat/completions", json=body)).json()["choices"][0]["message"]
    assert content["content"] == " a time there was a nonce."


async def test_json_mode_answers_a_json_object(http: httpx2.AsyncClient) -> None:
    body = chat_body(response_format={"type": "json_object"})
    content = (await http.post("/chat/completions", json=body)).json()["choices"][0]["message"]
    assert "nonce-4711" in json.loads(content["content"])["answer"]


async def test_accepted_edge_cases(http: httpx2.AsyncClient, emu: Emulator) -> None:
    """Fixed values passed as-is, k2.7-code enabled, keep on k2.6, a thinking tool loop."""
    upload = await http.post("/files", files={"file": ("a.png", b"png")}, data={"purpose": "image"})
    image = {"type": "image_url", "image_url": {"url": f"ms://{upload.json()['id']}"}}
    call = {"id": "t:0", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    turn = {"role": "assistant", "content": "", "reasoning_content": " ", "tool_calls": [call]}
    tool = {"role": "tool", "tool_call_id": "t:0", "content": "{}"}
    bodies = [
        chat_body("kimi-k3", temperature=1.0, top_p=0.95, n=1, reasoning_effort="low"),
        chat_body("kimi-k2.7-code", thinking={"type": "enabled", "keep": "all"}),
        chat_body("kimi-k2.6", thinking={"type": "enabled", "keep": "all"}),
        chat_body("kimi-k2.6", messages=[*HELLO, turn, tool]),
        chat_body(messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, image]}]),
        chat_body("moonshot-v1-8k", temperature=0.3, n=2, max_tokens=100),
    ]
    for body in bodies:
        response = await http.post("/chat/completions", json=body)
        assert response.status_code == 200, response.text


def too_long(words: int) -> list[dict[str, Any]]:
    return [{"role": "user", "content": "word " * words}]


TOOL_TURN = {"role": "assistant", "content": "", "tool_calls": [{"id": "f:0"}]}
REJECTIONS = [
    (chat_body(temperature=0.7), "temperature is fixed for this model"),
    (chat_body("kimi-k3", top_p=0.5), "top_p is fixed for this model"),
    (chat_body("kimi-k3", n=2), "n is fixed for this model"),
    (chat_body(presence_penalty=0.5), "presence_penalty is fixed"),
    (chat_body(frequency_penalty=-1), "frequency_penalty is fixed"),
    (chat_body("kimi-k3", thinking={"type": "enabled"}), "thinking is not supported"),
    (chat_body("moonshot-v1-8k", thinking={"type": "disabled"}), "thinking is not supported"),
    (chat_body("kimi-k2.7-code", thinking={"type": "disabled"}), "only type=enabled is allowed"),
    (chat_body("kimi-k2.5", thinking={"type": "enabled", "keep": "all"}), "thinking.keep"),
    (chat_body(reasoning_effort="high"), "reasoning_effort is not supported"),
    (chat_body("kimi-k3", reasoning_effort="medium"), "reasoning_effort must be one of"),
    (chat_body("kimi-k3", reasoning_effort="max", thinking={}), "cannot be used together"),
    (chat_body(messages=[{**HELLO[0], "partial": True}]), "partial is only allowed"),
    (
        chat_body(messages=[{"role": "assistant", "content": "a", "partial": True}, *HELLO]),
        "partial is only allowed",
    ),
    (
        chat_body(
            messages=[*HELLO, {"role": "assistant", "content": "{", "partial": True}],
            response_format={"type": "json_object"},
        ),
        "partial mode cannot be combined",
    ),
    (
        chat_body(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                    ],
                }
            ]
        ),
        "public URLs are not supported",
    ),
    (
        chat_body(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "ms://nosuchfile0000000"}}
                    ],
                }
            ]
        ),
        "file nosuchfile0000000 not found",
    ),
    (
        chat_body(
            "moonshot-v1-8k",
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": PNG}]}],
        ),
        "does not support image input",
    ),
    (
        chat_body(
            "kimi-k2.5",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}}
                    ],
                }
            ],
        ),
        "does not support video input",
    ),
    (chat_body("moonshot-v1-8k", temperature=1.5), "temperature must be in [0, 1]"),
    (chat_body("moonshot-v1-8k", n=6, temperature=0.5), "n must be an integer from 1 to 5"),
    (chat_body("moonshot-v1-8k", n=2, temperature=0), "n > 1 needs a temperature above 0"),
    (chat_body("moonshot-v1-8k", messages=too_long(8000)), "Input token length too long"),
    (chat_body("moonshot-v1-8k", max_tokens=8190), "exceeded model token limit : 8192"),
    (chat_body(user="me"), "unknown field(s): user"),
    (
        chat_body(
            tools=[{"type": "function", "function": {"name": "get_weather"}}],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        "tool_choice 'specified' is incompatible with thinking enabled",
    ),
    (chat_body(tool_choice="required"), "tool_choice 'required' is not supported"),
    (chat_body(messages=[*HELLO, TOOL_TURN]), "reasoning_content is missing"),
    (chat_body(messages=[]), "messages must be a non-empty list"),
    (chat_body(messages=[{"role": "robot", "content": "x"}]), "role must be one of"),
    (chat_body(messages=[{"role": "user", "content": ""}]), "content must not be empty"),
    (chat_body(max_tokens=0), "max_tokens must be a positive integer"),
    ({"messages": HELLO}, "model is required"),
]


@pytest.mark.parametrize(("body", "message"), REJECTIONS)
async def test_requests_kimi_refuses_get_400(
    http: httpx2.AsyncClient, emu: Emulator, body: dict[str, Any], message: str
) -> None:
    status, error_type, text = error_of(await http.post("/chat/completions", json=body))
    assert (status, error_type) == (400, "invalid_request_error")
    assert message in text
    # Recorded too: the test suite's sweep fails any test whose requests Kimi would refuse.
    assert emu.rejections == [("/v1/chat/completions", 400, text)]


async def test_exact_messages_of_the_documented_rejections(http: httpx2.AsyncClient) -> None:
    documented = {
        "Input token length too long": chat_body("moonshot-v1-8k", messages=too_long(8000)),
        "Your request exceeded model token limit : 8192": chat_body(
            "moonshot-v1-8k", max_tokens=8190
        ),
        "invalid thinking: only type=enabled is allowed for this model": chat_body(
            "kimi-k2.7-code", thinking={"type": "disabled"}
        ),
        "thinking is enabled but reasoning_content is missing": chat_body(
            messages=[*HELLO, TOOL_TURN]
        ),
    }
    for message, body in documented.items():
        assert error_of(await http.post("/chat/completions", json=body))[2] == message


async def test_an_unknown_model_is_404(http: httpx2.AsyncClient) -> None:
    response = await http.post("/chat/completions", json=chat_body("kimi-k9"))
    assert error_of(response) == (
        404,
        "resource_not_found_error",
        "Not found the model kimi-k9 or Permission denied",
    )


async def test_a_body_that_is_not_json_is_400(http: httpx2.AsyncClient) -> None:
    response = await http.post("/chat/completions", content=b"{nope")
    assert error_of(response)[:2] == (400, "invalid_request_error")


# Tokens and balance ----------------------------------------------------------------------------


async def test_estimate_token_count_uses_the_same_tokenizer(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "héllo"}, {"type": "image_url", "image_url": PNG}],
        },
    ]
    body = {"model": "kimi-k2.6", "messages": messages}
    response = await http.post("/tokenizers/estimate-token-count", json=body)
    assert response.json() == {"data": {"total_tokens": emu.count_tokens(messages)}}
    assert emu.count_tokens(messages) == (4 + 4) + (4 + 2 + 1024)
    unknown = await http.post("/tokenizers/estimate-token-count", json=body | {"model": "x"})
    assert unknown.status_code == 404


async def test_balance_has_the_documented_shape(http: httpx2.AsyncClient, emu: Emulator) -> None:
    body = (await http.get("/users/me/balance")).json()
    assert body == {
        "code": 0,
        "scode": "0x0",
        "status": True,
        "data": {
            "available_balance": 49.58894,
            "voucher_balance": 46.58893,
            "cash_balance": 3.00001,
        },
    }
    emu.balance_set(-1.27, 5.0)  # debt: available is the voucher alone (section 2.4)
    assert (await http.get("/users/me/balance")).json()["data"]["available_balance"] == 5.0


async def test_an_empty_account_gets_the_quota_429(http: httpx2.AsyncClient, emu: Emulator) -> None:
    emu.balance_set(0, 0)
    assert error_of(await http.post("/chat/completions", json=chat_body())) == (
        429,
        "exceeded_current_quota_error",
        "You exceeded your current token quota: <org-emulator> 0, "
        "please check your account balance",
    )


# Files -----------------------------------------------------------------------------------------


async def test_a_file_round_trip(http: httpx2.AsyncClient, emu: Emulator) -> None:
    upload = await http.post(
        "/files",
        files={"file": ("notes.txt", "第一行\nnonce".encode())},
        data={"purpose": "file-extract"},
    )
    assert upload.status_code == 200
    stored = upload.json()
    assert len(stored["id"]) == 20
    assert stored["id"].isalnum()
    assert stored["id"].islower()
    assert stored | {"id": "x", "created_at": 0} == {
        "id": "x",
        "object": "file",
        "bytes": 15,
        "created_at": 0,
        "filename": "notes.txt",
        "purpose": "file-extract",
        "status": "ok",
        "status_details": "",
    }
    assert emu.requests[-1].form == {"purpose": "file-extract"}
    file_id = stored["id"]
    assert (await http.get("/files")).json() == {"object": "list", "data": [stored]}
    assert (await http.get(f"/files/{file_id}")).json() == stored
    content = await http.get(f"/files/{file_id}/content")
    assert content.headers["content-type"].startswith("text/plain")
    assert json.loads(content.text) == {
        "content": "第一行\nnonce",
        "file_type": "text/plain",
        "filename": "notes.txt",
        "title": "",
        "type": "file",
    }
    deleted = await http.delete(f"/files/{file_id}")
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    for response in [await http.get(f"/files/{file_id}"), await http.delete(f"/files/{file_id}")]:
        assert error_of(response)[:2] == (404, "resource_not_found_error")


@pytest.mark.parametrize(
    ("content", "purpose", "message"),
    [
        (b"", "file-extract", "File size is zero, please confirm and re-upload the file"),
        (b"x", "assistants", "Invalid purpose: only 'file-extract' accepted"),
        (
            b"12345678901",
            "file-extract",
            "File size is too large, max file size is 100MB, please confirm and re-upload the file",
        ),
    ],
)
async def test_bad_uploads_get_the_documented_400(
    http: httpx2.AsyncClient, emu: Emulator, content: bytes, purpose: str, message: str
) -> None:
    emu.max_file_bytes = 10  # the real limit is 100 MB; the rule is the same
    try:
        response = await http.post(
            "/files", files={"file": ("a.txt", content)}, data={"purpose": purpose}
        )
    finally:
        del emu.max_file_bytes
    assert error_of(response) == (400, "invalid_request_error", message)


async def test_the_file_list_pages_on_after_the_id_an_sdk_names(http: httpx2.AsyncClient) -> None:
    """No `has_more` (the documented shape); `after=<id>` answers the files after it, so the
    OpenAI SDKs' auto-pagination reaches an empty page and ends (test_openai_sdk.py)."""
    ids = []
    for name in ("a.txt", "b.txt", "c.txt"):
        form = {"purpose": "file-extract"}
        ids.append(
            (await http.post("/files", files={"file": (name, b"x")}, data=form)).json()["id"]
        )
    whole = (await http.get("/files")).json()
    assert set(whole) == {"object", "data"} and [f["id"] for f in whole["data"]] == ids
    after_first = (await http.get("/files", params={"after": ids[0]})).json()
    assert [f["id"] for f in after_first["data"]] == ids[1:]
    assert (await http.get("/files", params={"after": ids[-1]})).json()["data"] == []
    assert (await http.get("/files", params={"after": "unknownid"})).json()["data"] == []


async def test_the_file_count_limit(http: httpx2.AsyncClient, emu: Emulator) -> None:
    emu.max_files = 1
    try:
        for _ in range(2):
            response = await http.post(
                "/files", files={"file": ("a.txt", b"a")}, data={"purpose": "file-extract"}
            )
    finally:
        del emu.max_files
    assert "exceeded the max file count 1, please delete" in error_of(response)[2]


async def test_image_files_have_no_content(http: httpx2.AsyncClient) -> None:
    upload = await http.post("/files", files={"file": ("a.png", b"png")}, data={"purpose": "image"})
    response = await http.get(f"/files/{upload.json()['id']}/content")
    assert response.status_code == 400


# Faults ----------------------------------------------------------------------------------------


ORG = "Your account org-emulator<ak-emulator> request reached organization"


@pytest.mark.parametrize(
    ("fault", "status", "error_type", "message", "headers"),
    [
        (
            Fault.engine_overloaded(retry_after=3),
            429,
            "engine_overloaded_error",
            "The engine is currently overloaded, please try again later",
            {"retry-after": "3"},
        ),
        (
            Fault.engine_overloaded(retry_after=0.25),
            429,
            "engine_overloaded_error",
            "The engine is currently overloaded, please try again later",
            {"retry-after": "1", "retry-after-ms": "250"},
        ),
        (
            Fault.rate_limit("rpm", retry_after=2),
            429,
            "rate_limit_reached_error",
            f"{ORG} max RPM: 3, please try again after 2 seconds",
            {"retry-after": "2"},
        ),
        (
            Fault.rate_limit("concurrency"),
            429,
            "rate_limit_reached_error",
            f"{ORG} max concurrency: 1, please try again after 1 seconds",
            {},
        ),
        (
            Fault.rate_limit("tpm"),
            429,
            "rate_limit_reached_error",
            f"{ORG} TPM rate limit, current:510000, limit:500000",
            {},
        ),
        (
            Fault.rate_limit("tpd"),
            429,
            "rate_limit_reached_error",
            f"{ORG} TPD rate limit,current:1500001, limit:1500000",
            {},
        ),
        (
            Fault.quota(),
            429,
            "exceeded_current_quota_error",
            "Your account "
            "org-emulator<ak-emulator> is suspended, please check your plan and billing details",
            {},
        ),
        (Fault.server_error(500), 500, "unexpected_output", "invalid state transition", {}),
        (
            Fault.server_error(503),
            503,
            "server_unavailable",
            "The service is temporarily unavailable, please try again later",
            {},
        ),
        (
            Fault.content_filter(),
            400,
            "content_filter",
            "The request was rejected because it was considered high risk",
            {},
        ),
    ],
)
async def test_error_presets_answer_kimis_bodies(
    http: httpx2.AsyncClient,
    emu: Emulator,
    fault: Fault,
    status: int,
    error_type: str,
    message: str,
    headers: dict[str, str],
) -> None:
    emu.inject(fault)
    response = await http.post("/chat/completions", json=chat_body())
    assert error_of(response) == (status, error_type, message)
    assert {name: response.headers[name] for name in headers} == headers
    assert (await http.post("/chat/completions", json=chat_body())).status_code == 200


async def test_a_504_is_an_html_page(http: httpx2.AsyncClient, emu: Emulator) -> None:
    emu.inject(Fault.server_error(504, path="/v1/models"))
    response = await http.get("/models")
    assert response.status_code == 504
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>504 Gateway Time-out</title>" in response.text


async def test_faults_match_path_method_and_times_in_order(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.inject(Fault(kind="error", status=418, path="*", method="GET", times=2))
    emu.inject(Fault(kind="error", status=502, path="/v1/models"))
    assert (await http.post("/chat/completions", json=chat_body())).status_code == 200
    statuses = [(await http.get("/models")).status_code for _ in range(4)]
    assert statuses == [418, 418, 502, 200]
    assert len(emu.requests) == 5


async def test_redirect_is_a_307_with_location(http: httpx2.AsyncClient, emu: Emulator) -> None:
    emu.inject(Fault(kind="redirect", path="/v1/models", location="http://127.0.0.1:9/v1/x"))
    response = await http.get("/models")
    assert response.status_code == 307
    assert response.headers["location"] == "http://127.0.0.1:9/v1/x"


async def test_huge_body_has_the_requested_size(http: httpx2.AsyncClient, emu: Emulator) -> None:
    emu.inject(Fault(kind="huge_body", path="/v1/models", size=2_000_000))
    response = await http.get("/models")
    assert len(response.content) == 2_000_000
    assert response.json()["data"].startswith("xxx")


async def test_slow_delays_the_answer_past_a_read_timeout(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.inject(Fault(kind="slow", delay=5))
    with pytest.raises(httpx2.ReadTimeout):
        await http.post("/chat/completions", json=chat_body(), timeout=0.2)
    with anyio.fail_after(5):
        (left,) = await emu.wait_disconnects()
    assert (left.path, left.chunks_sent) == (CHAT, 0)


async def test_slow_spaces_stream_events(http: httpx2.AsyncClient, emu: Emulator) -> None:
    emu.inject(Fault(kind="slow", delay=0.05))
    started = time.monotonic()
    events = await stream_lines(http, chat_body("moonshot-v1-8k"))
    assert time.monotonic() - started >= 0.05 * (len(events) - 1)


async def test_cut_stream_ends_cleanly_without_finish_or_done(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.inject(Fault(kind="cut_stream", after_chunks=2))
    events = await stream_lines(http, chat_body())
    assert "[DONE]" not in events
    deltas = [json.loads(event)["choices"][0] for event in events]
    assert all(d["finish_reason"] is None for d in deltas)
    assert sum("content" in d["delta"] for d in deltas[1:]) == 2
    assert sum("reasoning_content" in d["delta"] for d in deltas) >= 1


async def read_into(received: list[str], http: httpx2.AsyncClient, body: dict[str, Any]) -> None:
    async with http.stream("POST", "/chat/completions", json=body) as response:
        received.append(str(response.status_code))
        async for line in response.aiter_lines():
            received.append(line)


@pytest.mark.parametrize("stream", [True, False])
async def test_reset_drops_the_connection_mid_body(
    http: httpx2.AsyncClient, emu: Emulator, stream: bool
) -> None:
    emu.inject(Fault(kind="reset", after_chunks=1))
    received: list[str] = []
    with pytest.raises(httpx2.TransportError):
        await read_into(received, http, chat_body(stream=stream))
    assert received[0] == "200"
    assert not any("[DONE]" in line for line in received)
    assert (await http.get("/models")).status_code == 200  # the server itself is fine


async def test_a_malformed_stream_has_a_broken_event(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.inject(Fault(kind="malformed_stream"))
    events = await stream_lines(http, chat_body())
    assert events[1] == "{not json"  # before any text, so no partial answer can be kept
    assert events[-1] == "[DONE]"


async def test_drip_sends_the_body_a_byte_at_a_time(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    expected = (await http.get("/users/me/balance")).json()
    emu.inject(Fault(kind="drip", path="/v1/users/me/balance", delay=0.002))
    started = time.monotonic()
    response = await http.get("/users/me/balance")
    assert response.json() == expected
    assert time.monotonic() - started >= 0.002 * (len(response.content) - 1)


async def test_a_client_leaving_a_slow_stream_is_recorded(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.stream_delay = 0.05
    async with http.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break  # leave after the role chunk
    with anyio.fail_after(5):
        (left,) = await emu.wait_disconnects()
    assert left.path == CHAT
    assert 1 <= left.chunks_sent < 5
    assert emu.peak_streams == 1


async def test_shutdown_is_bounded_with_a_stream_open() -> None:
    emulator = Emulator(stream_delay=30)
    auth = {"Authorization": f"Bearer {KEY}"}
    async with httpx2.AsyncClient(headers=auth) as client:
        with anyio.fail_after(5):
            async with serve_emulator(emulator) as url:
                request = client.build_request(
                    "POST", f"{url}/chat/completions", json=chat_body(stream=True)
                )
                response = await client.send(request, stream=True)
            with pytest.raises(httpx2.TransportError):
                await response.aread()  # the server went away mid-stream
            await response.aclose()
    assert emulator.disconnects == []  # a server stopping is not a client leaving


async def test_models_and_chunk_size_can_be_configured() -> None:
    custom = [{"id": "kimi-k2-turbo-preview", "object": "model", "context_length": 262144}]
    emulator = Emulator(models=custom, chunk_chars=4, api_key="sk-other")
    auth = {"Authorization": "Bearer sk-other"}
    async with (
        serve_emulator(emulator) as url,
        httpx2.AsyncClient(base_url=url, headers=auth) as client,
    ):
        assert (await client.get("/models")).json()["data"] == custom
        events = await stream_lines(client, chat_body("kimi-k2-turbo-preview"))
    pieces = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[1:-2]]
    assert pieces
    assert all(0 < len(piece) <= 4 for piece in pieces)


# Admin routes ----------------------------------------------------------------------------------


async def test_admin_routes_drive_a_subprocess_emulator(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    admin = str(http.base_url).removesuffix("/v1/") + "/_emulator"
    queued = await http.post(f"{admin}/faults", json={"preset": "rate_limit_rpm", "retry_after": 4})
    assert queued.status_code == 200
    limited = await http.post("/chat/completions", json=chat_body())
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "4"
    raw = {"kind": "error", "status": 500, "error_type": None, "message": "Oops"}
    await http.post(f"{admin}/faults", json=raw | {"path": "/v1/models"})
    assert (await http.get("/models")).status_code == 500
    bad = await http.post(f"{admin}/faults", json={"preset": "nope"})
    assert bad.status_code == 400
    await http.post(f"{admin}/config", json={"stream_delay": 0.0, "reply": "fixed answer"})
    answer = (await http.post("/chat/completions", json=chat_body())).json()
    assert answer["choices"][0]["message"]["content"] == "fixed answer"
    recorded = (await http.get(f"{admin}/requests")).json()
    assert [r["path"] for r in recorded] == [CHAT, "/v1/models", CHAT]
    assert recorded[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert json.loads(recorded[0]["body"]) == recorded[0]["json"] == chat_body()
    assert (await http.post(f"{admin}/reset")).json() == {"ok": True}
    assert emu.requests == []


# Faults a proxy or a broken upstream produces (emulator.faults) ----------------------------------


async def test_huge_body_is_chunked_without_a_length(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.inject(Fault(kind="huge_body", path="/v1/models", size=3 * 1024 * 1024 + 5))
    async with http.stream("GET", "/models") as response:
        assert "content-length" not in response.headers
        body = await response.aread()
    assert len(body) == 3 * 1024 * 1024 + 5 and body.endswith(b'x"}')


async def test_raw_answers_the_body_as_given(http: httpx2.AsyncClient, emu: Emulator) -> None:
    headers = {"Content-Type": "application/json"}
    emu.inject(Fault(kind="raw", path="/v1/models", status=200, body='{"data": [', headers=headers))
    response = await http.get("/models")
    assert response.status_code == 200 and response.text == '{"data": ['
    assert response.headers["content-type"] == "application/json"


async def test_redirect_may_be_a_302(http: httpx2.AsyncClient, emu: Emulator) -> None:
    emu.inject(Fault(kind="redirect", path="/v1/models", status=302, location="http://x/"))
    response = await http.get("/models")
    assert (response.status_code, response.headers["location"]) == (302, "http://x/")


async def test_ping_stream_sends_only_comments_until_the_client_leaves(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.inject(Fault(kind="ping_stream", delay=0.01))
    body = chat_body(stream=True)
    async with http.stream("POST", "/chat/completions", json=body) as response:
        lines = []
        async for line in response.aiter_lines():
            lines.append(line)
            if len(lines) >= 20:
                break
    assert set(lines) == {": ping", ""}
    with anyio.fail_after(5):
        (left,) = await emu.wait_disconnects()
    assert left.chunks_sent >= 10


async def test_stream_error_sends_an_error_event_after_some_content(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.inject(Fault(kind="stream_error", after_chunks=1, error_type="engine_overloaded_error"))
    events = await stream_lines(http, chat_body(thinking={"type": "disabled"}))
    assert json.loads(events[-1])["error"]["type"] == "engine_overloaded_error"
    assert sum("content" in json.loads(e)["choices"][0]["delta"] for e in events[1:-1]) == 1
    assert "[DONE]" not in events


async def test_framing_sends_crlf_fields_and_two_line_data_a_byte_at_a_time(
    http: httpx2.AsyncClient, emu: Emulator
) -> None:
    emu.reply = lambda _messages: "你好 🌍"
    emu.inject(Fault(kind="framing"))
    async with http.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
        raw = await response.aread()
    assert b"\r\nevent: message\r\n" in raw and b"\r\nretry: 1000\r\n" in raw
    assert b"data: {\r\ndata:" in raw and raw.endswith(b"data: [DONE]\r\n\r\n")
    content = []
    for event in raw.decode().split("\r\n\r\n"):
        lines = [line[5:].removeprefix(" ") for line in event.split("\r\n") if line[:5] == "data:"]
        data = "\n".join(lines)  # the SSE rule for an event with several data lines
        if data and data != "[DONE]":
            content.append(json.loads(data)["choices"][0]["delta"].get("content") or "")
    assert "".join(content) == "你好 🌍"
