"""An INT8 W8A8 checkpoint of the course's model, made here, for vLLM (lesson 07).

vLLM serves checkpoints quantized beforehand. The one kind its x86 CPU build runs
without AVX-512 is INT8 W8A8 in the ``compressed-tensors`` format: int8 weights with
one scale per output channel, and activations quantized to int8 per token at run
time (oneDNN's int8 GEMM). llm-compressor writes such checkpoints after a SmoothQuant
and GPTQ calibration pass; this module writes the same format by plain
round-to-nearest (no calibration), in NumPy, from the course's prepared model, so the
lesson can measure what the format costs and buys on this machine.

The folder is written beside the prepared model and renamed into place only when
complete: a killed run leaves no half checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from .. import model as course_model

#: The layers quantized: every linear layer of the decoder blocks (attention and MLP).
#: The tied embedding / LM head and the norms stay in the source dtype.
QUANTIZED_SUFFIX = "proj.weight"
SCALE_BYTES = 2  # one bf16 scale per output channel, as llm-compressor writes it

#: ``quantization_config`` of a W8A8 INT8 checkpoint, as llm-compressor's W8A8 recipe
#: writes it (compressed-tensors ``int-quantized`` format).
QUANTIZATION_CONFIG = {
    "quant_method": "compressed-tensors",
    "format": "int-quantized",
    "quantization_status": "compressed",
    "ignore": ["lm_head"],
    "config_groups": {
        "group_0": {
            "targets": ["Linear"],
            "weights": {"num_bits": 8, "type": "int", "symmetric": True,
                        "strategy": "channel", "dynamic": False},
            "input_activations": {"num_bits": 8, "type": "int", "symmetric": True,
                                  "strategy": "token", "dynamic": True},
        }
    },
}
MARKER = "course_w8a8.json"


def quantize_per_channel(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel (row): ``weight ≈ q * scale``, |error| ≤ scale/2."""
    scale = np.abs(weight).max(axis=1, keepdims=True).astype(np.float32) / 127
    scale[scale == 0] = 1.0  # an all-zero row: any scale reproduces it
    q = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    return q, scale


def checkpoint_dir(source: Path) -> Path:
    """Where the W8A8 folder of a prepared model lives: beside it, ``<name>-w8a8-int8``."""
    return source.parent / f"{source.name}-w8a8-int8"


def predicted_bytes(shapes: dict[str, tuple[int, ...]], source_bytes_per_value: int = 2) -> int:
    """Tensor bytes of the W8A8 file, from the source's tensor shapes (header excluded)."""
    total = 0
    for name, shape in shapes.items():
        count = int(np.prod(shape))
        if name.endswith(QUANTIZED_SUFFIX):
            total += count * 1 + shape[0] * SCALE_BYTES
        else:
            total += count * source_bytes_per_value
    return total


def llama_shapes(hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, head_dim: int,
                 vocab: int, tied: bool) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes (output × input) of a Llama-style checkpoint, from its config."""
    shapes = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,)}
    if not tied:
        shapes["lm_head.weight"] = (vocab, hidden)
    for i in range(layers):
        block = f"model.layers.{i}."
        shapes.update({
            block + "input_layernorm.weight": (hidden,), block + "post_attention_layernorm.weight": (hidden,),
            block + "self_attn.q_proj.weight": (heads * head_dim, hidden),
            block + "self_attn.k_proj.weight": (kv_heads * head_dim, hidden),
            block + "self_attn.v_proj.weight": (kv_heads * head_dim, hidden),
            block + "self_attn.o_proj.weight": (hidden, heads * head_dim),
            block + "mlp.gate_proj.weight": (intermediate, hidden), block + "mlp.up_proj.weight": (intermediate, hidden),
            block + "mlp.down_proj.weight": (hidden, intermediate)})  # fmt: skip
    return shapes


def make_checkpoint(source: Path | None = None, *, force: bool = False) -> Path:
    """Write (once) the W8A8 INT8 checkpoint of the prepared model and return its folder."""
    import torch  # present wherever vLLM is; the checkpoint serves only vLLM
    from safetensors.torch import load_file, save_file

    if source is None:
        prepared = course_model.prepared_model()
        if prepared is None:
            raise FileNotFoundError("No model prepared for vLLM: run `course model prepare` first.")
        source = prepared.path
    target = checkpoint_dir(source)
    if (target / MARKER).is_file() and not force:
        return target
    course_model.remove_leftovers(target)
    scratch = target.parent / f"{course_model.TMP_MARK}{target.name}-{os.getpid()}"
    try:
        scratch.mkdir(parents=True)
        tensors = {}
        for name, tensor in load_file(source / "model.safetensors").items():
            if name.endswith(QUANTIZED_SUFFIX):
                q, scale = quantize_per_channel(tensor.float().numpy())
                tensors[name] = torch.from_numpy(q)
                tensors[name[: -len("weight")] + "weight_scale"] = torch.from_numpy(scale).to(torch.bfloat16)
            else:
                tensors[name] = tensor
        save_file(tensors, scratch / "model.safetensors", metadata={"format": "pt"})
        for item in source.iterdir():
            if item.is_file() and item.name not in ("model.safetensors", "config.json", "README.md"):
                shutil.copy2(item, scratch / item.name)
        config = json.loads((source / "config.json").read_text())
        config["quantization_config"] = QUANTIZATION_CONFIG
        (scratch / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (scratch / MARKER).write_text(json.dumps(
            {"source": str(source), "method": "round-to-nearest, per output channel, no calibration"},
            indent=2) + "\n")
        course_model.replace_dir(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def tensor_shapes(folder: Path) -> dict[str, tuple[int, ...]]:
    """Names and shapes of a safetensors file's tensors, read from its header only."""
    from safetensors import safe_open

    with safe_open(folder / "model.safetensors", framework="np") as handle:
        return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
