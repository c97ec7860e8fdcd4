"""What the emulator's tool tests share: the Formula declarations, a chat call, and a client's
tool loop that runs each call as a fiber and feeds the result back (kimi-api.md section 2.8)."""

import json
from typing import Any

import httpx2

from kimi_mcp.emulator.formulas import TOOLS

FORMULA_OF = {tool["function"]["name"]: uri for uri, tool in TOOLS.items()}
ALL_TOOLS = list(TOOLS.values())


def ask(text: str, model: str = "kimi-k2.6", **extra: Any) -> dict[str, Any]:
    """A chat body with one user message; thinking off unless `extra` says otherwise."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    body["tools"] = ALL_TOOLS
    if model in ("kimi-k2.5", "kimi-k2.6") and "thinking" not in extra:
        body["thinking"] = {"type": "disabled"}
    return body | extra


async def chat(http: httpx2.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    choice: dict[str, Any] = response.json()["choices"][0]
    return choice


async def run_fiber(http: httpx2.AsyncClient, call: dict[str, Any]) -> str:
    """The tool message content of one call: the fiber's output, encrypted or plain."""
    uri, function = FORMULA_OF[call["function"]["name"]], call["function"]
    body = {"name": function["name"], "arguments": function["arguments"]}
    response = await http.post(f"/formulas/{uri}/fibers", json=body)
    assert response.status_code == 200, response.text
    context = response.json()["context"]
    output: str = context.get("encrypted_output") or context["output"]
    return output


async def tool_loop(
    http: httpx2.AsyncClient, body: dict[str, Any], max_rounds: int = 5
) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """Chat until the model stops calling tools (at most `max_rounds` rounds): the last choice
    and the calls of each round."""
    rounds: list[list[dict[str, Any]]] = []
    for _ in range(max_rounds):
        choice = await chat(http, body)
        if choice["finish_reason"] != "tool_calls":
            return choice, rounds
        calls = choice["message"]["tool_calls"]
        rounds.append(calls)
        results = [
            {"role": "tool", "tool_call_id": call["id"], "content": await run_fiber(http, call)}
            for call in calls
        ]
        body = body | {"messages": [*body["messages"], choice["message"], *results]}
    raise AssertionError(f"still calling tools after {max_rounds} rounds")


def arguments(call: dict[str, Any]) -> Any:
    return json.loads(call["function"]["arguments"])
