"""Lab Ollama's settings, read from the same ``OLLAMA_*`` variables Ollama reads."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .. import config


def _default_models() -> Path:
    """A course folder, never the learner's real ~/.ollama."""
    return config.course_home() / "ollama" / "models"


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

    @field_validator("models", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        return Path(value).expanduser() if isinstance(value, str) and value else value

    @property
    def bind(self) -> tuple[str, int]:
        """Host and port to bind; loopback unless OLLAMA_HOST says otherwise."""
        parsed = config.parse_ollama_host(self.host)
        return parsed.host, parsed.port
