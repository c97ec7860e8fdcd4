"""Why no local file may be read: said in the start-up warning (`build.log_file_access`) and in
each refusal of the path guard (`services.guard_for`), in the same words."""

import os
from pathlib import Path

from kimi_mcp.config import Settings, too_broad


def why_none_allowed(settings: Settings) -> str:
    if settings.allowed_dirs:
        return ""
    if "allowed_dirs" in settings.model_fields_set:
        return "allowed_dirs is set to an empty list"
    try:
        working = Path(os.path.realpath(Path.cwd()))
    except OSError:  # started in a directory that was deleted since
        return "the working directory the server was started in no longer exists"
    reason = too_broad(working) or "not a usable directory"
    return f"the server was started in {working}, {reason}, which is never allowed by default"
