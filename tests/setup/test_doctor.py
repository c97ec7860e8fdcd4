"""`kimi-mcp doctor` against the emulator: one line per check, exit 0 only when nothing fails.

The wrong-region case serves two emulators standing for the two platforms' hosts (the probe's
region URLs): the key belongs to the "china" one only, region says "global".
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kimi_mcp.__main__ import main
from kimi_mcp.emulator import Emulator, serve_emulator
from kimi_mcp.setup.clients import Roots
from kimi_mcp.setup.doctor import diagnose, doctor
from kimi_mcp.setup.doctor_kimi import Check, Probe
from tests.conftest import CANARY_KEY, assert_no_canary
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio
OTHER_KEY = "sk-global-0a1b2c3d4e5f6a7b8c9d"


@pytest.fixture
def key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", CANARY_KEY)


@pytest.fixture
async def regions(emulator_url: str) -> AsyncIterator[Probe]:
    """The global host knows another key; the china host (the shared emulator) knows ours."""
    async with serve_emulator(Emulator(api_key=OTHER_KEY)) as global_url:
        yield Probe({"global": global_url, "china": emulator_url})


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


async def run_doctor(flags: dict[str, Any], probe: Probe | None = None) -> tuple[str, int]:
    text, code = await doctor(flags, json_output=False, probe=probe)
    assert_no_canary(text, "doctor's output")
    return text, code


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_healthy_setup_passes_every_check_and_exits_0(
    emulator_url: str, workdir: Path
) -> None:
    home = workdir / "home"
    home.mkdir()
    (home / ".cursor").mkdir()
    (home / ".cursor" / "mcp.json").write_text('{"mcpServers": {"kimi": {"command": "kimi-mcp"}}}')
    roots = Roots("linux", str(home), project=str(workdir))
    probe = Probe({"global": emulator_url}, clients=roots)
    text, code = await run_doctor({"allowed_dirs": [workdir]}, probe)
    assert code == 0, text
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("->")]
    assert [line.split()[0] for line in lines] == ["ok"] * 9
    assert f"installed in cursor ({home / '.cursor' / 'mcp.json'})" in text
    assert f"...{CANARY_KEY[-4:]} from env MOONSHOT_API_KEY" in text
    assert "kimi-k2.6 is in the live list" in text and "balance" in text


async def test_doctor_warns_when_no_client_has_kimi_and_says_how_to_install(
    emulator_url: str, workdir: Path
) -> None:
    roots = Roots("linux", str(workdir / "empty-home"), project=str(workdir))
    checks = await diagnose(
        {"allowed_dirs": [workdir]}, Probe({"global": emulator_url}, clients=roots)
    )
    clients = by_name(checks)["clients"]
    assert clients.status == "warn" and "kimi-mcp install <client>" in clients.fix


async def test_doctor_without_a_key_fails_naming_moonshot_api_key(workdir: Path) -> None:
    _, code = await run_doctor({"allowed_dirs": [workdir]})
    checks = by_name(await diagnose({"allowed_dirs": [workdir]}))
    assert code == 1
    assert checks["api key"].status == "fail" and "MOONSHOT_API_KEY" in checks["api key"].fix
    assert {checks[n].status for n in ("api", "key accepted", "default model")} == {"skip"}


async def test_doctor_with_a_wrong_key_says_both_platforms_rejected_it(
    monkeypatch: pytest.MonkeyPatch, regions: Probe, workdir: Path
) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-wrong-key-1111222233334444")
    checks = by_name(await diagnose({"allowed_dirs": [workdir]}, regions))
    accepted = checks["key accepted"]
    assert accepted.status == "fail"
    assert (
        "rejected the key (HTTP 401) on both the global and the china platform" in accepted.detail
    )
    assert "Copy the key again from platform.kimi.ai" in accepted.fix
    assert checks["api"].status == "ok"  # it answered: the connection is not the problem


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_with_a_key_of_the_other_region_names_the_region_to_set(
    regions: Probe, workdir: Path
) -> None:
    text, code = await run_doctor({"allowed_dirs": [workdir]}, regions)
    accepted = by_name(await diagnose({"allowed_dirs": [workdir]}, regions))["key accepted"]
    assert code == 1
    assert accepted.status == "fail"
    assert "the global platform rejected the key (HTTP 401)" in accepted.detail
    assert accepted.fix.startswith('Your key belongs to the china platform: set region = "china"')
    assert "KIMI_MCP_REGION=china" in text


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_with_the_region_the_key_belongs_to_passes(
    monkeypatch: pytest.MonkeyPatch, regions: Probe, workdir: Path
) -> None:
    monkeypatch.setenv("KIMI_MCP_REGION", "china")
    text, code = await run_doctor({"allowed_dirs": [workdir]}, regions)
    assert code == 0, text


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_with_an_unknown_default_model_lists_the_models(
    emulator_url: str, workdir: Path
) -> None:
    flags = {"allowed_dirs": [workdir], "base_url": emulator_url, "default_model": "kimi-k9"}
    _, code = await run_doctor(flags)
    model = by_name(await diagnose(flags))["default model"]
    assert code == 1
    assert model.status == "fail" and "kimi-k9 is not among the" in model.detail
    assert "kimi-k2.6" in model.detail and "default_model" in model.fix


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_with_an_unwritable_data_dir_fails_saying_how_to_fix_it(
    emulator_url: str, workdir: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")  # root ignores modes; this it cannot
    flags = {"allowed_dirs": [workdir], "base_url": emulator_url, "data_dir": blocker / "data"}
    _, code = await run_doctor(flags)
    stores = [c for c in await diagnose(flags) if c.name == "data dir"]
    assert code == 1
    assert len(stores) == 4 and all(c.status == "fail" for c in stores)  # one per store file
    assert all("data_dir (KIMI_MCP_DATA_DIR)" in c.fix for c in stores)


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_with_kimi_unreachable_fails_the_api_check(
    workdir: Path,
) -> None:
    flags = {"allowed_dirs": [workdir], "base_url": "http://127.0.0.1:9/v1"}
    checks = by_name(await diagnose(flags))
    assert checks["api"].status == "fail" and "HTTPS_PROXY" in checks["api"].fix
    assert checks["key accepted"].status == "skip"
    assert checks["default model"].status == "skip"


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_warns_about_a_home_directory_allowed(emulator_url: str) -> None:
    checks = by_name(await diagnose({"allowed_dirs": [Path.home()], "base_url": emulator_url}))
    allowed = checks["allowed dirs"]
    assert allowed.status == "warn" and "a home directory" in allowed.detail
    assert "Allow only the folders" in allowed.fix


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_json_gives_ok_and_each_check(emulator_url: str, workdir: Path) -> None:
    flags = {"allowed_dirs": [workdir], "base_url": emulator_url}
    text, code = await doctor(flags, json_output=True)
    assert_no_canary(text, "doctor's JSON")
    report = json.loads(text)
    assert code == 0 and report["ok"] is True
    assert [c["name"] for c in report["checks"]] == [
        "config",
        "api key",
        "base url",
        "api",
        "key accepted",
        "default model",
        "allowed dirs",
        "data dir",
        "clients",
    ]
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in report["checks"])


def test_doctor_command_exits_1_and_prints_checks_without_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOONSHOT_BASE_URL", "http://127.0.0.1:9/v1")  # nothing is sent anywhere
    monkeypatch.setenv("MOONSHOT_API_KEY", CANARY_KEY)
    with pytest.raises(SystemExit) as stopped:
        main(["doctor", "--json"])
    out = capsys.readouterr().out
    assert_no_canary(out, "kimi-mcp doctor's stdout")
    assert stopped.value.code == 1 and json.loads(out)["ok"] is False


def test_doctor_with_a_bad_config_reports_it_as_one_failed_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "kimi.toml"
    path.write_text("defualt_model = 'x'\n", encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        main(["doctor", "--config", str(path)])
    out = capsys.readouterr().out
    assert stopped.value.code == 1
    assert out.startswith("fail  config  invalid settings: unknown setting 'defualt_model'")


@pytest.mark.usefixtures("key_in_env")
async def test_doctor_checks_that_a_redis_store_url_is_reachable(
    emulator_url: str, workdir: Path, redis_server: RedisServer, redis_url: str
) -> None:
    probe = Probe({"global": emulator_url})
    password_url = redis_url.replace("redis://", "redis://:hunter2-pass@")
    checks = by_name(await diagnose({"store_url": redis_url}, probe))
    assert checks["store URL"].status == "ok", checks["store URL"]
    assert redis_url in checks["store URL"].detail
    redis_server.stop()
    text, code = await run_doctor({"store_url": password_url}, probe)
    assert code == 1
    assert "fail  store URL" in text and "Redis is not reachable" in text, text
    assert "hunter2" not in text and "redis://:***@127.0.0.1" in text
