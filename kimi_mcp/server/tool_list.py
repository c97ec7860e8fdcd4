"""tools/list without the tools: the compact list every tool compacts to, checked in as
`tool_list.json` (in `TOOL_NAMES` order) and filtered by the tools the settings offer.

A start-up then imports no tool, result model or service (issue 13: cold start within 1.05x of
a bare SDK server); the real tools are registered on the first call that needs them. No tool's
description or schema depends on the settings: they choose which tools, never what a tool says.
A test proves the file equals what the live tools compact to (`tool_snapshot`, which also
rewrites it).
"""

import functools
import json
from collections.abc import Iterable
from pathlib import Path

from mcp.types import Tool

SNAPSHOT = Path(__file__).with_name("tool_list.json")


def listed(names: Iterable[str]) -> list[Tool]:
    """The snapshot's tools that `names` names, in its (the fixed) order."""
    return list(_listed(frozenset(names)))


@functools.cache  # read once per set of names: HTTP lists the tools once per session
def _listed(names: frozenset[str]) -> tuple[Tool, ...]:
    entries = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    return tuple(Tool.model_validate(entry) for entry in entries if entry["name"] in names)
