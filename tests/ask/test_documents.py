"""Documents as context: uploaded once per content, their extracted text sent as system messages."""

from pathlib import Path

import anyio
import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator
from tests.tool_results import chats, error_text, ok

pytestmark = pytest.mark.anyio

UPLOADS = "/v1/files"


def uploads(emulator: Emulator) -> int:
    return len([r for r in emulator.requests if r.path == UPLOADS and r.method == "POST"])


async def test_a_document_question_uploads_once_and_sends_its_text(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "report.txt").write_text("Quarterly revenue grew 42 percent.", encoding="utf-8")
    first = ok(
        await mcp_client.call_tool("ask_kimi", {"prompt": "Sum it up", "files": ["report.txt"]})
    )
    second = ok(
        await mcp_client.call_tool("ask_kimi", {"prompt": "Again", "files": ["report.txt"]})
    )
    assert uploads(emulator) == 1, "the same content was uploaded twice"
    assert first["file_ids"] == second["file_ids"] and len(first["file_ids"]) == 1
    contents = [r for r in emulator.requests if r.path.endswith("/content")]
    assert len(contents) == 1, "the extracted text was not cached"
    system = [m for m in chats(emulator)[-1].json["messages"] if m["role"] == "system"]
    assert len(system) == 1 and "Quarterly revenue grew 42 percent." in system[0]["content"]
    assert first["file_ids"][0] not in system[0]["content"]  # the content, never the id


async def test_documents_stay_in_the_conversation(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "notes.md").write_text("The launch is on Tuesday.", encoding="utf-8")
    first = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "When?", "files": ["notes.md"]}))
    later = ok(
        await mcp_client.call_tool(
            "ask_kimi", {"prompt": "And why?", "conversation_id": first["conversation_id"]}
        )
    )
    assert later["file_ids"] == first["file_ids"]
    messages = chats(emulator)[-1].json["messages"]
    assert messages[0]["role"] == "system" and "launch is on Tuesday" in messages[0]["content"]


async def test_upload_file_reuses_known_content_and_forgets_deleted_files(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("same bytes", encoding="utf-8")
    (workdir / "b.txt").write_text("same bytes", encoding="utf-8")
    one = ok(await mcp_client.call_tool("upload_file", {"path": "a.txt"}))
    two = ok(await mcp_client.call_tool("upload_file", {"path": "b.txt"}))
    assert (one["reused"], two["reused"]) == (False, True) and one["id"] == two["id"]
    assert uploads(emulator) == 1
    ok(await mcp_client.call_tool("delete_file", {"file_id": one["id"]}))
    three = ok(await mcp_client.call_tool("upload_file", {"path": "a.txt"}))
    assert three["reused"] is False and three["id"] != one["id"] and uploads(emulator) == 2


async def test_a_file_deleted_elsewhere_is_uploaded_again(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("content", encoding="utf-8")
    one = ok(await mcp_client.call_tool("upload_file", {"path": "a.txt"}))
    emulator.files.pop(one["id"])  # gone from Kimi without our delete_file
    two = ok(await mcp_client.call_tool("upload_file", {"path": "a.txt"}))
    assert two["reused"] is False and two["id"] != one["id"]


async def test_documents_outside_the_allowed_dirs_are_refused_before_asking(
    mcp_client: Client, emulator: Emulator
) -> None:
    message = error_text(
        await mcp_client.call_tool("ask_kimi", {"prompt": "x", "files": ["/etc/hosts"]})
    )
    assert "outside the allowed directories" in message
    assert chats(emulator) == [] and uploads(emulator) == 0


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def test_images_go_as_data_urls_to_a_vision_model(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "dot.png").write_bytes(PNG)
    ok(await mcp_client.call_tool("ask_kimi", {"prompt": "What is it?", "images": ["dot.png"]}))
    question = chats(emulator)[-1].json["messages"][-1]
    assert question["content"][0] == {"type": "text", "text": "What is it?"}
    url = question["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")


async def test_images_to_a_model_without_vision_are_refused_before_sending(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "dot.png").write_bytes(PNG)
    args = {"prompt": "x", "images": ["dot.png"], "model": "moonshot-v1-8k"}
    assert "cannot see images" in error_text(await mcp_client.call_tool("ask_kimi", args))
    (workdir / "vector.svg").write_text("<svg/>", encoding="utf-8")
    svg = {"prompt": "x", "images": ["vector.svg"]}
    assert "not an image type" in error_text(await mcp_client.call_tool("ask_kimi", svg))
    assert chats(emulator) == []


async def test_an_image_upload_is_shown_by_its_ms_id(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "dot.png").write_bytes(PNG)
    upload = ok(await mcp_client.call_tool("upload_file", {"path": "dot.png", "purpose": "image"}))
    url = f"ms://{upload['id']}"
    ok(await mcp_client.call_tool("ask_kimi", {"prompt": "What is it?", "images": [url]}))
    question = chats(emulator)[-1].json["messages"][-1]
    assert question["content"][1] == {"type": "image_url", "image_url": {"url": url}}


async def test_an_ms_id_that_is_not_an_image_upload_is_refused_before_sending(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "notes.txt").write_text("not a picture", encoding="utf-8")
    document = ok(await mcp_client.call_tool("upload_file", {"path": "notes.txt"}))
    wrong = {"prompt": "x", "images": [f"ms://{document['id']}"]}
    assert "purpose 'image'" in error_text(await mcp_client.call_tool("ask_kimi", wrong))
    odd = {"prompt": "x", "images": ["ms://../users/me/balance"]}
    assert "not an ms://<file_id>" in error_text(await mcp_client.call_tool("ask_kimi", odd))
    assert chats(emulator) == []


async def test_oversized_images_are_refused_before_sending(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    """One image over 20 MB, or inline images adding up past what fits in Kimi's 100 MB
    request once base64-encoded: a clear error, nothing sent."""
    mib = 1024 * 1024
    for name, size in (("huge.png", 21 * mib), *((f"big{n}.png", 19 * mib) for n in range(4))):
        with (workdir / name).open("wb") as handle:
            handle.truncate(size)  # sparse: no disk blocks
    one = {"prompt": "x", "images": ["huge.png"]}
    assert "at most 20 MB" in error_text(await mcp_client.call_tool("ask_kimi", one))
    many = {"prompt": "x", "images": [f"big{n}.png" for n in range(4)]}
    message = error_text(await mcp_client.call_tool("ask_kimi", many))
    assert "100 MB request limit" in message and "ms://" in message
    assert chats(emulator) == []


async def test_concurrent_uploads_of_the_same_new_file_upload_it_once(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    (workdir / "shared.txt").write_text("the same bytes, asked for twice at once", encoding="utf-8")
    results: list[dict[str, object]] = []

    async def upload() -> None:
        results.append(ok(await mcp_client.call_tool("upload_file", {"path": "shared.txt"})))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(upload)
    assert uploads(emulator) == 1
    assert len({r["id"] for r in results}) == 1
    assert sorted(bool(r["reused"]) for r in results) == [False, True, True]
