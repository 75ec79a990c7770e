"""Weights loader: the course's converted safetensors, read into float32 NumPy arrays.

``course model prepare`` writes SmolLM2-135M-Instruct as bfloat16 safetensors (the
bundled Q4_1 GGUF, dequantized: the weights vLLM serves). NumPy has no bfloat16, but
a bf16 number is the top half of a float32, so widening is a 16-bit shift. The
safetensors format is an 8-byte header length, a JSON header (name -> dtype, shape,
byte offsets) and the raw bytes. Taught in notebook 05.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


@dataclass(frozen=True)
class ModelConfig:
    """The shapes the forward pass needs, read from the model's config.json."""

    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    rope_theta: float
    rms_norm_eps: float
    tie_word_embeddings: bool
    eos_token_id: int

    @classmethod
    def from_json(cls, config: dict) -> ModelConfig:
        heads = config["num_attention_heads"]
        eos = config.get("eos_token_id", -1)
        return cls(
            num_layers=config["num_hidden_layers"],
            hidden_size=config["hidden_size"],
            intermediate_size=config["intermediate_size"],
            num_heads=heads,
            num_kv_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            vocab_size=config["vocab_size"],
            rope_theta=float(config.get("rope_theta") or config.get("rope_parameters", {})["rope_theta"]),
            rms_norm_eps=float(config["rms_norm_eps"]),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            eos_token_id=eos[0] if isinstance(eos, list) else eos,
        )

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V of every layer for one token, in float32 (4 bytes)."""
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * 4


def model_dir() -> Path:
    """The weights vLLM serves here (``course_lib.MODEL``): the folder ``course model
    prepare`` wrote, or the original release when it sits in the Hugging Face cache."""
    from .. import config

    model = config.vllm_model()
    if Path(model).is_dir():
        return Path(model)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(model, local_files_only=True))


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of one .safetensors file as float32, widening bf16 and fp16."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    header_len = int(raw[:8].view(np.uint64)[0])
    header = json.loads(bytes(raw[8 : 8 + header_len]))
    data = raw[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        values = data[start:end].view(_DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":
            values = (values.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = values.astype(np.float32).reshape(info["shape"])
    return tensors


def load_weights(folder: Path | None = None) -> tuple[ModelConfig, dict[str, np.ndarray]]:
    """(config, weights by Hugging Face name) from a converted model folder."""
    folder = Path(folder or model_dir())
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no model in {folder}: run `course model prepare` first")
    config = ModelConfig.from_json(json.loads((folder / "config.json").read_text()))
    weights: dict[str, np.ndarray] = {}
    for file in sorted(folder.glob("*.safetensors")):
        weights.update(read_safetensors(file))
    return config, weights


class Tokenizer:
    """The model's tokenizer, from the bundled GGUF through llama.cpp (vocabulary only)."""

    def __init__(self) -> None:
        from llama_cpp import Llama

        from ..model import bundled_gguf

        self._llama = Llama(str(bundled_gguf()), vocab_only=True, verbose=False)

    def encode(self, text: str) -> list[int]:
        return self._llama.tokenize(text.encode(), add_bos=False, special=True)

    def decode(self, token_ids: list[int]) -> str:
        return self._llama.detokenize(list(token_ids)).decode(errors="replace")
