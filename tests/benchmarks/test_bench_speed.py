"""The speed benchmark runs, so it never rots: `--quick` into a temp JSON file, then every part
that exists gave finite figures, floors where it promised them and a verdict. The verdicts
themselves are not asserted: timing is a measurement, not a unit test."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks import bench_speed

ROOT = Path(__file__).resolve().parents[2]
# The parts this module's owner wrote, and the figures each promises with a floor.
FLOORED = {
    "stdio_calls": 4,
    "progress": 2,
    "upload": 1,
    "tool_rounds": 2,  # ask_kimi with kimi_tools, and web_search
}


@pytest.mark.slow
def test_the_quick_benchmark_measures_every_part_it_has(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    command = [sys.executable, "-m", "tests.benchmarks.bench_speed", "--quick", "--json", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.read_text())
    parts = {part["part"]: part for part in report["parts"]}
    assert list(parts) == bench_speed.all_parts()
    for name, part in parts.items():
        if bench_speed.find(name) is None:
            assert part["missing"] == "not measured" and not part["figures"]
            continue
        assert part["missing"] is None, part["missing"]
        assert part["figures"], f"{name} reported no figure"
        for figure in part["figures"]:
            _assert_measured(figure)
    for name, floored in FLOORED.items():
        floors = [f for f in parts[name]["figures"] if f["floor"] is not None]
        assert len(floors) >= floored, f"{name}: {len(floors)} floors, promised {floored}"
    met = sum(f["met"] for part in parts.values() for f in part["figures"])
    total = sum(len(part["figures"]) for part in parts.values())
    assert f"{met} of {total} targets met" in done.stdout
    assert report["machine"]["cpu_count"] and report["machine"]["load_before"]


def _assert_measured(figure: dict[str, object]) -> None:
    name = figure["name"]
    assert _finite(figure["value"]), name
    assert isinstance(figure["met"], bool), name
    assert figure["target"] and figure["unit"], name
    if figure["floor"] is not None:
        assert _finite(figure["floor"]) and figure["ratio"] is not None, name
        assert _finite(figure["ratio"]), name
        assert figure["floor_name"], name
    assert _finite(figure["load"]), name


def _finite(value: object) -> bool:
    """A number (not a bool, not NaN or infinity: the JSON file writes those as null)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
