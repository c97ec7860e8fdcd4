"""Ids in URL paths: one rule (kimi.paths) for every KimiClient method that builds a path."""

from collections.abc import AsyncIterator

import anyio
import pytest
from pydantic import SecretStr

from kimi_mcp.emulator import Emulator
from kimi_mcp.errors import InputError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.paths import FILE_ID, checked_id, id_path
from tests.conftest import CANARY_KEY, USER_AGENT

pytestmark = pytest.mark.anyio

HOSTILE_IDS = [
    "x/../../../../admin?",
    "..",
    ".",
    ".hidden",
    "a/b",
    "a%2F..%2Fadmin",
    "a?b=1",
    "a#b",
    "a b",
    "a\r\nHost: evil",
    "é",
    "",
    "x" * 129,
]


@pytest.fixture
async def kimi(emulator_url: str) -> AsyncIterator[KimiClient]:
    client = KimiClient(user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=emulator_url)
    yield client
    await client.aclose()


@pytest.mark.parametrize("file_id", HOSTILE_IDS)
async def test_file_ids_that_leave_the_files_path_are_refused_before_sending(
    kimi: KimiClient, emulator: Emulator, file_id: str
) -> None:
    deadline = anyio.current_time() + 10
    for call in (kimi.file_info, kimi.file_content, kimi.delete_file):
        with pytest.raises(InputError) as refused:
            await call(file_id, deadline=deadline)
        assert f"a file id is {FILE_ID.looks_like}" in str(refused.value)
        assert "Nothing was sent" in str(refused.value)
    assert emulator.requests == []


async def test_real_file_ids_still_reach_their_file(kimi: KimiClient, emulator: Emulator) -> None:
    deadline = anyio.current_time() + 10
    uploaded = await kimi.upload_file("a.txt", b"hello", "file-extract", deadline=deadline)
    assert (await kimi.file_info(uploaded.id, deadline=deadline)).id == uploaded.id
    assert emulator.requests[-1].path == f"/v1/files/{uploaded.id}"


@pytest.mark.parametrize("file_id", ["co3t989kqq4ua4e78urg", "file-abc_1.2", "A" * 128])
def test_the_rule_accepts_the_usual_id_shapes(file_id: str) -> None:
    assert checked_id(file_id) == file_id
    assert id_path("/files", file_id, "/content") == f"/files/{file_id}/content"


def test_a_long_refused_id_is_shown_cut_short() -> None:
    with pytest.raises(InputError) as refused:
        checked_id("../" * 1000)
    assert len(str(refused.value)) < 400
