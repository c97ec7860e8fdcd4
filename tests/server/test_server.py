"""The tools through the SDK's in-memory Client against the emulator on loopback."""

import json
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from mcp import Client

from kimi_mcp import __version__
from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.server import build_server
from tests.conftest import CANARY_KEY, TOOL_NAMES
from tests.tool_results import chats, error_text, ok, text_of

pytestmark = pytest.mark.anyio

TOOLS = set(TOOL_NAMES)
SAMPLING = {"temperature", "top_p", "n", "presence_penalty", "frequency_penalty"}


# The tool list ----------------------------------------------------------------------------------


async def test_every_tool_has_an_output_schema_and_honest_annotations(
    mcp_client: Client,
) -> None:
    tools = {tool.name: tool for tool in (await mcp_client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        assert tool.description and len(tool.description) < 160
        assert tool.annotations is not None
        # Only the conversation tools stay on this machine; every other tool talks to Kimi.
        local = tool.name.endswith("_conversation") or tool.name.endswith("_conversations")
        assert tool.annotations.open_world_hint is not local
    read_only = {
        name for name, tool in tools.items() if tool.annotations and tool.annotations.read_only_hint
    }
    assert read_only == {
        "list_models",
        "read_file",
        "list_files",
        "check_balance",
        "list_conversations",
    }
    for name in ("delete_file", "delete_conversation"):
        delete = tools[name].annotations
        assert delete is not None and delete.destructive_hint is True
    ask = tools["ask_kimi"].input_schema
    assert ask["required"] == ["prompt"]
    assert {
        "prompt",
        "system",
        "model",
        "thinking",
        "max_tokens",
        "json_mode",
        "prefix",
        "deadline",
    } <= set(ask["properties"])


# ask_kimi ---------------------------------------------------------------------------------------


async def test_ask_kimi_returns_a_structured_honest_answer(
    mcp_client: Client, emulator: Emulator
) -> None:
    result = ok(
        await mcp_client.call_tool("ask_kimi", {"prompt": "echo nonce-77", "system": "Be brief."})
    )
    assert "nonce-77" in result["answer"]
    assert result["model"] == "kimi-k2.6" and result["finish_reason"] == "stop"
    assert result["truncated"] is False and result["truncated_reason"] is None
    assert result["reasoning"]  # the default model thinks by default
    assert set(result["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cached_tokens",
    }
    sent = chats(emulator)[-1].json
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["stream"] is True and not SAMPLING & set(sent)


@pytest.mark.parametrize(
    ("model", "thinking", "sent"),
    [
        ("kimi-k2.6", False, {"type": "disabled"}),
        ("kimi-k2.5", True, {"type": "enabled"}),
        ("kimi-k3", True, None),
        ("kimi-k2.7-code", None, None),
        ("moonshot-v1-8k", False, None),
    ],
)
async def test_thinking_is_sent_only_the_way_each_model_takes_it(
    mcp_client: Client, emulator: Emulator, model: str, thinking: bool | None, sent: Any
) -> None:
    args: dict[str, Any] = {"prompt": "hi", "model": model}
    if thinking is not None:
        args["thinking"] = thinking
    result = ok(await mcp_client.call_tool("ask_kimi", args))
    request = chats(emulator)[-1].json
    assert request.get("thinking") == sent and "reasoning_effort" not in request
    assert (result["reasoning"] is None) == (thinking is False or model.startswith("moonshot"))


async def test_a_contradictory_thinking_request_is_refused_before_sending(
    mcp_client: Client, emulator: Emulator
) -> None:
    message = error_text(
        await mcp_client.call_tool(
            "ask_kimi", {"prompt": "hi", "model": "kimi-k3", "thinking": False}
        )
    )
    assert "always thinks" in message
    assert chats(emulator) == []


async def test_unknown_model_lists_the_available_ids(
    mcp_client: Client, emulator: Emulator
) -> None:
    message = error_text(
        await mcp_client.call_tool("ask_kimi", {"prompt": "hi", "model": "kimi-k9"})
    )
    assert "kimi-k9" in message and "kimi-k2.6" in message and "list_models" in message
    assert chats(emulator) == []


async def test_prefix_continues_the_answer_in_partial_mode(
    mcp_client: Client, emulator: Emulator
) -> None:
    result = ok(
        await mcp_client.call_tool(
            "ask_kimi", {"prompt": "Write a haiku", "prefix": "Autumn moon,"}
        )
    )
    assert result["answer"].startswith("Autumn moon,")
    last = chats(emulator)[-1].json["messages"][-1]
    assert last == {"role": "assistant", "content": "Autumn moon,", "partial": True}


async def test_json_mode_and_prefix_together_are_refused(
    mcp_client: Client, emulator: Emulator
) -> None:
    message = error_text(
        await mcp_client.call_tool("ask_kimi", {"prompt": "x", "json_mode": True, "prefix": "{"})
    )
    assert "json_mode" in message and chats(emulator) == []


async def test_json_mode_asks_for_a_json_object(mcp_client: Client, emulator: Emulator) -> None:
    result = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "give json", "json_mode": True}))
    assert isinstance(json.loads(result["answer"]), dict)
    assert chats(emulator)[-1].json["response_format"] == {"type": "json_object"}


async def test_max_tokens_cut_is_marked_truncated(mcp_client: Client, emulator: Emulator) -> None:
    result = ok(
        await mcp_client.call_tool(
            "ask_kimi", {"prompt": "long please", "max_tokens": 3, "thinking": False}
        )
    )
    assert result["truncated"] is True and result["truncated_reason"] == "length"
    assert chats(emulator)[-1].json["max_completion_tokens"] == 3


async def test_progress_reaches_the_client_during_a_slow_stream(
    mcp_client: Client, emulator: Emulator
) -> None:
    emulator.stream_delay = 0.15
    seen: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message))

    with anyio.fail_after(30):
        result = await mcp_client.call_tool(
            "ask_kimi",
            {"prompt": "a fairly long question to stream slowly " * 2},
            progress_callback=on_progress,
        )
    ok(result)
    assert len(seen) >= 2
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    assert any(m and m.startswith("thinking") for _, m in seen)
    assert any(m and m.startswith("answering") and "tokens" in m for _, m in seen)


async def test_a_deadline_returns_a_partial_answer_marked(
    mcp_client: Client, emulator: Emulator
) -> None:
    emulator.stream_delay = 0.3
    with anyio.fail_after(20):
        result = ok(
            await mcp_client.call_tool(
                "ask_kimi", {"prompt": "slow " * 40, "thinking": False, "deadline": 1.5}
            )
        )
    assert result["truncated"] is True and result["truncated_reason"] == "deadline"
    assert result["answer"]


async def test_an_answer_over_the_cap_is_cut_and_marked(
    emulator_url: str, workdir: Path, emulator: Emulator
) -> None:
    settings = load_settings(
        api_key=CANARY_KEY, base_url=emulator_url, allowed_dirs=[workdir], answer_cap=1000
    )
    emulator.reply = lambda messages: "x" * 1500
    async with Client(build_server(settings)) as client:
        result = ok(await client.call_tool("ask_kimi", {"prompt": "hi", "thinking": False}))
        assert len(result["answer"]) == 1000
        assert result["truncated_reason"] == "size"
        # Nothing is lost: the whole answer is kept in the conversation, readable as a resource.
        shown = await client.read_resource(f"kimi://conversations/{result['conversation_id']}")
    turns = json.loads("".join(getattr(c, "text", "") for c in shown.contents))["turns"]
    assert turns[-1]["content"] == "x" * 1500


@pytest.mark.parametrize(
    ("fault", "advice"),
    [
        (Fault.quota(), "check_balance"),
        (Fault.rate_limit("tpd"), "daily"),
        (Fault.engine_overloaded(retry_after=60), "wait 60 seconds"),
        (Fault.content_filter(), "moderation"),
    ],
)
async def test_kimi_failures_reach_the_model_with_what_to_do(
    mcp_client: Client, emulator: Emulator, fault: Fault, advice: str
) -> None:
    emulator.inject(fault)
    message = error_text(await mcp_client.call_tool("ask_kimi", {"prompt": "hi"}))
    assert advice in message
    assert CANARY_KEY not in message


# Files ------------------------------------------------------------------------------------------


async def test_upload_list_read_in_pages_and_delete(mcp_client: Client, workdir: Path) -> None:
    text = "".join(f"line {i:04d}\n" for i in range(300))  # 3,000 characters
    (workdir / "doc.txt").write_text(text, encoding="utf-8")
    uploaded = ok(await mcp_client.call_tool("upload_file", {"path": "doc.txt"}))
    assert uploaded["filename"] == "doc.txt" and uploaded["bytes"] == len(text)
    assert uploaded["purpose"] == "file-extract" and len(uploaded["sha256"]) == 64
    listed = ok(await mcp_client.call_tool("list_files", {}))
    assert listed["count"] == 1 and listed["files"][0]["id"] == uploaded["id"]

    pages: list[str] = []
    offset: int | None = 0
    while offset is not None and len(pages) < 10:
        page = ok(
            await mcp_client.call_tool(
                "read_file", {"file_id": uploaded["id"], "offset": offset, "limit": 1000}
            )
        )
        assert page["total_chars"] == len(text) and page["filename"] == "doc.txt"
        pages.append(page["content"])
        offset = page["next_offset"]
    assert "".join(pages) == text and len(pages) == 3

    past = error_text(
        await mcp_client.call_tool("read_file", {"file_id": uploaded["id"], "offset": 5000})
    )
    assert "past the end" in past
    deleted = ok(await mcp_client.call_tool("delete_file", {"file_id": uploaded["id"]}))
    assert deleted == {"id": uploaded["id"], "deleted": True}
    gone = error_text(await mcp_client.call_tool("delete_file", {"file_id": uploaded["id"]}))
    assert "list_files" in gone


async def test_upload_outside_the_allowed_dirs_sends_nothing(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    outside = workdir.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("CANARY-BYTES", encoding="utf-8")
    (workdir / "sneaky").symlink_to(outside / "secret.txt")
    for path in [str(outside / "secret.txt"), "../outside/secret.txt", "sneaky", "/etc/passwd"]:
        message = error_text(await mcp_client.call_tool("upload_file", {"path": path}))
        assert "outside the allowed directories" in message
    assert [r for r in emulator.requests if r.path == "/v1/files"] == []
    assert all(b"CANARY-BYTES" not in r.body for r in emulator.requests)


async def test_upload_with_a_bad_purpose_is_rejected_by_the_schema(
    mcp_client: Client, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("a", encoding="utf-8")
    assert (
        await mcp_client.call_tool("upload_file", {"path": "a.txt", "purpose": "anything"})
    ).is_error


# Tokens and balance -----------------------------------------------------------------------------


async def test_estimate_tokens_uses_kimis_count_and_the_window(
    mcp_client: Client, emulator: Emulator
) -> None:
    result = ok(await mcp_client.call_tool("estimate_tokens", {"text": "count me please"}))
    expected = emulator.count_tokens([{"role": "user", "content": "count me please"}])
    assert result == {
        "model": "kimi-k2.6",
        "total_tokens": expected,
        "context_length": 262144,
        "remaining": 262144 - expected,
    }
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    result = ok(
        await mcp_client.call_tool(
            "estimate_tokens", {"messages": messages, "model": "moonshot-v1-8k"}
        )
    )
    assert result["total_tokens"] == emulator.count_tokens(messages)
    assert result["context_length"] == 8192


async def test_estimate_tokens_needs_exactly_one_input(mcp_client: Client) -> None:
    assert "exactly one" in error_text(await mcp_client.call_tool("estimate_tokens", {}))
    both = {"text": "a", "messages": [{"role": "user", "content": "b"}]}
    assert "not both" in error_text(await mcp_client.call_tool("estimate_tokens", both))


async def test_estimate_tokens_counts_documents_as_ask_kimi_sends_them(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "doc.txt").write_text("A document worth counting. " * 50, encoding="utf-8")
    alone = ok(await mcp_client.call_tool("estimate_tokens", {"text": "question"}))
    both = ok(
        await mcp_client.call_tool("estimate_tokens", {"text": "question", "files": ["doc.txt"]})
    )
    sent = [r.json for r in emulator.requests if r.path.endswith("estimate-token-count")][-1]
    assert isinstance(sent, dict)
    first = sent["messages"][0]
    assert first["role"] == "system" and "worth counting" in first["content"]
    assert both["total_tokens"] == emulator.count_tokens(sent["messages"])
    assert both["total_tokens"] > alone["total_tokens"] + 100


async def test_balance_in_usd_on_the_global_region(mcp_client: Client) -> None:
    result = ok(await mcp_client.call_tool("check_balance", {}))
    assert result["currency"] == "USD"
    assert result["available_balance"] == pytest.approx(
        result["cash_balance"] + result["voucher_balance"]
    )


async def test_the_server_names_itself_and_its_version_to_kimi(
    mcp_client: Client, emulator: Emulator
) -> None:
    ok(await mcp_client.call_tool("check_balance", {}))
    assert emulator.requests[-1].headers["user-agent"] == f"kimi-mcp/{__version__}"


async def test_balance_in_cny_on_the_china_region(emulator_url: str, workdir: Path) -> None:
    settings = load_settings(api_key=CANARY_KEY, base_url=emulator_url, region="china")
    async with Client(build_server(settings)) as client:
        assert ok(await client.call_tool("check_balance", {}))["currency"] == "CNY"


async def test_list_models_is_live(mcp_client: Client, emulator: Emulator) -> None:
    result = ok(await mcp_client.call_tool("list_models", {}))
    ids = [m["id"] for m in result["models"]]
    assert "kimi-k2.6" in ids and result["default_model"] == "kimi-k2.6"
    assert set(result["models"][0]) == {
        "id",
        "context_length",
        "supports_image_in",
        "supports_video_in",
        "supports_reasoning",
    }
    ok(await mcp_client.call_tool("list_models", {}))
    assert len([r for r in emulator.requests if r.path == "/v1/models"]) == 2


# No key, and the key never leaks ----------------------------------------------------------------


async def test_without_a_key_tools_are_listed_and_each_names_the_variable(
    emulator: Emulator, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("a", encoding="utf-8")
    calls = {
        "ask_kimi": {"prompt": "hi"},
        "list_models": {},
        "upload_file": {"path": "a.txt"},
        "read_file": {"file_id": "abc"},
        "list_files": {},
        "delete_file": {"file_id": "abc"},
        "estimate_tokens": {"text": "x"},
        "check_balance": {},
    }
    async with Client(build_server(load_settings())) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        for name, args in calls.items():
            assert "MOONSHOT_API_KEY" in error_text(await client.call_tool(name, args)), name


async def test_the_key_appears_in_no_result_or_error(
    mcp_client: Client, emulator: Emulator, workdir: Path, settings: Settings
) -> None:
    (workdir / "doc.txt").write_text("doc", encoding="utf-8")
    emulator.inject(
        Fault(
            kind="error",
            status=401,
            error_type="invalid_authentication_error",
            message=f"key {CANARY_KEY} is invalid",
            path="/v1/users/me/balance",
        )
    )
    results = [
        await mcp_client.call_tool("check_balance", {}),  # the upstream echoes the key back
        await mcp_client.call_tool("ask_kimi", {"prompt": f"repeat {settings.api_base_url}"}),
        await mcp_client.call_tool("list_models", {}),
        await mcp_client.call_tool("upload_file", {"path": "doc.txt"}),
        await mcp_client.call_tool("list_files", {}),
        await mcp_client.call_tool("estimate_tokens", {"text": "x"}),
        await mcp_client.call_tool("read_file", {"file_id": "nope"}),
        await mcp_client.call_tool("ask_kimi", {"prompt": "x", "model": "bad"}),
    ]
    assert results[0].is_error
    for result in results:
        assert CANARY_KEY not in text_of(result)
        assert CANARY_KEY not in json.dumps(result.structured_content)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_unknown_arguments_are_refused_not_silently_dropped(
    settings: Settings, emulator: Emulator, mode: Literal["legacy", "auto"]
) -> None:
    async with Client(build_server(settings), mode=mode) as client:
        message = error_text(await client.call_tool("ask_kimi", {"prompt": "hi", "max_token": 5}))
        assert "max_token" in message and "max_tokens" in message
        listed = error_text(await client.call_tool("list_models", {"verbose": True}))
        assert "no arguments" in listed
    assert emulator.requests == []
