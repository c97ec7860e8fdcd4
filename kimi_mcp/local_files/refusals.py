"""The guard's refusals as a caller reads them: the path echoed safely, the reason, what to do."""

import errno

_SHOWN_MAX = 200  # characters of a path echoed in a message


def shown_path(raw: str) -> str:
    """`raw` as a message may echo it: control characters escaped, long paths shortened."""
    text = raw if raw.isprintable() else repr(raw)
    if len(text) > _SHOWN_MAX:
        text = f"{text[:120]}...{text[-60:]} ({len(raw)} characters)"
    return text


def none_allowed(raw: str, why: str) -> str:
    because = f" ({why})" if why else ""
    return (
        f"Refused: {shown_path(raw)} was not read: no directory is allowed for local "
        f"files{because}. "
        "Ask the user to allow the folder that holds it, with --allow-dir PATH, allowed_dirs in "
        "the config file or KIMI_MCP_ALLOWED_DIRS, and restart the server; files uploaded "
        "already can be passed as file_ids."
    )


def changed(raw: str) -> str:
    return f"Refused: a link in {shown_path(raw)} changed while it was checked. Try again."


def open_failure(raw: str, exc: OSError) -> str:
    shown = shown_path(raw)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"No such file: {shown}. Check the path (list the directory first)."
    if exc.errno == errno.ELOOP:
        return changed(raw)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"Permission denied reading {shown}."
    if exc.errno in (errno.ENXIO, errno.ENODEV):  # what opening a Unix socket answers
        return f"Refused: {shown} is not a regular file (a socket or device)."
    if exc.errno == errno.EISDIR:
        return f"Refused: {shown} is a directory, not a file."
    if exc.errno == errno.ENAMETOOLONG:
        return f"Refused: {shown} is too long for a file name or path; check the path."
    return f"Cannot open {shown}: {exc.strerror}."


def megabytes(size: int) -> str:
    return f"{size // (1024 * 1024)} MB"
