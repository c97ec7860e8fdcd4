"""How long reading an answer's sources takes for hostile answers, as a ratio to a plain answer
of the same size measured in the same run (the floor). A stream may carry 16 MiB of answer and
this runs on the event loop, so a hostile answer must cost about what a plain one does: before
the linear-time pattern, 8 MB of `[` took about 28 s (a ratio in the hundreds).

    .venv/bin/python tests/benchmarks/bench_sources.py
"""

import time

from kimi_mcp.ask.sources import cited_sources

SIZE = 8_000_000
HOSTILE = {
    "brackets": "[" * SIZE,
    "open links": "[a](" * (SIZE // 4),
    "open urls": "http://(" * (SIZE // 8),
}


def _seconds(text: str, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        cited_sources(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    floor = _seconds("plain words, no links at all. " * (SIZE // 30))
    print(f"floor (plain {SIZE / 1e6:.0f} MB answer): {floor * 1000:.1f} ms")
    for name, text in HOSTILE.items():
        seconds = _seconds(text)
        print(f"{name:>10}: {seconds * 1000:.1f} ms, ratio {seconds / floor:.2f} (target <= 10)")


if __name__ == "__main__":
    main()
