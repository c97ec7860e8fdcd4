"""`kimi-mcp doctor`: is my setup right? One line per check (ok / warn / fail / skip) and, for
each that is not ok, what to do. Exit 0 when nothing fails.

The calls to Kimi (the model list and the balance) run at once, beside the store check, each
within NETWORK_SECONDS. Only after a 401 is the key tried on the other region's host: keys are
per platform, and "your key belongs to the other platform" is the commonest wrong setup.
"""

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import anyio
import httpx2

from kimi_mcp import __version__
from kimi_mcp.config import REGION_BASE_URLS, Settings, too_broad
from kimi_mcp.errors import (
    APIConnectionError,
    AuthenticationError,
    ConfigError,
    KimiError,
    RedirectError,
    ResponseValidationError,
    StoreError,
)
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.types import BalanceData, ModelInfo
from kimi_mcp.setup.clients import Roots
from kimi_mcp.setup.install import installed_clients
from kimi_mcp.setup.show_config import TracedSettings, load_traced, mask
from kimi_mcp.store.open import open_stores

Status = Literal["ok", "warn", "fail", "skip"]
NETWORK_SECONDS = 5.0  # per call to Kimi: a doctor that hangs is no help
KEY_PAGES = {"global": "platform.kimi.ai", "china": "platform.kimi.com"}
ALLOW_ONE = (
    "allow one with --allow-dir PATH, allowed_dirs in the config file or KIMI_MCP_ALLOWED_DIRS"
)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""  # what to do, when the status is not ok


@dataclass(frozen=True)
class Probe:
    """Where doctor looks: Kimi's hosts (tests point both regions at emulators) and the machine
    whose client configs it reads (None: this one)."""

    region_urls: Mapping[str, str]
    transport: httpx2.AsyncBaseTransport | None = None
    clients: Roots | None = None


async def diagnose(flags: dict[str, Any], probe: Probe | None = None) -> list[Check]:
    probe = probe or Probe(REGION_BASE_URLS)
    try:
        traced = load_traced(flags)
    except ConfigError as exc:
        fix = "Fix the setting it names, then run kimi-mcp doctor again."
        return [Check("config", "fail", str(exc), fix)]
    settings = traced.settings
    checks = [_config_check(traced), _key_check(traced), _base_url_check(settings, probe)]
    results: dict[str, list[Check]] = {}

    async def run(name: str, job: Callable[[], Awaitable[list[Check]]]) -> None:
        results[name] = await job()

    async with anyio.create_task_group() as group:
        group.start_soon(run, "api", lambda: _api_checks(settings, probe))
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


def _base_url(settings: Settings, probe: Probe) -> str:
    return (settings.base_url or probe.region_urls[settings.region]).rstrip("/")


def _region_of(url: str, probe: Probe) -> str | None:
    """The region whose official host `url` is, or None for any other host."""
    return next((r for r, u in probe.region_urls.items() if u.rstrip("/") == url), None)


def _base_url_check(settings: Settings, probe: Probe) -> Check:
    url = _base_url(settings, probe)
    region = settings.region
    detail = f"{url} (region {region}, prices in {settings.currency})"
    host_region = _region_of(url, probe)
    if host_region is not None and host_region != region:
        return Check(
            "base url",
            "warn",
            f"{detail}: base_url is the {host_region} host but region is {region}",
            f'Set region = "{host_region}" (KIMI_MCP_REGION), or drop base_url.',
        )
    if host_region is None and settings.base_url is not None:
        return Check("base url", "ok", f"{detail}; not an official host (a proxy or emulator?)")
    return Check("base url", "ok", detail)


async def _api_checks(settings: Settings, probe: Probe) -> list[Check]:
    if settings.api_key is None:
        why = "needs the API key"
        return [Check(name, "skip", why) for name in ("api", "key accepted", "default model")]
    url = _base_url(settings, probe)
    models: dict[str, list[ModelInfo] | KimiError] = {}
    balance: dict[str, BalanceData | KimiError] = {}
    client = _client(settings, url, probe)
    try:
        deadline = anyio.current_time() + NETWORK_SECONDS
        async with anyio.create_task_group() as group:
            group.start_soon(_attempt, client.list_models(deadline=deadline), models)
            group.start_soon(_attempt, client.balance(deadline=deadline), balance)
    finally:
        await client.aclose()
    reachable = _reachable_check(url, models["result"])
    return [
        reachable,
        await _key_accepted_check(settings, probe, url, balance["result"]),
        _default_model_check(settings, models["result"]),
    ]


async def _attempt(call: Awaitable[Any], into: dict[str, Any]) -> None:
    try:
        into["result"] = await call
    except KimiError as exc:
        into["result"] = exc


def _client(settings: Settings, url: str, probe: Probe) -> KimiClient:
    return KimiClient(
        api_key=settings.api_key,
        base_url=url,
        user_agent=f"kimi-mcp/{__version__} (doctor)",
        timeout=NETWORK_SECONDS,
        max_retries=0,  # a check reports what it sees; the server's retries are not in question
        transport=probe.transport,
    )


def _unreachable(answer: object) -> bool:
    return isinstance(answer, APIConnectionError | ResponseValidationError | RedirectError)


def _reachable_check(url: str, answer: object) -> Check:
    if _unreachable(answer):
        return Check(
            "api",
            "fail",
            f"{url} gave no usable answer: {answer}",
            "Check the network, any proxy (HTTPS_PROXY) and base_url; a wrong region's host "
            "answers too, so this is the connection itself.",
        )
    return Check("api", "ok", f"{url} answers")


async def _key_accepted_check(settings: Settings, probe: Probe, url: str, answer: object) -> Check:
    if isinstance(answer, BalanceData):
        currency = settings.currency
        return Check("key accepted", "ok", f"balance {answer.available_balance:g} {currency}")
    if _unreachable(answer):
        return Check("key accepted", "skip", "Kimi could not be reached")
    if not isinstance(answer, AuthenticationError):
        return Check("key accepted", "fail", str(answer), "See Kimi's message above.")
    region = _region_of(url, probe)
    other = next((r for r in probe.region_urls if r != region), None)
    if region is None or other is None:
        fix = f"Check MOONSHOT_API_KEY and that {url} is where this key belongs."
        return Check("key accepted", "fail", f"{url} rejected the key (HTTP 401)", fix)
    if await _accepted_at(settings, probe.region_urls[other], probe):
        return Check(
            "key accepted",
            "fail",
            f"the {region} platform rejected the key (HTTP 401); the {other} platform accepts it",
            f'Your key belongs to the {other} platform: set region = "{other}" in the config '
            f"file or KIMI_MCP_REGION={other}"
            + (", and drop base_url." if settings.base_url else "."),
        )
    return Check(
        "key accepted",
        "fail",
        "Kimi rejected the key (HTTP 401) on both the global and the china platform",
        f"Copy the key again from {KEY_PAGES[region]} (or {KEY_PAGES[other]}) into "
        "MOONSHOT_API_KEY; a deleted or mistyped key gets this answer.",
    )


async def _accepted_at(settings: Settings, url: str, probe: Probe) -> bool:
    client = _client(settings, url.rstrip("/"), probe)
    try:
        await client.balance(deadline=anyio.current_time() + NETWORK_SECONDS)
    except KimiError:
        return False
    finally:
        await client.aclose()
    return True


def _default_model_check(settings: Settings, answer: object) -> Check:
    model = settings.default_model
    if not isinstance(answer, list):
        return Check("default model", "skip", f"{model}: the model list could not be read")
    ids = [info.id for info in answer]
    if model in ids:
        return Check("default model", "ok", f"{model} is in the live list ({len(ids)} models)")
    return Check(
        "default model",
        "fail",
        f"{model} is not among the {len(ids)} models this key can use: {', '.join(ids)}",
        "Set default_model (--model, KIMI_MCP_DEFAULT_MODEL or the config file) to one of them.",
    )


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
