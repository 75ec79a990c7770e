"""A PEFT LoRA folder → llama.cpp's LoRA GGUF, with the ``gguf`` package.

The same layout llama.cpp's ``convert_lora_to_gguf.py`` writes: ``general.type`` =
adapter, ``adapter.type`` = lora, ``adapter.lora.alpha``, and per adapted weight two
tensors ``blk.N.<tensor>.weight.lora_a`` (rank × in) and ``.lora_b`` (out × rank). Only
projections whose layout llama.cpp keeps as in Hugging Face are mapped (q and k are
permuted for RoPE by llama.cpp's converter, so the course's adapters avoid them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

#: Hugging Face Llama module → llama.cpp tensor name.
GGUF_NAMES = {
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"base_model\.model\.model\.layers\.(\d+)\.(.+)\.lora_([AB])\.weight")


def convert(peft_dir: Path, out: Path) -> Path:
    """Write ``out`` (a LoRA GGUF) from the PEFT folder ``peft_dir``; F16 tensors."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((peft_dir / "adapter_config.json").read_text())
    tensors = load_file(str(peft_dir / "adapter_model.safetensors"))
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for key in sorted(tensors, key=_order):
        layer, module, which = _KEY.fullmatch(key).groups()
        if module not in GGUF_NAMES:
            raise ValueError(f"{key}: llama.cpp layout of {module} is not handled here")
        name = f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{which.lower()}"
        writer.add_tensor(name, tensors[key].astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _order(key: str) -> tuple:
    layer, module, which = _KEY.fullmatch(key).groups()
    return int(layer), module, which
