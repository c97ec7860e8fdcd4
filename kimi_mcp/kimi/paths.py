"""Ids that become part of a URL path: checked by one rule, then percent-encoded.

An id is put into the path of a request that carries the account key, so an id such as
`x/../../admin?` would send that key to any path of the API host. Every `KimiClient` method that
builds a path from an id goes through `id_path`; the tools check their arguments with the same
`checked_id` first, so the model gets the rule before anything is sent.
"""

import re
from dataclasses import dataclass
from urllib.parse import quote

from kimi_mcp.errors import InputError

SHOWN_CHARS = 60  # of a refused id, quoted back so the model sees what it sent


@dataclass(frozen=True)
class IdRule:
    """What one kind of id looks like; `pattern` must match the whole id."""

    name: str
    pattern: str
    looks_like: str

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


# Kimi's ids are 20 lower-case alphanumerics today (kimi-api.md 2.5) but documented as opaque:
# allow the usual id alphabet, never a leading '.', so '.' and '..' can never be a path segment.
FILE_ID = IdRule(
    "file id",
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}",
    "1 to 128 letters, digits, '_', '-' or '.', starting with a letter or digit, as upload_file "
    "and list_files return them (e.g. co3t989kqq4ua4e78urg)",
)


def checked_id(value: str, rule: IdRule = FILE_ID) -> str:
    """`value` if it is an id of `rule`'s kind; otherwise an InputError saying what one looks like.

    Raises:
        InputError: `value` does not match the rule.
    """
    if not rule.matches(value):
        shown = value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "..."
        raise InputError(
            f"{shown!r} is not a {rule.name}: a {rule.name} is {rule.looks_like}. Nothing was "
            "sent to Kimi."
        )
    return value


def id_path(prefix: str, value: str, suffix: str = "", rule: IdRule = FILE_ID) -> str:
    """`prefix/<value>suffix` with `value` checked and percent-encoded as one path segment."""
    return f"{prefix}/{quote(checked_id(value, rule), safe='')}{suffix}"


# A Formula URI `moonshot/<name>:<tag>` (kimi-api.md 2.8) goes into the path as it is written:
# its '/' and ':' are part of the documented URL, so the rule admits nothing else.
FORMULA_URI = IdRule(
    "Formula URI",
    r"[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_-]{0,63}:[a-z0-9][a-z0-9._-]{0,31}",
    "<namespace>/<name>:<tag>, e.g. moonshot/web-search:latest",
)


def formula_path(uri: str, endpoint: str) -> str:
    """`/formulas/<uri>/<endpoint>` for a checked Formula URI."""
    return f"/formulas/{checked_id(uri, FORMULA_URI)}/{endpoint}"
