"""Where the course's LoRA adapters are, in both formats."""

from __future__ import annotations

import json
from pathlib import Path

ADAPTERS_ROOT = Path(__file__).resolve().parent / "adapters"
#: The adapters the course ships, each with a PEFT folder and a GGUF copy.
ADAPTER_NAMES = ("pirate", "robot")


def adapter_dir(name: str) -> Path:
    """The PEFT folder (``adapter_config.json`` + ``adapter_model.safetensors``): what
    vLLM's ``--lora-modules name=path`` and ``LoRARequest`` load."""
    if name not in ADAPTER_NAMES:
        raise ValueError(f"no adapter {name!r}; the course has {', '.join(ADAPTER_NAMES)}")
    return ADAPTERS_ROOT / name


def gguf_path(name: str) -> Path:
    """The llama.cpp copy: what a Modelfile's ``ADAPTER`` line points at."""
    return ADAPTERS_ROOT / f"{name}.gguf"


def adapter_config(name: str) -> dict:
    """The adapter's ``adapter_config.json`` (rank ``r``, ``lora_alpha``, ``target_modules``)."""
    return json.loads((adapter_dir(name) / "adapter_config.json").read_text())
