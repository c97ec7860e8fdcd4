"""doctor's checks of Kimi itself: the base URL, the host reachable, the key accepted (or
accepted on the other region's host: keys are per platform), the default model offered. Also the
`Check` each line of doctor is, and the `Probe` saying where doctor looks."""

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import httpx2

from kimi_mcp import __version__
from kimi_mcp.config import Settings
from kimi_mcp.errors import (
    APIConnectionError,
    AuthenticationError,
    KimiError,
    RedirectError,
    ResponseValidationError,
)
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.types import BalanceData, ModelInfo
from kimi_mcp.setup.clients import Roots

Status = Literal["ok", "warn", "fail", "skip"]
NETWORK_SECONDS = 5.0  # per call to Kimi: a doctor that hangs is no help
KEY_PAGES = {"global": "platform.kimi.ai", "china": "platform.kimi.com"}


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


def _base_url(settings: Settings, probe: Probe) -> str:
    return (settings.base_url or probe.region_urls[settings.region]).rstrip("/")


def _region_of(url: str, probe: Probe) -> str | None:
    """The region whose official host `url` is, or None for any other host."""
    return next((r for r, u in probe.region_urls.items() if u.rstrip("/") == url), None)


def base_url_check(settings: Settings, probe: Probe) -> Check:
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


async def api_checks(settings: Settings, probe: Probe) -> list[Check]:
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
