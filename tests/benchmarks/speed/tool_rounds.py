"""What kimi-mcp's tool loop adds per round: ask_kimi with kimi_tools=["web-search"] and the
web_search tool, against the calls it makes upstream, replayed straight to the emulator.

The emulator's tool model searches when asked ("search for <q>"; ", then " makes another round:
README, the emulator). Floor: the chat streams and fiber calls kimi-mcp sent for that very call,
replayed in order with httpx2, same bodies (overhead = median kimi-mcp call - median replay).
Per tool round, the figure is what a round adds beyond its own chat and fiber calls: the same
ask_kimi (tools declared) asked something that needs no search, 0 rounds, is the fixed part, so
(overhead - overhead(0 rounds)) / rounds. The whole call's overhead per round is in the detail:
it holds the fixed cost of any MCP call and any ask_kimi (stdio_calls measures those), which a
one-round web_search would pay in full, so it cannot be a per-round figure.
Requests kimi-mcp makes beyond chats and fibers (a Formula's declarations, token counts) are its
own cost, counted in the detail.
"""

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from tests.benchmarks.speed.figures import Figure
from tests.benchmarks.speed.harness import (
    Sent,
    Upstream,
    Variant,
    interleaved,
    kimi_params,
    stdio_client,
    structured,
    upstream,
)

PER_ROUND_MS = 1.0
ROUNDS = 3
ASK = ", then ".join(f"search for topic {n}" for n in range(ROUNDS))


async def measure(quick: bool) -> list[Figure]:
    rounds, warm_up = (5, 1) if quick else (60, 5)
    async with upstream() as up, stdio_client(kimi_params(up)) as (kimi, pid):
        ask_args = {"prompt": ASK, "thinking": False, "kimi_tools": ["web-search"]}
        plain_args = ask_args | {"prompt": "answer without searching"}
        search_args = {"query": "search for kimi-mcp"}
        ask, direct_ask, ask_seen = _pair(up, pid, lambda: kimi.call_tool("ask_kimi", ask_args))
        plain, direct_plain, _ = _pair(up, pid, lambda: kimi.call_tool("ask_kimi", plain_args))
        search, direct_search, search_seen = _pair(
            up, pid, lambda: kimi.call_tool("web_search", search_args)
        )
        variants = {
            "ask": ask,
            "direct_ask": direct_ask,
            "plain": plain,
            "direct_plain": direct_plain,
            "search": search,
            "direct_search": direct_search,
        }
        samples = await interleaved(variants, rounds, warm_up)
    m = samples.medians()
    return [
        _per_round("ask_kimi with kimi_tools", "ask", m, ask_seen, rounds, samples.cpu_ms),
        _per_round("web_search", "search", m, search_seen, rounds, samples.cpu_ms),
    ]


def _pair(
    up: Upstream, pid: int, call: Callable[[], Awaitable[Any]]
) -> tuple[Variant, Variant, dict[str, Any]]:
    """The call through kimi-mcp, and its floor: replaying the chats and fibers it just sent.
    `seen` keeps the last call's upstream requests by path and its tool rounds."""
    sent: list[Sent] = []
    seen: dict[str, Any] = {}

    async def through_kimi() -> None:
        seen["result"] = structured(await call())

    async def capture() -> None:  # untimed
        requests = await up.sent()
        sent[:] = [r for r in requests if _replayed(r)]
        seen["requests"] = dict(Counter(r.path.rsplit("/", 1)[-1] for r in requests))
        seen["rounds"] = seen["result"].get("tool_rounds") or _rounds(requests)

    async def direct() -> None:
        for request in sent:
            await up.replay(request)

    kimi = Variant(through_kimi, before=up.reset, after=capture, cpu_of=pid)
    return kimi, Variant(direct, before=up.reset), seen


def _per_round(
    name: str,
    variant: str,
    m: dict[str, float],
    seen: dict[str, Any],
    calls: int,
    cpu: dict[str, float],
) -> Figure:
    """(overhead of the call - overhead of the same ask with no round) / rounds, where overhead
    is the call through kimi-mcp less its chats and fibers replayed: what a round adds beyond
    its own upstream calls. The whole call's overhead per round (the fixed cost of any MCP call
    and any ask_kimi included) is kept in the detail."""
    rounds = int(seen["rounds"])
    fixed = m["plain"] - m["direct_plain"]
    overhead = m[variant] - m[f"direct_{variant}"]
    per_round = (overhead - fixed) / rounds
    return Figure(
        f"{name}: kimi-mcp's own cost per tool round",
        per_round,
        "ms",
        f"<= {PER_ROUND_MS:.0f} ms over the round's chat and fiber calls",
        per_round <= PER_ROUND_MS,
        (m[f"direct_{variant}"] - m["direct_plain"]) / rounds,
        "direct chat and fiber calls a round adds",
        detail={
            "medians_ms": m,
            "tool_rounds": rounds,
            "overhead_without_rounds_ms": fixed,
            "whole_call_overhead_per_round_ms": overhead / rounds,
            "upstream_requests_per_call": seen["requests"],
            "calls_each": calls,
            "kimi_mcp_cpu_ms_per_call": cpu,
            "kimi_mcp_cpu_ms_per_round": (cpu[variant] - cpu["plain"]) / rounds,
        },
    )


def _replayed(request: Sent) -> bool:
    return request.path.endswith(("/chat/completions", "/fibers"))


def _rounds(requests: list[Sent]) -> int:
    """Tool rounds: chat calls after the first (each follows a round of fibers)."""
    return sum(r.path.endswith("/chat/completions") for r in requests) - 1
