"""`kimi-mcp config`: every setting with where it came from, secrets masked, the example file."""

import json
from pathlib import Path
from typing import Any

import pytest

from kimi_mcp.__main__ import EXIT_CONFIG, main
from kimi_mcp.config import default_config_path
from tests.conftest import CANARY_KEY, assert_no_canary

TOKEN = "http-token-5e6f7a8b9c0d1e2f"
FILE_KEY = "sk-file-1a2b3c4d5e6f7a8b9c0d"  # not the canary: the sweep of tmp_path would find it


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    out = capsys.readouterr().out
    assert_no_canary(out, "the output of kimi-mcp config")
    return out


def settings_json(capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(run(capsys, *flags, "config", "--json"))["settings"]
    return shown


def write_config(text: str, mode: int = 0o600) -> Path:
    path = default_config_path()
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_config_names_the_source_of_each_setting_flag_env_file_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config('default_model = "file-model"\nregion = "china"\nmax_retries = 5\n')
    monkeypatch.setenv("KIMI_MCP_REGION", "global")
    monkeypatch.setenv("KIMI_MCP_TIMEOUT", "7")
    monkeypatch.setenv("KIMI_BASE_URL", "http://127.0.0.1:9/v1")
    shown = settings_json(capsys, "--model", "flag-model")
    expected = {
        "default_model": ("flag-model", "flag", "--model"),  # over the file's
        "region": ("global", "env", "KIMI_MCP_REGION"),  # over the file's
        "timeout": (7.0, "env", "KIMI_MCP_TIMEOUT"),
        "base_url": ("http://127.0.0.1:9/v1", "env", "KIMI_BASE_URL"),  # the variable set
        "max_retries": (5, "file", str(path)),
        "deadline": (300.0, "default", None),
    }
    for name, (value, source, origin) in expected.items():
        assert shown[name] == {"value": value, "source": source, "from": origin}, name


def test_config_text_says_which_file_and_masks_the_key_and_tokens(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(f'api_key = "{FILE_KEY}"\nauth_token = "{TOKEN}"\n')
    monkeypatch.setenv("KIMI_MCP_AUTH_TOKENS", json.dumps({TOKEN + "x": "alice"}))
    out = run(capsys, "config")
    assert out.splitlines()[0] == f"config file: {path} (default)"
    assert f"...{FILE_KEY[-4:]}  (file {path})" in out and FILE_KEY[:-4] not in out
    assert TOKEN[:-4] not in out and f"...{TOKEN[-4:]}" in out
    assert '{"...e2fx": "alice"}  (env KIMI_MCP_AUTH_TOKENS)' in out


def test_config_shows_the_key_from_the_environment_by_variable_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIMI_API_KEY", CANARY_KEY)
    assert settings_json(capsys)["api_key"] == {
        "value": f"...{CANARY_KEY[-4:]}",
        "source": "env",
        "from": "KIMI_API_KEY",
    }


def test_config_file_named_by_flag_after_the_subcommand(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "kimi.toml"
    path.write_text("max_retries = 4\n", encoding="utf-8")
    out = json.loads(run(capsys, "config", "--json", "--config", str(path)))
    assert out["config_file"] == str(path)
    assert out["settings"]["max_retries"]["source"] == "file"
    assert out["settings"]["config"] == {"value": str(path), "source": "flag", "from": "--config"}


def test_config_with_a_bad_setting_exits_2_like_the_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIMI_MCP_TIMEOUT", "-1")
    with pytest.raises(SystemExit) as stopped:
        main(["config"])
    assert stopped.value.code == EXIT_CONFIG
    assert "timeout" in capsys.readouterr().err


def test_config_example_prints_the_file_shipped_in_the_package(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = run(capsys, "config", "--example")
    packaged = Path(__file__).parents[2] / "kimi_mcp" / "config.example.toml"
    assert out == packaged.read_text(encoding="utf-8")
    assert "chmod 600" in out


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"kimi-mcp {version('kimi-mcp')}\n"


def test_config_shows_the_store_url_with_its_password_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIMI_MCP_STORE_URL", "redis://:hunter2-pass@redis.internal:6379/0")
    out = run(capsys, "config")
    assert "hunter2" not in out
    assert "redis://:***@redis.internal:6379/0  (env KIMI_MCP_STORE_URL)" in out
    shown = settings_json(capsys)
    assert shown["store_url"]["value"] == "redis://:***@redis.internal:6379/0"
    assert shown["store_key_prefix"]["value"] == "kimi-mcp:"
