"""The speed benchmark of issue 13: every figure, its floor measured in the same run, the ratio,
the target and the verdict, with the machine's load beside each; then a JSON file of it all.

Run on purpose, from the repository root (not part of the test suite):

    .venv/bin/python -m tests.benchmarks.bench_speed [--quick] [--json PATH] [--only NAME[,NAME]]

Each module of tests/benchmarks/speed/ with `async def measure(quick) -> list[Figure]` is one
part; a part not written yet is reported as "not measured". The exit status is 0 even when a
target is missed: this is a measurement, not a test (the last line says how many were met).
"""

import argparse
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from tests.benchmarks.speed.figures import Figure

# Every part of the table, in the order printed; the owner writes each module.
PARTS = (
    "start",
    "stdio_calls",
    "progress",
    "token_counts",
    "tool_list",
    "http_calls",  # not "http": speed/ holds scripts run by path, which would shadow the stdlib
    "conversations",
    "upload",
    "tool_rounds",
)
PACKAGE = "tests.benchmarks.speed"
HERE = Path(__file__).resolve().parent / "speed"
Measure = Callable[[bool], Awaitable[list[Figure]]]


@dataclass
class Outcome:
    """What one part gave: its figures, or why it gave none."""

    part: str
    figures: list[Figure] = field(default_factory=list)
    missing: str | None = None  # "not measured" (no module yet) or the error that stopped it
    seconds: float = 0.0


def all_parts() -> list[str]:
    """The issue's parts, then any other module of the package that defines `measure` (read as
    text: helpers are not imported for nothing)."""
    found = sorted(
        path.stem
        for path in HERE.glob("*.py")
        if "async def measure(" in path.read_text(encoding="utf-8")
    )
    return [*PARTS, *(name for name in found if name not in PARTS)]


def find(part: str) -> Measure | None:
    """The part's `measure`, or None when its module does not exist (yet)."""
    try:
        module = importlib.import_module(f"{PACKAGE}.{part}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{PACKAGE}.{part}":
            raise  # the module exists but imports something missing: that is a failure
        return None
    measure: Measure | None = getattr(module, "measure", None)
    return measure


async def run_part(part: str, quick: bool) -> Outcome:
    """One part, timed; a part that fails is reported as such and the others still run."""
    started = time.perf_counter()
    try:
        measure = find(part)
        if measure is None:
            return Outcome(part, missing="not measured")
        figures = await measure(quick)
    except Exception as exc:  # one broken part must not hide the figures of the others
        traceback.print_exc()
        return Outcome(part, missing=f"failed: {type(exc).__name__}: {exc}")
    return Outcome(part, figures, seconds=time.perf_counter() - started)


def table(outcomes: list[Outcome]) -> str:
    """One row per figure: figure, value, floor (name and value), ratio, target, met, load."""
    head = ("figure", "value", "floor", "ratio", "target", "met", "load")
    rows = [head]
    for outcome in outcomes:
        if outcome.missing:
            rows.append((f"[{outcome.part}] {outcome.missing}", "", "", "", "", "-", ""))
        for f in outcome.figures:
            floor = f"{f.floor_name} {_number(f.floor)}" if f.floor is not None else "-"
            ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
            met = "yes" if f.met else "NO"
            rows.append(
                (
                    f.name,
                    f"{_number(f.value)} {f.unit}",
                    floor,
                    ratio,
                    f.target,
                    met,
                    f"{f.load:.2f}",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def summary(outcomes: list[Outcome]) -> str:
    figures = [f for o in outcomes for f in o.figures]
    missing = [o.part for o in outcomes if o.missing]
    line = f"{sum(f.met for f in figures)} of {len(figures)} targets met"
    return line + (f"; no figures from: {', '.join(missing)}" if missing else "")


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def report(outcomes: list[Outcome], facts: dict[str, Any]) -> dict[str, Any]:
    """The JSON file's content: the machine, then each part and its figures."""
    parts = [
        {
            "part": o.part,
            "missing": o.missing,
            "seconds": round(o.seconds, 2),
            "figures": [_finite(f.as_json()) for f in o.figures],
        }
        for o in outcomes
    ]
    return {"machine": facts, "summary": summary(outcomes), "parts": parts}


def _finite(data: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity: such a value is written as null (the smoke test sees it)."""
    return {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in data.items()
    }


async def main(quick: bool, json_path: Path, only: list[str]) -> None:
    facts = machine() | {"quick": quick, "load_before": os.getloadavg()}
    outcomes = []
    for part in only or all_parts():
        print(f"measuring {part}...", file=sys.stderr, flush=True)
        outcomes.append(await run_part(part, quick))
    facts["load_after"] = os.getloadavg()
    print(table(outcomes))
    before, after = _loads(facts["load_before"]), _loads(facts["load_after"])
    print(f"load (1/5/15 min) before {before}, after {after}")
    print(summary(outcomes))
    text = json.dumps(report(outcomes, facts), indent=2, default=str) + "\n"
    await anyio.Path(json_path).write_text(text)
    print(f"written to {json_path}")


def _loads(loads: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.2f}" for value in loads)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few iterations (the smoke test)")
    parser.add_argument(
        "--json", type=Path, default=Path("speed.json"), help="results file (default speed.json)"
    )
    parts = all_parts()
    parser.add_argument("--only", default="", help=f"comma-separated parts of: {', '.join(parts)}")
    options = parser.parse_args(argv)
    options.only = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = sorted(set(options.only) - set(parts))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}; the parts are {', '.join(parts)}")
    return options


if __name__ == "__main__":
    options = parse()
    anyio.run(main, options.quick, options.json, options.only)
