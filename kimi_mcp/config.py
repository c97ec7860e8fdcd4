"""Settings: CLI flag > environment > TOML config file > default, resolved once at start-up."""

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from kimi_mcp.errors import ConfigError

REGION_BASE_URLS = {"global": "https://api.moonshot.ai/v1", "china": "https://api.moonshot.cn/v1"}
REGION_CURRENCIES = {"global": "USD", "china": "CNY"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# File names that usually hold secrets; the path guard refuses any path with a component (or
# consecutive components, for patterns with '/') matching one, case-insensitively.
DEFAULT_DENY_NAMES = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube/config",
    ".docker/config.json",
    "credentials",
    "credentials.json",
    ".netrc",
    "_netrc",
    ".git-credentials",
    ".git/config",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".htpasswd",
)


def _xdg_dir(variable: str, fallback: str) -> Path:
    base = os.environ.get(variable) or str(Path.home() / fallback)
    return Path(base) / "kimi-mcp"


def default_config_path() -> Path:
    return _xdg_dir("XDG_CONFIG_HOME", ".config") / "config.toml"


def _default_data_dir() -> Path:
    return _xdg_dir("XDG_DATA_HOME", ".local/share")


def _split_list(value: Any, separator: str) -> Any:
    """Env values arrive as strings: accept a JSON list or a plain separated list."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in text.split(separator) if part.strip()]


class Settings(BaseSettings):
    """Every kimi-mcp setting. The TOML key is the field name; see README for env names."""

    model_config = SettingsConfigDict(
        env_prefix="KIMI_MCP_",
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        case_sensitive=False,
    )

    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("api_key", "MOONSHOT_API_KEY", "KIMI_API_KEY")
    )
    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("base_url", "MOONSHOT_BASE_URL", "KIMI_BASE_URL"),
    )
    region: Literal["global", "china"] = "global"
    default_model: str = Field(default="kimi-k2.6", min_length=1)
    timeout: float = Field(default=60.0, gt=0, le=3600)
    deadline: float = Field(default=300.0, gt=0, le=86400)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_concurrent_chats: int = Field(default=4, ge=1, le=1000)
    allowed_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=lambda: [Path.cwd()])
    deny_names: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_DENY_NAMES)
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    answer_cap: int = Field(default=80_000, ge=1000)
    conversation_ttl_days: float = Field(default=30.0, ge=0, le=36500)
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    auth_token: SecretStr | None = None
    # Legacy-era HTTP sessions: seconds without a request before one is closed, and how many may
    # be open (at the cap the one idle for longest is closed to admit a new one). See README.
    http_session_idle: float = Field(default=300.0, gt=0, le=86400)
    http_max_sessions: int = Field(default=1000, ge=1, le=100_000)
    allowed_hosts: Annotated[list[str] | None, NoDecode] = None
    allowed_origins: Annotated[list[str] | None, NoDecode] = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"
    config: Path | None = Field(default=None, exclude=True)

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _parse_dirs(cls, value: Any) -> Any:
        return _split_list(value, os.pathsep)

    @field_validator("deny_names", mode="before")
    @classmethod
    def _parse_deny_names(cls, value: Any) -> Any:
        return _split_list(value, os.pathsep)

    @field_validator("deny_names")
    @classmethod
    def _relative_patterns(cls, patterns: list[str]) -> list[str]:
        # Patterns are matched below an allowed directory, one component per '/'-part.
        bad = [p for p in patterns if not p or p.startswith("/") or "" in p.split("/")]
        if bad:
            raise ValueError(f"not a relative name pattern: {', '.join(map(repr, bad))}")
        return patterns

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _parse_names(cls, value: Any) -> Any:
        return _split_list(value, ",")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("allowed_dirs")
    @classmethod
    def _dirs_exist(cls, dirs: list[Path]) -> list[Path]:
        if not dirs:
            raise ValueError("at least one allowed directory is needed")
        resolved = [Path(os.path.realpath(d.expanduser())) for d in dirs]
        missing = [str(d) for d in resolved if not d.is_dir()]
        if missing:
            raise ValueError(f"not a directory: {', '.join(missing)}")
        return resolved

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://api.moonshot.ai/v1")
        return url.rstrip("/")

    @property
    def api_base_url(self) -> str:
        return self.base_url or REGION_BASE_URLS[self.region]

    @property
    def currency(self) -> str:
        """Kimi's balance has no currency field: the host decides it, else the region."""
        host = urlsplit(self.api_base_url).hostname or ""
        if host.endswith("moonshot.cn"):
            return "CNY"
        if host.endswith("moonshot.ai"):
            return "USD"
        return REGION_CURRENCIES[self.region]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: flags (init kwargs), then the environment, then the TOML file.
        return init_settings, env_settings, TomlFileSource(settings_cls)


class TomlFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by --config / KIMI_MCP_CONFIG, else the default path if present."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ returns the whole mapping at once

    def __call__(self) -> dict[str, Any]:
        named = self.current_state.get("config")
        path = Path(named).expanduser() if named else default_config_path()
        if not path.is_file():
            if named:
                raise ConfigError(f"config file not found: {path}")
            return {}
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        if "config" in data:
            raise ConfigError(f"{path}: 'config' cannot be set inside a config file")
        return data


def load_settings(**flags: Any) -> Settings:
    """Build Settings from flags that were actually given (None means 'not given').

    Raises:
        ConfigError: a bad value, an unknown TOML key or a missing named config file.
    """
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown setting '{where}'")
        else:
            problems.append(f"{where}: {error['msg']}")
    return "invalid settings: " + "; ".join(problems)
