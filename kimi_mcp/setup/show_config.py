"""`kimi-mcp config`: the effective settings and where each came from (flag, env, file, default),
secrets masked to their last 4 characters; `--example` prints the example file in the package.

Where a value came from is not guessed from the values: pydantic-settings hands each source
what the sources before it supplied (`settings_sources_data`), so one more source placed last
sees exactly what the flags, the environment and the TOML file each gave.
"""

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
)

from kimi_mcp.config import Settings, TomlFileSource, default_config_path, describe_invalid
from kimi_mcp.errors import ConfigError
from kimi_mcp.store.store_url import masked_url

Origin = Literal["flag", "env", "file", "default"]
# The command-line flag of each setting that has one (kimi_mcp.__main__).
FLAGS = {
    "config": "--config",
    "default_model": "--model",
    "log_level": "--log-level",
    "allowed_dirs": "--allow-dir",
    "host": "--host",
    "port": "--port",
}
SHOWN_ITEMS = 4  # a long list (deny_names) is cut in the text form; --json shows it whole


@dataclass(frozen=True)
class Source:
    origin: Origin
    name: str = ""  # the flag, the variable or the file; "" for a default

    def __str__(self) -> str:
        return f"{self.origin} {self.name}".strip()


@dataclass(frozen=True)
class TracedSettings:
    settings: Settings
    sources: dict[str, Source]  # every setting, by field name
    config_file: Path | None  # the TOML file read, if any


def mask(secret: str) -> str:
    """Enough to tell two keys apart, never enough to use one: its last 4 characters."""
    return f"...{secret[-4:]}" if len(secret) >= 12 else "(set, too short to show any of it)"


def load_traced(flags: dict[str, Any]) -> TracedSettings:
    """The settings `load_settings(**flags)` gives, and where each value came from.

    Raises:
        ConfigError: as load_settings does.
    """
    given = {name: value for name, value in flags.items() if value is not None}
    supplied: dict[str, dict[str, Any]] = {}

    class Tracing(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources = super().settings_customise_sources(
                settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
            )
            return (*sources, _Recorder(settings_cls, supplied))

    try:
        settings = Tracing(**given)
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc)) from None
    config_file = _config_file(settings)
    sources = {
        name: _source_of(name, field, supplied, config_file)
        for name, field in Settings.model_fields.items()
    }
    return TracedSettings(settings, sources, config_file)


class _Recorder(PydanticBaseSettingsSource):
    """Supplies nothing; keeps what each source before it supplied."""

    def __init__(self, settings_cls: type[BaseSettings], into: dict[str, dict[str, Any]]) -> None:
        super().__init__(settings_cls)
        self._into = into

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ answers for every field at once

    def __call__(self) -> dict[str, Any]:
        self._into.update(self.settings_sources_data)
        return {}


def _config_file(settings: Settings) -> Path | None:
    path = settings.config.expanduser() if settings.config else default_config_path()
    return path if path.is_file() else None


def _source_of(
    name: str, field: FieldInfo, supplied: dict[str, dict[str, Any]], config_file: Path | None
) -> Source:
    def gave(source: type[PydanticBaseSettingsSource]) -> bool:
        # A source keys a value by the field's name or, for the environment, its first alias.
        keys = {key.lower() for key in supplied.get(source.__name__, {})}
        return not keys.isdisjoint(k.lower() for k in (name, *_aliases(field)))

    if gave(InitSettingsSource):
        return Source("flag", FLAGS.get(name, name))
    if gave(EnvSettingsSource):
        return Source("env", _variable_set(name, field))
    if gave(TomlFileSource):
        return Source("file", str(config_file))
    return Source("default")


def _aliases(field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return []


def _variable_set(name: str, field: FieldInfo) -> str:
    """Which environment variable gave the value (the first set, as pydantic-settings reads)."""
    candidates = _aliases(field) or [f"KIMI_MCP_{name.upper()}"]
    present = {variable.upper() for variable in os.environ}
    return next((c for c in candidates if c.upper() in present), candidates[0])


def shown_value(value: Any) -> Any:
    """A setting as JSON can carry it, secrets masked."""
    if isinstance(value, SecretStr):
        return mask(value.get_secret_value())
    if isinstance(value, dict):
        return {str(shown_value(key)): shown_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shown_value(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def _shown_setting(name: str, value: Any) -> Any:
    if name == "store_url" and isinstance(value, str):
        return masked_url(value)  # the URL stays readable, its password never shown
    return shown_value(value)


def as_json(traced: TracedSettings) -> dict[str, Any]:
    settings = {
        name: {
            "value": _shown_setting(name, getattr(traced.settings, name)),
            "source": source.origin,
            "from": source.name or None,
        }
        for name, source in traced.sources.items()
    }
    file = str(traced.config_file) if traced.config_file else None
    return {"config_file": file, "settings": settings}


def as_text(traced: TracedSettings) -> str:
    if traced.config_file is None:
        lines = [f"config file: none (no file at {default_config_path()})"]
    else:
        lines = [f"config file: {traced.config_file} ({traced.sources['config']})"]
    width = max(map(len, traced.sources))
    for name, source in traced.sources.items():
        if name == "config":
            continue  # the line above says it
        value = _short(_shown_setting(name, getattr(traced.settings, name)))
        lines.append(f"{name:<{width}}  {value}  ({source})")
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) > SHOWN_ITEMS:
        head = ", ".join(map(str, value[:SHOWN_ITEMS]))
        return f"[{head}, ... {len(value)} in all; --json shows every one]"
    if value is None:
        return "(not set)"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def example_text() -> str:
    return resources.files("kimi_mcp").joinpath("config.example.toml").read_text(encoding="utf-8")


def show_config(flags: dict[str, Any], *, json_output: bool, example: bool) -> str:
    """What `kimi-mcp config` prints.

    Raises:
        ConfigError: a bad setting (the command exits 2 as the server would).
    """
    if example:
        return example_text()
    traced = load_traced(flags)
    return json.dumps(as_json(traced), indent=2) if json_output else as_text(traced)
