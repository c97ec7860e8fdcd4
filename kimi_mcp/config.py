"""Settings: CLI flag > environment > TOML config file > default, resolved once at start-up."""

import contextlib
import importlib.util
import json
import logging
import math
import os
import pwd
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from kimi_mcp.errors import ConfigError

log = logging.getLogger(__name__)

REGION_BASE_URLS = {"global": "https://api.moonshot.ai/v1", "china": "https://api.moonshot.cn/v1"}
REGION_CURRENCIES = {"global": "USD", "china": "CNY"}
KEY_VARIABLES = ("MOONSHOT_API_KEY", "KIMI_API_KEY")
# Kimi's official tools (kimi-api.md 2.8), as ask.kimi_tools.FORMULAS lists them (a test keeps
# the two in step: settings stand below the ask pipeline and cannot import it).
FormulaName = Literal[
    "web-search", "fetch", "code_runner", "quickjs", "convert", "date", "base64", "excel", "rethink"
]
# The MCP tools in the order tools/list shows them (server.build keeps its registry in step; a test
# checks): the `tools` setting picks a subset by these names.
TOOL_NAMES = (
    "ask_kimi",
    "web_search",
    "list_models",
    "upload_file",
    "read_file",
    "list_files",
    "delete_file",
    "estimate_tokens",
    "check_balance",
    "list_conversations",
    "delete_conversation",
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# File names that usually hold secrets; the path guard refuses any path with a component (or
# consecutive components, for patterns with '/') matching one, case-insensitively. Grouped by
# what they protect; the README lists the groups.
# fmt: off
DEFAULT_DENY_NAMES = (
    # environment files, keys and certificates
    ".env", ".env.*", ".envrc", "*.pem", "*.key", "*.p12", "*.pfx", "*.keystore", "*.jks",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.ppk",
    # ssh, gpg
    ".ssh", ".gnupg", "*.gpg",
    # cloud CLIs and their tokens: AWS, Google Cloud, Azure, OCI, DigitalOcean, S3 tools
    ".aws", ".config/gcloud", ".azure", ".oci", ".config/doctl", ".s3cfg", ".boto",
    "credentials", "credentials.*", "rclone.conf",
    # code hosts, registries and package managers
    ".config/gh", ".config/hub", ".config/glab-cli", ".git-credentials", ".git/config",
    ".npmrc", ".yarnrc.yml", ".pypirc", ".gem/credentials", ".cargo/credentials*",
    ".m2/settings*.xml", ".gradle/gradle.properties", ".composer/auth.json",
    # containers, clusters, infrastructure state, vaults
    ".kube", ".docker/config.json", ".vault-token", "*.tfstate", "*.tfstate.*", ".terraform.d",
    # network logins and databases
    ".netrc", "_netrc", ".pgpass", ".my.cnf", ".htpasswd",
    # password managers: pass, 1Password, Bitwarden, KeePass
    ".password-store", ".config/1Password", "*.com.1password*", ".config/op", "*.1pif",
    "*.opvault", ".config/Bitwarden*", "Application Support/Bitwarden*", "*.kdbx", "*.kdb",
    # browser profiles (Chrome, Chromium, Brave, Edge, Vivaldi, Firefox) and their secret files
    ".mozilla", "Application Support/Firefox", ".config/google-chrome*", ".config/chromium",
    "Google/Chrome*", "BraveSoftware", ".config/microsoft-edge*", ".config/vivaldi",
    "Application Support/Microsoft Edge*", "logins.json", "key3.db", "key4.db",
    "signons.sqlite", "cookies.sqlite", "Login Data*", "Web Data", "Local State",
    # shell and REPL histories: bash, zsh, fish, sh, python, psql, mysql, node, sqlite, redis...
    ".*history", ".histfile", "fish_history",
    # keychains and keyrings: macOS, GNOME, KDE
    "Library/Keychains", "*.keychain", "*.keychain-db", ".local/share/keyrings",
    ".local/share/kwalletd", "*.kwl",
)
# Working directories never used as the default allowed directory: whole trees (everything under
# them belongs to the system) and places that only hold others' directories (their children,
# such as /var/www/site or /tmp/project, may be fine). /tmp itself is refused: every user and
# program leaves files there (Kerberos tickets, agent sockets, other users' downloads).
SYSTEM_TREES = (
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/proc",
    "/sys", "/dev", "/run", "/var/log", "/System", "/Library", "/private/etc",
)
SYSTEM_CONTAINERS = (
    "/tmp", "/var", "/var/lib", "/var/tmp", "/var/cache", "/var/spool", "/var/mail", "/opt",
    "/srv", "/mnt", "/media", "/home", "/Users", "/root", "/private/var", "/private/tmp",
    "/Volumes", "/snap",
)
# fmt: on
PRICE_KEYS = (
    "a model's price table takes input_cached, input and output (per 1M tokens) and, "
    "optionally, web_search (per call), and nothing else"
)
_FIRST_USER_UID, _NOBODY_UID = 1000, 65534


def _home_dirs() -> set[Path]:
    """Home directories: $HOME, root's, every login user's (uid 1000 up to nobody) and every
    directory directly under /home (a container may have no passwd entry for them)."""
    homes = {Path.home(), Path("/root")}
    homes.update(Path(u.pw_dir) for u in pwd.getpwall() if _is_person(u.pw_uid) and u.pw_dir)
    with contextlib.suppress(OSError):
        homes.update(entry for entry in Path("/home").iterdir() if entry.is_dir())
    return {Path(os.path.realpath(home)) for home in homes if home.is_absolute()}


def _is_person(uid: int) -> bool:
    return uid == 0 or _FIRST_USER_UID <= uid < _NOBODY_UID


def too_broad(directory: Path) -> str | None:
    """Why `directory` (a real path) must not be the default allowed directory, or None.

    The working directory is the default, and some hosts start servers in `/` or a home
    directory: then every key, history and browser profile on the disk would be one upload away.
    """
    if directory == Path("/"):
        return "the root of the filesystem"
    for home in sorted(_home_dirs()):
        if directory == home:
            return "a home directory"
        if home.is_relative_to(directory):
            return f"a directory holding home directories ({home})"
    if any(directory.is_relative_to(tree) for tree in SYSTEM_TREES):
        return "a system directory"
    if str(directory) in SYSTEM_CONTAINERS:
        return "a system directory shared by many users and programs"
    return None


def _default_allowed_dirs() -> list[Path]:
    """The working directory, unless it is too broad: then none (file arguments get an error
    saying how to allow one)."""
    try:
        working = Path(os.path.realpath(Path.cwd()))
    except OSError:  # the working directory was deleted
        return []
    return [] if too_broad(working) else [working]


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


def _key_source(raw: str) -> str:
    """Where the key came from, by name (never by value), for the messages about it."""
    for name in KEY_VARIABLES:
        if os.environ.get(name) == raw:
            return name
    return "the api_key setting"


def _trimmable(char: str) -> bool:
    # Whitespace, control and format characters (a BOM, a zero-width space) that an editor or a
    # copy-paste leaves at the ends of a line: a Windows-edited .env ends the key with "\r".
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


def checked_key(raw: str) -> str:
    """The key as it can go into an Authorization header ("" when blank), else a ValueError.

    Trailing and leading whitespace is removed with a warning; anything inside the key that a
    header cannot carry (whitespace, control characters, non-ASCII) is refused. Neither message
    shows the key: httpx2 would refuse it with an error quoting it in an escaped form.
    """
    start, end = 0, len(raw)
    while start < end and _trimmable(raw[start]):
        start += 1
    while end > start and _trimmable(raw[end - 1]):
        end -= 1
    key = raw[start:end]
    if not key:
        return ""
    if any(not ("!" <= char <= "~") for char in key):
        raise ValueError(
            f"{_key_source(raw)} has a space, a control character or a non-ASCII character "
            "inside it, which no HTTP header can carry; Kimi keys are one word (sk-...). Copy "
            "the key again from the Kimi console."
        )
    if key != raw:
        log.warning(
            "%s had %d whitespace or control character(s) around it (a file edited on Windows?); "
            "they were removed.",
            _key_source(raw),
            len(raw) - len(key),
        )
    return key


class ModelPrice(BaseModel):
    """A model's prices in the platform's currency (USD on global, CNY on china): per 1M tokens,
    and per web search call. Omitting web_search keeps the built-in one (USD platforms only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_cached: float = Field(ge=0, le=10_000, description="per 1M prompt tokens from the cache")
    input: float = Field(ge=0, le=10_000, description="per 1M other prompt tokens")
    output: float = Field(ge=0, le=10_000, description="per 1M completion tokens")
    web_search: float | None = Field(default=None, ge=0, le=100, description="per search")


class Settings(BaseSettings):
    """Every kimi-mcp setting. The TOML key is the field name; see README for env names."""

    model_config = SettingsConfigDict(
        env_prefix="KIMI_MCP_",
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        case_sensitive=False,
    )

    # Only these variables: an alias also names an environment variable, so listing the field
    # name would read any API_KEY or BASE_URL set for another program (validate_by_name keeps
    # the TOML key and the flag working).
    api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices(*KEY_VARIABLES))
    base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MOONSHOT_BASE_URL", "KIMI_BASE_URL")
    )
    region: Literal["global", "china"] = "global"
    default_model: str = Field(default="kimi-k2.6", min_length=1)
    timeout: float = Field(default=60.0, gt=0, le=3600)
    deadline: float = Field(default=300.0, gt=0, le=86400)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_concurrent_chats: int = Field(default=4, ge=1, le=1000)
    allowed_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=_default_allowed_dirs)
    deny_names: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_DENY_NAMES)
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    # Where state lives: None (SQLite files in data_dir), sqlite:///<dir> or redis(s)://...
    store_url: str | None = None
    store_key_prefix: str = Field(default="kimi-mcp:", min_length=1, max_length=64)
    answer_cap: int = Field(default=80_000, ge=1000)
    # Bytes per second an upload is granted at least: its deadline is max(30 s, size / rate).
    upload_min_rate: int = Field(default=256 * 1024, ge=1)
    conversation_ttl_days: float = Field(default=30.0, ge=0, le=36500)
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    auth_token: SecretStr | None = None
    # HTTP bearer token -> owner name: each owner sees only its own conversations.
    auth_tokens: dict[SecretStr, str] | None = None
    # Legacy-era HTTP sessions: seconds without a request before one is closed, and how many may
    # be open (at the cap the one idle for longest is closed to admit a new one). See README.
    http_session_idle: float = Field(default=300.0, gt=0, le=86400)
    http_max_sessions: int = Field(default=1000, ge=1, le=100_000)
    # Secrets sealing the state of a multi-round-trip 2026-era request (the first seals, all
    # unseal): replicas sharing them can each resume a request another one started.
    request_state_keys: Annotated[list[SecretStr] | None, NoDecode] = None
    allowed_hosts: Annotated[list[str] | None, NoDecode] = None
    allowed_origins: Annotated[list[str] | None, NoDecode] = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"
    # Per model, over the built-in table (TOML [prices."<model>"]); see ModelPrice.
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    # Refuse ask_kimi once today's (UTC) recorded spend reaches this, in the prices' currency.
    daily_spend_cap: float | None = None
    # Kimi's official tools ask_kimi may use (e.g. leave out the paid web-search).
    kimi_tools_allowed: Annotated[list[FormulaName], NoDecode] = Field(
        default_factory=lambda: list(get_args(FormulaName))
    )
    max_tool_rounds: int = Field(default=8, ge=1, le=64)
    # The MCP tools offered (a shorter tools/list costs the host model less context).
    tools: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(TOOL_NAMES))
    config: Path | None = Field(default=None, exclude=True)

    @field_validator("api_key")
    @classmethod
    def _usable_key(cls, key: SecretStr | None) -> SecretStr | None:
        usable = checked_key(key.get_secret_value()) if key is not None else ""
        return SecretStr(usable) if usable else None  # blank: as if unset (start-up says so)

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

    @field_validator("kimi_tools_allowed", mode="before")
    @classmethod
    def _parse_tool_names(cls, value: Any) -> Any:
        return _split_list(value, ",")

    @field_validator("tools", mode="before")
    @classmethod
    def _parse_exposed_tools(cls, value: Any) -> Any:
        return _split_list(value, ",")

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, names: list[str]) -> list[str]:
        unknown = [name for name in names if name not in TOOL_NAMES]
        if unknown:
            raise ValueError(
                f"unknown tool name(s) {', '.join(map(repr, unknown))}; the tools are: "
                f"{', '.join(TOOL_NAMES)}"
            )
        if not names:
            raise ValueError(
                f"name at least one of {', '.join(TOOL_NAMES)}, or leave tools unset for all"
            )
        return names

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _parse_names(cls, value: Any) -> Any:
        return _split_list(value, ",")

    @field_validator("request_state_keys", mode="before")
    @classmethod
    def _parse_state_keys(cls, value: Any) -> Any:
        return _split_list(value, ",")

    @field_validator("request_state_keys")
    @classmethod
    def _strong_state_keys(cls, keys: list[SecretStr] | None) -> list[SecretStr] | None:
        if keys is None:
            return None
        if not keys:
            raise ValueError("give at least one key, or leave request_state_keys unset")
        # Never the key itself in the message: only which one, and how to make a good one.
        short = [str(n + 1) for n, k in enumerate(keys) if len(k.get_secret_value()) < 32]
        if short:
            raise ValueError(
                f"key {', '.join(short)} is shorter than 32 characters; make each with "
                "python3 -c 'import secrets; print(secrets.token_hex(32))'"
            )
        if len({k.get_secret_value() for k in keys}) != len(keys):
            raise ValueError("the same key is listed twice: give each key once")
        return keys

    @field_validator("auth_tokens")
    @classmethod
    def _owner_names(cls, tokens: dict[SecretStr, str] | None) -> dict[SecretStr, str] | None:
        if tokens is not None and not tokens:
            raise ValueError("give at least one token, or leave auth_tokens unset")
        bad = [o for o in (tokens or {}).values() if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", o)]
        if bad:
            raise ValueError(
                f"owner names are 1-64 letters, digits or _.@- (got {', '.join(map(repr, bad))})"
            )
        return tokens

    @field_validator("prices")
    @classmethod
    def _named_models(cls, prices: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        if any(not name.strip() for name in prices):
            raise ValueError('name the model: [prices."kimi-k2.6"]')
        return prices

    @field_validator("daily_spend_cap")
    @classmethod
    def _cap_above_zero(cls, cap: float | None) -> float | None:
        if cap is not None and not (math.isfinite(cap) and cap > 0):
            raise ValueError(
                f"{cap:g} is not an amount above 0; set one in the prices' currency (USD on "
                "global, CNY on china), such as 5.0, or leave it unset for no cap"
            )
        return cap

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("allowed_dirs")
    @classmethod
    def _dirs_exist(cls, dirs: list[Path]) -> list[Path]:
        # Empty (set so, or the working directory being too broad): no local file is read.
        resolved = [Path(os.path.realpath(d.expanduser())) for d in dirs]
        missing = [str(d) for d in resolved if not d.is_dir()]
        if missing:
            raise ValueError(f"not a directory: {', '.join(missing)}")
        return resolved

    @field_validator("store_url")
    @classmethod
    def _check_store_url(cls, url: str | None) -> str | None:
        # The messages never quote the URL: it may hold Redis' password.
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
                raise ValueError(
                    "a SQLite store URL names a directory by its absolute path: "
                    "sqlite:///var/lib/kimi-mcp (or leave store_url unset for data_dir)"
                )
            return url
        if parts.scheme in ("redis", "rediss"):
            _check_redis_url(parts)
            return url
        raise ValueError(
            "must be sqlite:///<directory> or redis://[:password@]host:port/db (rediss:// for TLS)"
        )

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
        import tomllib  # here: most starts have no config file (~2.5 ms of imports)

        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        if "config" in data:
            raise ConfigError(f"{path}: 'config' cannot be set inside a config file")
        if "api_key" in data:
            _check_private(path)
        return data


def _check_private(path: Path) -> None:
    """A key in the config file only when no one else can read it (the file is often copied
    from the example with the umask's 0644, and /home is readable by every user on many hosts)."""
    if os.name != "posix":
        return  # Windows has ACLs, not mode bits; its profile directories are private already
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{path} holds api_key but other users can read it (mode {mode:03o}): run "
            f"`chmod 600 {path}`, or remove api_key from it and set MOONSHOT_API_KEY in the "
            "server's environment instead"
        )


def load_settings(**flags: Any) -> Settings:
    """Build Settings from flags that were actually given (None means 'not given').

    Raises:
        ConfigError: a bad value, an unknown TOML key or a missing named config file.
    """
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc)) from None


def _check_redis_url(parts: SplitResult) -> None:
    try:
        port = parts.port
    except ValueError:
        port = -1
    database = parts.path.strip("/")
    if not parts.hostname or port == -1 or (database and not database.isdigit()):
        raise ValueError(
            "a Redis store URL is redis://[:password@]host:port/db, such as "
            "redis://127.0.0.1:6379/0 (rediss:// for TLS)"
        )
    if importlib.util.find_spec("redis") is None:
        raise ValueError(
            "a Redis store needs the redis package, not installed here: "
            "pip install 'kimi-mcp[redis]'"
        )


def describe_invalid(exc: ValidationError) -> str:
    """One line naming each invalid setting and what it takes (the start-up error)."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        if error["loc"][0] == "prices" and error["type"] in ("extra_forbidden", "missing"):
            problems.append(f"{where}: {PRICE_KEYS}")
        elif error["type"] == "extra_forbidden":
            problems.append(f"unknown setting '{where}'")
        else:
            problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(problems)
