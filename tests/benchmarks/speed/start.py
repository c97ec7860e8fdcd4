"""Start-up figures: cold start (spawn to the tools/list answer over stdio) and idle RSS (just after
that answer), kimi-mcp against the bare stdio server (`bare_server.py`).

Both are driven by the same raw JSON-RPC pipe (`bench_overhead.cold_start`), alternating which
goes first each run; each figure is the median of the runs. Nothing is called upstream, so the
base URL points at a closed loopback port.
"""

import os
import statistics
import tempfile
from pathlib import Path

from tests.benchmarks.bench_overhead import cold_start, commands
from tests.benchmarks.speed.figures import Figure, median

TARGET_RATIO = 1.05
NOWHERE = "http://127.0.0.1:9/v1"  # the discard port: a start-up that called Kimi would fail
KEY = "sk-speed-start-0123456789abcdef"


async def measure(quick: bool) -> list[Figure]:
    runs = 3 if quick else 20
    starts: dict[str, list[float]] = {"bare": [], "kimi-mcp": []}
    rss: dict[str, list[float]] = {"bare": [], "kimi-mcp": []}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kimi-speed-start-") as tmp:
        workdir = Path(tmp)
        specs = commands(NOWHERE, KEY, workdir)
        for run in range(runs):
            loads.append(os.getloadavg()[0])
            for name in ("bare", "kimi-mcp") if run % 2 == 0 else ("kimi-mcp", "bare"):
                elapsed, mib = await cold_start(*specs[name], workdir)
                starts[name].append(elapsed * 1000)
                rss[name].append(mib)
    load = statistics.median(loads)
    return [
        _figure("cold start over stdio (spawn to tools/list answer)", "ms", starts, load),
        _figure("idle RSS over stdio (after the tools/list answer)", "MiB", rss, load),
    ]


def _figure(name: str, unit: str, samples: dict[str, list[float]], load: float) -> Figure:
    value, floor = median(samples["kimi-mcp"]), median(samples["bare"])
    return Figure(
        name=name,
        value=value,
        unit=unit,
        target=f"<= {TARGET_RATIO}x bare",
        met=value <= TARGET_RATIO * floor,
        floor=floor,
        floor_name="bare MCPServer with one echo tool over stdio",
        load=load,
        detail={
            "runs": len(samples["bare"]),
            "samples": [round(v, 1) for v in samples["kimi-mcp"]],
            "floor_samples": [round(v, 1) for v in samples["bare"]],
        },
    )
