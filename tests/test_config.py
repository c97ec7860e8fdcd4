"""Settings: precedence flag > env > TOML > default, aliases, and failures that stop start-up."""

import fnmatch
import os
import re
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from kimi_mcp.config import Settings, default_config_path, load_settings
from kimi_mcp.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write_toml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("toml", "env", "flag", "expected"),
    [
        (None, None, None, "kimi-k2.6"),
        ("toml-model", None, None, "toml-model"),
        ("toml-model", "env-model", None, "env-model"),
        ("toml-model", "env-model", "flag-model", "flag-model"),
        (None, None, "flag-model", "flag-model"),
        ("toml-model", None, "flag-model", "flag-model"),
    ],
)
def test_flag_beats_env_beats_toml_beats_default(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    toml: str | None,
    env: str | None,
    flag: str | None,
    expected: str,
) -> None:
    if toml:
        write_toml(default_config_path(), f'default_model = "{toml}"\n')
    if env:
        monkeypatch.setenv("KIMI_MCP_DEFAULT_MODEL", env)
    assert load_settings(default_model=flag).default_model == expected


@pytest.mark.parametrize("name", ["MOONSHOT_API_KEY", "KIMI_API_KEY"])
def test_api_key_comes_from_either_documented_variable(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "sk-from-env")
    key = load_settings().api_key
    assert key is not None and key.get_secret_value() == "sk-from-env"


@pytest.mark.parametrize("spelling", ["API_KEY", "api_key", "Base_Url", "BASE_URL"])
def test_generic_api_key_or_base_url_variables_of_other_programs_are_not_read(
    monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    # Read as the Kimi key, another program's API_KEY would go to Kimi; read as the base URL,
    # a BASE_URL would send the Kimi key to that program's host.
    monkeypatch.setenv(spelling, "http://127.0.0.1:9/v1" if "url" in spelling.lower() else SECRET)
    settings = load_settings()
    assert settings.api_key is None and settings.base_url is None


def test_the_key_and_base_url_still_come_from_the_config_file_and_flags() -> None:
    path = write_toml(default_config_path(), f'api_key = "{SECRET}"\nbase_url = "http://h/v1"\n')
    path.chmod(0o600)
    settings = load_settings()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == SECRET
    assert settings.base_url == "http://h/v1"
    assert load_settings(base_url="http://flag/v1").base_url == "http://flag/v1"


def test_base_url_variables_and_region_pick_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().api_base_url == "https://api.moonshot.ai/v1"
    assert load_settings().currency == "USD"
    monkeypatch.setenv("KIMI_MCP_REGION", "china")
    assert load_settings().api_base_url == "https://api.moonshot.cn/v1"
    assert load_settings().currency == "CNY"
    monkeypatch.setenv("KIMI_BASE_URL", "http://127.0.0.1:9/v1/")
    settings = load_settings()
    assert settings.api_base_url == "http://127.0.0.1:9/v1"
    assert settings.currency == "CNY"  # an unknown host: the region decides the currency


SECRET = "sk-conf-9d8c7b6a5f4e3d2c1b0a"


@pytest.mark.parametrize(
    "raw",
    [SECRET + "\r", SECRET + "\r\n", f"  {SECRET}\n", f"\ufeff{SECRET}", f"\t{SECRET}\u200b"],
    ids=["cr", "crlf", "spaces-and-lf", "bom", "tab-and-zero-width-space"],
)
def test_key_with_trailing_cr_is_trimmed_with_a_warning_that_does_not_show_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", raw)
    key = load_settings().api_key
    assert key is not None and key.get_secret_value() == SECRET
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "MOONSHOT_API_KEY" in warnings[0].getMessage()
    assert SECRET[-10:] not in caplog.text and SECRET[:10] not in caplog.text


@pytest.mark.parametrize(
    "raw",
    [f"sk-conf 9d8c7b6a{SECRET}", f"sk-conf\r\n{SECRET}", f"sk-\x07{SECRET}", f"sk-é{SECRET}"],
    ids=["space", "crlf", "bell", "non-ascii"],
)
@pytest.mark.parametrize("variable", ["MOONSHOT_API_KEY", "KIMI_API_KEY"])
def test_key_with_whitespace_or_control_characters_inside_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, raw: str, variable: str
) -> None:
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert f"{variable} has a space, a control character or a non-ASCII character" in message
    assert SECRET[-10:] not in message and "9d8c7b6a" not in message
    assert "Value error" not in message


def test_a_blank_key_counts_as_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", " \r\n")
    assert load_settings().api_key is None


def test_a_bad_key_in_the_config_file_is_named_as_the_setting() -> None:
    write_toml(default_config_path(), 'api_key = "sk-a\\tb"\n').chmod(0o600)
    with pytest.raises(ConfigError, match="the api_key setting has a space"):
        load_settings()


@pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_key_in_a_config_file_others_can_read_is_refused_with_chmod_600(mode: int) -> None:
    path = write_toml(default_config_path(), f'api_key = "{SECRET}"\n')
    path.chmod(mode)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert f"chmod 600 {path}" in message and "MOONSHOT_API_KEY" in message
    assert f"mode {mode:03o}" in message
    assert SECRET[-10:] not in message


@pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")
@pytest.mark.parametrize("mode", [0o600, 0o400], ids=oct)
def test_key_in_a_config_file_only_its_owner_can_read_is_accepted(mode: int) -> None:
    path = write_toml(default_config_path(), f'api_key = "{SECRET}"\n')
    path.chmod(mode)
    key = load_settings().api_key
    assert key is not None and key.get_secret_value() == SECRET


def test_a_config_file_without_a_key_may_be_readable_by_others() -> None:
    write_toml(default_config_path(), "max_retries = 4\n").chmod(0o644)
    assert load_settings().max_retries == 4


def test_the_start_up_error_for_a_readable_key_file_exits_2_naming_chmod(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kimi_mcp.__main__ import EXIT_CONFIG, main

    write_toml(default_config_path(), f'api_key = "{SECRET}"\n').chmod(0o644)
    with pytest.raises(SystemExit) as stopped:
        main([])
    assert stopped.value.code == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "chmod 600" in err and SECRET[-10:] not in err


def test_no_key_is_not_an_error() -> None:
    assert load_settings().api_key is None


def test_the_key_never_shows_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-very-secret-value")
    settings = load_settings()
    assert "sk-very-secret-value" not in repr(settings)
    assert "sk-very-secret-value" not in str(settings)
    assert "sk-very-secret-value" not in settings.model_dump_json()


def test_named_config_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(config=tmp_path / "missing.toml")


def test_config_file_named_by_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_toml(tmp_path / "kimi.toml", "max_retries = 5\n")
    monkeypatch.setenv("KIMI_MCP_CONFIG", str(path))
    assert load_settings().max_retries == 5


def test_unknown_toml_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "kimi.toml", "defualt_model = 'x'\n")
    with pytest.raises(ConfigError, match="unknown setting 'defualt_model'"):
        load_settings(config=path)


def test_invalid_value_is_an_error_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIMI_MCP_TIMEOUT", "-3")
    with pytest.raises(ConfigError, match="timeout"):
        load_settings()


def test_broken_toml_is_an_error(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "kimi.toml", "max_retries = = 1\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(config=path)


def test_allowed_dirs_from_env_as_pathsep_list_or_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv("KIMI_MCP_ALLOWED_DIRS", f"{first}{os.pathsep}{second}")
    assert load_settings().allowed_dirs == [first.resolve(), second.resolve()]
    monkeypatch.setenv("KIMI_MCP_ALLOWED_DIRS", f'["{second}"]')
    assert load_settings().allowed_dirs == [second.resolve()]


def test_allowed_dirs_default_to_the_working_directory(workdir: Path) -> None:
    assert load_settings().allowed_dirs == [workdir.resolve()]


def test_allowed_dir_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        load_settings(allowed_dirs=[tmp_path / "nope"])


def test_deny_names_from_env_as_pathsep_list_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ".env" in load_settings().deny_names and "id_rsa*" in load_settings().deny_names
    monkeypatch.setenv("KIMI_MCP_DENY_NAMES", os.pathsep.join(["*.secret", ".git/config"]))
    assert load_settings().deny_names == ["*.secret", ".git/config"]
    monkeypatch.setenv("KIMI_MCP_DENY_NAMES", "[]")
    assert load_settings().deny_names == []


def test_absolute_or_empty_deny_patterns_are_errors() -> None:
    for bad in (["/etc/passwd"], [""], ["a//b"]):
        with pytest.raises(ConfigError, match="deny_names"):
            load_settings(deny_names=bad)


def test_data_dir_follows_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert load_settings().data_dir == tmp_path / "xdg" / "kimi-mcp"


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIMI_MCP_LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"


def test_price_table_per_model_from_the_config_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "kimi.toml",
        '[prices."kimi-k3"]\ninput_cached = 0.25\ninput = 2.5\noutput = 12\nweb_search = 0.004\n'
        '[prices."my-model"]\ninput_cached = 0\ninput = 1\noutput = 2\n',
    )
    prices = load_settings(config=path).prices
    assert prices["kimi-k3"].model_dump() == {
        "input_cached": 0.25,
        "input": 2.5,
        "output": 12.0,
        "web_search": 0.004,
    }
    assert prices["my-model"].web_search is None  # the built-in search price applies


def test_price_table_with_a_misspelt_key_says_which_keys_it_takes(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "kimi.toml",
        '[prices."kimi-k3"]\ninput_cached = 0.3\ninput = 3\nouptut = 15\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config=path)
    message = str(caught.value)
    assert "prices.kimi-k3.ouptut" in message and "prices.kimi-k3.output" in message
    assert "input_cached, input and output (per 1M tokens)" in message


@pytest.mark.parametrize(
    "table",
    [
        '[prices."kimi-k3"]\ninput_cached = 0.3\ninput = -3\noutput = 15\n',
        '[prices."kimi-k3"]\ninput_cached = 0.3\ninput = "cheap"\noutput = 15\n',
        '[prices." "]\ninput_cached = 0.3\ninput = 3\noutput = 15\n',
        'prices = { "kimi-k3" = 3 }\n',
    ],
)
def test_bad_price_is_an_error_naming_the_setting(tmp_path: Path, table: str) -> None:
    path = write_toml(tmp_path / "kimi.toml", table)
    with pytest.raises(ConfigError, match="prices"):
        load_settings(config=path)


def _example_text() -> str:
    return resources.files("kimi_mcp").joinpath("config.example.toml").read_text(encoding="utf-8")


def test_example_config_lists_every_setting_with_its_default() -> None:
    example = tomllib.loads(_example_text())
    documented = set(example) | _commented_keys(_example_text())
    secret_or_meta = {"api_key", "auth_token", "config"}
    assert documented == set(Settings.model_fields) - secret_or_meta
    defaults = Settings()
    for key, value in example.items():
        assert getattr(defaults, key) == value, key


def test_the_example_config_ships_in_the_package_only() -> None:
    # One source of truth: `kimi-mcp config --example` prints the packaged file.
    assert not (ROOT / "config.example.toml").exists()
    patterns = _package_data()
    assert any(fnmatch.fnmatch("config.example.toml", pattern) for pattern in patterns)


def _package_data() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data: list[str] = pyproject["tool"]["setuptools"]["package-data"]["kimi_mcp"]
    return data


def _commented_keys(text: str) -> set[str]:
    """Keys shown as `# key = value` (settings whose default depends on the machine)."""
    keys = set()
    for line in text.splitlines():
        body = line.removeprefix("# ").strip()
        if line.startswith("# ") and " = " in body and body.split(" = ")[0].isidentifier():
            keys.add(body.split(" = ")[0])
    return keys


def test_the_settings_know_the_same_official_tools_as_the_ask_pipeline() -> None:
    from typing import get_args

    from kimi_mcp.ask.kimi_tools import FORMULAS
    from kimi_mcp.config import FormulaName

    assert get_args(FormulaName) == FORMULAS


def test_kimi_tools_allowed_from_the_environment_and_an_unknown_name_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KIMI_MCP_KIMI_TOOLS_ALLOWED", "fetch, date")
    assert load_settings().kimi_tools_allowed == ["fetch", "date"]
    monkeypatch.setenv("KIMI_MCP_KIMI_TOOLS_ALLOWED", "fetch,web_search")
    with pytest.raises(ConfigError, match="kimi_tools_allowed"):
        load_settings()


def test_store_url_takes_a_sqlite_directory_or_a_redis_url_and_never_quotes_a_bad_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().store_url is None  # SQLite files in data_dir
    for url in ("sqlite:///var/lib/kimi-mcp", "redis://h:6379/0", "rediss://:pw@h:6380/2"):
        assert load_settings(store_url=url).store_url == url
    monkeypatch.setenv("KIMI_MCP_STORE_URL", "redis://127.0.0.1:6379/1")
    assert load_settings().store_url == "redis://127.0.0.1:6379/1"
    for bad in (
        "postgres://u:hunter2-secret@h/db",
        "redis://:hunter2-secret@h:port/0",
        "redis://:hunter2-secret@h:6379/zero",
        "sqlite://relative/dir",
    ):
        with pytest.raises(ConfigError, match="store_url") as refused:
            load_settings(store_url=bad)
        assert "hunter2" not in str(refused.value)
        assert "redis://[:password@]host:port/db" in str(refused.value) or "sqlite:///" in str(
            refused.value
        )


def test_a_redis_store_url_without_the_redis_extra_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if `pip install kimi-mcp` alone
    with pytest.raises(ConfigError, match=re.escape("pip install 'kimi-mcp[redis]'")):
        load_settings(store_url="redis://127.0.0.1:6379/0")
    assert load_settings(store_url="sqlite:///var/lib/kimi-mcp").store_url  # SQLite needs none
