"""`kimi-mcp doctor`: is my setup right? One line per check (ok / warn / fail / skip) and, for
each that is not ok, what to do. Exit 0 when nothing fails.

The calls to Kimi (the model list and the balance) run at once, beside the store check, each
within NETWORK_SECONDS. Only after a 401 is the key tried on the other region's host: keys are
per platform, and "your key belongs to the other platform" is the commonest wrong setup.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import anyio

from kimi_mcp.config import REGION_BASE_URLS, Settings, too_broad
from kimi_mcp.errors import (
    ConfigError,
    StoreError,
)
from kimi_mcp.setup.clients import Roots
from kimi_mcp.setup.doctor_kimi import Check, Probe, api_checks, base_url_check
from kimi_mcp.setup.install import installed_clients
from kimi_mcp.setup.show_config import TracedSettings, load_traced, mask
from kimi_mcp.store.open import open_stores

ALLOW_ONE = (
    "allow one with --allow-dir PATH, allowed_dirs in the config file or KIMI_MCP_ALLOWED_DIRS"
)


async def diagnose(flags: dict[str, Any], probe: Probe | None = None) -> list[Check]:
    probe = probe or Probe(REGION_BASE_URLS)
    try:
        traced = load_traced(flags)
    except ConfigError as exc:
        fix = "Fix the setting it names, then run kimi-mcp doctor again."
        return [Check("config", "fail", str(exc), fix)]
    settings = traced.settings
    checks = [_config_check(traced), _key_check(traced), base_url_check(settings, probe)]
    results: dict[str, list[Check]] = {}

    async def run(name: str, job: Callable[[], Awaitable[list[Check]]]) -> None:
        results[name] = await job()

    async with anyio.create_task_group() as group:
        group.start_soon(run, "api", lambda: api_checks(settings, probe))
        group.start_soon(run, "store", lambda: _store_checks(settings))
    return [
        *checks,
        *results["api"],
        *_allowed_dir_checks(settings),
        *results["store"],
        _clients_check(probe.clients),
    ]


def _config_check(traced: TracedSettings) -> Check:
    if traced.config_file is None:
        return Check("config", "ok", "no config file (optional): environment and defaults apply")
    return Check("config", "ok", f"{traced.config_file} read, every setting valid")


def _key_check(traced: TracedSettings) -> Check:
    key = traced.settings.api_key
    if key is None:
        return Check(
            "api key",
            "fail",
            "no key: every tool that calls Kimi will answer an error",
            "Set MOONSHOT_API_KEY (from platform.kimi.ai, or platform.kimi.com for China) in "
            "the environment of the MCP server (the env block of your client's config).",
        )
    source = traced.sources["api_key"]
    return Check("api key", "ok", f"{mask(key.get_secret_value())} from {source}")


def _allowed_dir_checks(settings: Settings) -> list[Check]:
    if not settings.allowed_dirs:
        why = "allowed_dirs is empty, or the working directory is too broad to be the default"
        return [Check("allowed dirs", "warn", f"no local file can be read: {why}", ALLOW_ONE)]
    checks = []
    for directory in settings.allowed_dirs:
        reason = too_broad(directory)
        if reason is None:
            checks.append(Check("allowed dirs", "ok", f"{directory}"))
        else:
            checks.append(
                Check(
                    "allowed dirs",
                    "warn",
                    f"{directory} is {reason}: every file under it but the deny list can be "
                    "sent to Kimi",
                    "Allow only the folders that hold your documents.",
                )
            )
    return checks


async def _store_checks(settings: Settings) -> list[Check]:
    """The stores store_url names (SQLite in data_dir by default) open and can be written."""
    name = "store URL" if settings.store_url else "data dir"
    try:
        stores = open_stores(
            settings.store_url,
            data_dir=settings.data_dir,
            key_prefix=settings.store_key_prefix,
            ttl_days=settings.conversation_ttl_days,
        )
    except StoreError as exc:  # a Redis URL without the redis extra
        return [Check(name, "fail", exc.problem + f" ({exc.path})", exc.fix)]
    try:
        problems = await stores.problems()
    finally:
        await stores.aclose()
    if not problems:
        return [Check(name, "ok", f"{stores.where}: the stores open and can be written")]
    return [Check(name, "fail", exc.problem + f" ({exc.path})", exc.fix) for exc in problems]


def _clients_check(roots: Roots | None) -> Check:
    """Where kimi-mcp is installed; none is a warning (it may be configured by hand elsewhere)."""
    found = installed_clients(roots)
    if not found:
        return Check(
            "clients",
            "warn",
            "no MCP client config on this machine has a 'kimi' entry",
            "kimi-mcp install <client> (claude-desktop, claude-code, cursor, vscode, windsurf, "
            "codex, gemini, zed); --dry-run shows what it would write",
        )
    listed = ", ".join(f"{name} ({path})" for name, path in found)
    return Check("clients", "ok", f"installed in {listed}")


def failed(checks: list[Check]) -> bool:
    return any(check.status == "fail" for check in checks)


def as_text(checks: list[Check]) -> str:
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        line = f"{check.status:<4}  {check.name:<{width}}  {check.detail}"
        lines.append(line + (f"\n      {'':<{width}}  -> {check.fix}" if check.fix else ""))
    return "\n".join(lines)


def as_json(checks: list[Check]) -> str:
    return json.dumps({"ok": not failed(checks), "checks": [asdict(c) for c in checks]}, indent=2)


async def doctor(
    flags: dict[str, Any], *, json_output: bool, probe: Probe | None = None
) -> tuple[str, int]:
    """What `kimi-mcp doctor` prints (text or JSON) and its exit code: 0 when nothing fails."""
    checks = await diagnose(flags, probe)
    return (as_json(checks) if json_output else as_text(checks)), (1 if failed(checks) else 0)
