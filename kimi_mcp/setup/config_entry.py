"""The `kimi` entry every client config holds: its name, what an edit did, and the refusals both
config formats share."""

import json
from pathlib import Path
from typing import Literal

from kimi_mcp.errors import KimiError

ENTRY_NAME = "kimi"
Outcome = Literal["added", "replaced", "unchanged", "removed", "absent"]


class InstallError(KimiError):
    """Install or uninstall refused; the message says why and what to do. Nothing was written."""


def refuse_different(path: Path, existing: object) -> InstallError:
    command = existing.get("command") if isinstance(existing, dict) else None
    shown = f" (command {json.dumps(command)})" if isinstance(command, str) else ""
    return InstallError(
        f"{path} already has a different '{ENTRY_NAME}' entry{shown}; nothing was changed. "
        "Rerun with --force to replace it (the file is backed up first)."
    )
