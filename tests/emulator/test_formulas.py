"""The emulator's Formula API (kimi-api.md section 2.8) over loopback HTTP: declarations, fibers."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from kimi_mcp.emulator import Emulator, Fault, serve_emulator

pytestmark = pytest.mark.anyio

KEY = "sk-emulator-key"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


EMULATOR = Emulator()
FIBERS = "/v1/formulas/moonshot/fetch:latest/fibers"
FETCH = {"name": "fetch", "arguments": '{"url": "https://example.org/a"}'}


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with serve_emulator(EMULATOR) as url:
        auth = {"Authorization": f"Bearer {KEY}"}
        async with httpx2.AsyncClient(base_url=url, headers=auth, timeout=5) as client:
            yield client


async def _fiber(http: httpx2.AsyncClient, uri: str, name: str, args: Any) -> dict[str, Any]:
    body = {"name": name, "arguments": json.dumps(args)}
    response = await http.post(f"/formulas/{uri}/fibers", json=body)
    assert response.status_code == 200, response.text
    fiber: dict[str, Any] = response.json()
    assert fiber["object"] == "fiber" and fiber["formula"] == uri
    assert fiber["context"]["input"] == json.dumps(body)
    return fiber


@pytest.mark.parametrize(
    ("uri", "name"),
    [
        ("moonshot/web-search:latest", "web_search"),
        ("moonshot/fetch:latest", "fetch"),
        ("moonshot/code_runner:latest", "code_runner"),
        ("moonshot/date:latest", "date"),
    ],
)
async def test_formula_tools_declare_one_function_tool(
    http: httpx2.AsyncClient, uri: str, name: str
) -> None:
    response = await http.get(f"/formulas/{uri}/tools")
    assert response.status_code == 200, (response.url, response.text)
    body = response.json()
    assert body["object"] == "list"
    [tool] = body["tools"]
    assert tool["type"] == "function" and tool["function"]["name"] == name
    assert tool["function"]["parameters"]["type"] == "object"


async def test_formula_tag_defaults_to_latest(http: httpx2.AsyncClient) -> None:
    response = await http.get("/formulas/moonshot/fetch/tools")
    assert response.json()["tools"][0]["function"]["name"] == "fetch"


async def test_unknown_formula_is_not_found(http: httpx2.AsyncClient) -> None:
    response = await http.get("/formulas/moonshot/nope:latest/tools")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "resource_not_found_error"


async def test_formula_routes_need_the_key(http: httpx2.AsyncClient) -> None:
    url = "/formulas/moonshot/fetch:latest/tools"
    response = await http.get(url, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


async def test_web_search_fiber_output_is_encrypted(http: httpx2.AsyncClient) -> None:
    fiber = await _fiber(http, "moonshot/web-search:latest", "web_search", {"query": "kimi k2"})
    assert fiber["status"] == "succeeded" and "output" not in fiber["context"]
    sealed = fiber["context"]["encrypted_output"]
    assert sealed.startswith("----MOONSHOT ENCRYPTED BEGIN----")
    assert sealed.endswith("----MOONSHOT ENCRYPTED END----")


async def test_fetch_fiber_returns_markdown(http: httpx2.AsyncClient) -> None:
    fiber = await _fiber(http, "moonshot/fetch:latest", "fetch", {"url": "https://example.org/a"})
    assert fiber["status"] == "succeeded"
    assert fiber["context"]["output"].startswith("# ")
    assert "https://example.org/a" in fiber["context"]["output"]


async def test_code_runner_fiber_computes_printed_arithmetic(http: httpx2.AsyncClient) -> None:
    fiber = await _fiber(
        http, "moonshot/code_runner:latest", "code_runner", {"code": "print(17*23)"}
    )
    assert fiber["status"] == "succeeded" and fiber["context"]["output"] == "391\n"


async def test_code_runner_never_executes_other_code(http: httpx2.AsyncClient) -> None:
    code = "import os\nprint(os.getcwd())"
    fiber = await _fiber(http, "moonshot/code_runner:latest", "code_runner", {"code": code})
    assert fiber["status"] == "failed" and "could not run" in fiber["context"]["output"]


async def test_date_fiber_answers_a_date(http: httpx2.AsyncClient) -> None:
    fiber = await _fiber(http, "moonshot/date:latest", "date", {"operation": "now"})
    assert fiber["status"] == "succeeded" and fiber["context"]["output"] == "2026-01-15"


async def test_fiber_with_wrong_function_name_is_rejected(http: httpx2.AsyncClient) -> None:
    body = {"name": "web_search", "arguments": "{}"}
    response = await http.post("/formulas/moonshot/fetch:latest/fibers", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_fiber_with_non_json_arguments_is_rejected(http: httpx2.AsyncClient) -> None:
    body = {"name": "fetch", "arguments": "{not json"}
    response = await http.post("/formulas/moonshot/fetch:latest/fibers", json=body)
    assert response.status_code == 400


async def test_fiber_fault_answers_a_server_error(http: httpx2.AsyncClient) -> None:
    EMULATOR.inject(Fault("error", path=FIBERS, status=503, error_type="server_unavailable"))
    response = await http.post(FIBERS.removeprefix("/v1"), json=FETCH)
    assert response.status_code == 503
    assert (await http.post(FIBERS.removeprefix("/v1"), json=FETCH)).status_code == 200


async def test_fiber_fault_answers_a_failed_fiber(http: httpx2.AsyncClient) -> None:
    failed = {"id": "fiber-x", "object": "fiber", "status": "failed", "error": "runner crashed"}
    EMULATOR.inject(Fault("raw", path=FIBERS, status=200, body=json.dumps(failed)))
    response = await http.post(FIBERS.removeprefix("/v1"), json=FETCH)
    assert response.status_code == 200
    assert response.json()["status"] == "failed" and response.json()["error"] == "runner crashed"


async def test_slow_fiber_still_answers(http: httpx2.AsyncClient) -> None:
    EMULATOR.inject(Fault("slow", path=FIBERS, delay=0.05))
    response = await http.post(FIBERS.removeprefix("/v1"), json=FETCH)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
