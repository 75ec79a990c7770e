"""Lab Ollama's settings, read from the same ``OLLAMA_*`` variables Ollama reads.

Parsed as Ollama's ``envconfig`` parses them: values are trimmed of spaces and
quotes; a number that does not parse warns and falls back to the default (the
server still starts); a boolean that ``strconv.ParseBool`` rejects counts as true.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .. import config

log = logging.getLogger("lab_ollama.settings")
_TRUE, _FALSE = {"1", "t", "T", "TRUE", "true", "True"}, {"0", "f", "F", "FALSE", "false", "False"}
KV_CACHE_TYPES = ("f16", "q8_0", "q4_0")
#: Origins Ollama allows before OLLAMA_ORIGINS adds its own (envconfig.AllowedOrigins).
DEFAULT_ORIGINS = [f"{scheme}://{host}{port}" for host in ("localhost", "127.0.0.1", "0.0.0.0")
                   for scheme in ("http", "https") for port in ("", ":*")] + [
    "app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"]  # fmt: skip


def _default_models() -> Path:
    """A course folder, never the learner's real ~/.ollama."""
    return config.course_home() / "ollama" / "models"


def trim(value: Any) -> Any:
    """Go's ``strings.Trim(strings.TrimSpace(s), "\\"'")``.

    >>> trim(' "2" '), trim("'q8_0'")
    ('2', 'q8_0')
    """
    return value.strip().strip("\"'") if isinstance(value, str) else value


def go_bool(value: Any) -> bool:
    """Ollama's bools: empty is false, ParseBool's words count, anything else is true.

    >>> [go_bool(v) for v in ("", "0", "false", "1", "yes")]
    [False, False, False, True, True]
    """
    if isinstance(value, bool):
        return value
    text = trim(str(value))
    return bool(text) and text not in _FALSE


class LabSettings(BaseSettings):
    """Each field is an ``OLLAMA_<NAME>`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="OLLAMA_", extra="ignore")

    host: str = Field("127.0.0.1:11434", description="Where to listen, parsed as Ollama parses OLLAMA_HOST.")
    models: Path = Field(default_factory=_default_models, description="The model store (OLLAMA_MODELS).")
    keep_alive: str = Field("5m", description="How long a model stays loaded after a request.")
    num_parallel: int = Field(1, ge=1, description="Requests decoded together per model.")
    max_queue: int = Field(512, ge=1, description="Requests that may wait before 503.")
    max_loaded_models: int = Field(0, ge=0, description="0 means 3 per GPU (3 on CPU).")
    context_length: int = Field(0, ge=0, description="Default num_ctx; 0 = 4096, Ollama's tier for a CPU.")
    debug: str = Field("", description="1 = debug logs (llama.cpp's too), as OLLAMA_DEBUG.")
    noprune: bool = Field(False, description="Keep unreferenced blobs at start.")
    origins: str = Field("", description="Extra CORS origins, comma-separated, added to Ollama's defaults.")
    kv_cache_type: str = Field("", description="f16 (default), q8_0 or q4_0: the KV cache's element type.")
    flash_attention: str = Field("", description="Unset = auto, 1 = on, 0 = off (llama.cpp's flash attention).")

    @field_validator("models", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        value = trim(value)
        return Path(value).expanduser() if isinstance(value, str) and value else value

    @field_validator("host", "keep_alive", "debug", "origins", "kv_cache_type", "flash_attention", mode="before")
    @classmethod
    def _trimmed(cls, value: object) -> object:
        return trim(value)

    @field_validator("noprune", mode="before")
    @classmethod
    def _bool(cls, value: object) -> bool:
        return go_bool(value)

    @field_validator("num_parallel", "max_queue", "max_loaded_models", "context_length", mode="wrap")
    @classmethod
    def _number_or_default(cls, value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> int:
        """A bad number warns and keeps the default, as Go's envconfig.Uint does."""
        try:
            return handler(trim(value))
        except ValidationError:
            default = cls.model_fields[info.field_name].default
            log.warning("invalid environment variable, using default key=OLLAMA_%s value=%r default=%s",
                        info.field_name.upper(), value, default)  # fmt: skip
            return default

    @property
    def bind(self) -> tuple[str, int]:
        """Host and port to bind; loopback unless OLLAMA_HOST says otherwise."""
        parsed = config.parse_ollama_host(self.host)
        return parsed.host, parsed.port

    @property
    def allowed_origins(self) -> list[str]:
        """OLLAMA_ORIGINS first, then Ollama's defaults."""
        extra = [o.strip() for o in self.origins.split(",") if o.strip()]
        return extra + DEFAULT_ORIGINS

    @property
    def flash_attention_mode(self) -> bool | None:
        """None = auto (unset), else on or off."""
        return None if self.flash_attention == "" else go_bool(self.flash_attention)

    @property
    def cache_type(self) -> str:
        """The KV cache type llama.cpp gets: a quantized cache needs flash attention,
        so with it off (or an unknown type) Ollama warns and uses f16."""
        wanted = self.kv_cache_type.lower()
        if wanted in ("", "f16"):
            return "f16"
        if wanted not in KV_CACHE_TYPES:
            log.warning("unsupported OLLAMA_KV_CACHE_TYPE %r, using f16", self.kv_cache_type)
            return "f16"
        if self.flash_attention_mode is False:
            log.warning("OLLAMA_KV_CACHE_TYPE=%s needs flash attention, which is off: using f16", wanted)
            return "f16"
        return wanted
