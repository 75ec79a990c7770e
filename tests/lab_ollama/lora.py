"""A tiny LoRA adapter for SmolLM2-135M, written with the ``gguf`` package.

Rank 1 on every attention query projection. ``strength`` 0 gives a zero B matrix
(the adapter changes nothing); a large one changes what the model says.
"""

from pathlib import Path

import numpy as np

N_EMBD, N_LAYERS, RANK = 576, 30, 1  # SmolLM2-135M


def write_lora(path: Path, strength: float, seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(RANK))
    for layer in range(N_LAYERS):
        a = rng.standard_normal((RANK, N_EMBD)).astype(np.float32)  # GGUF ne = [n_in, rank]
        b = (strength * rng.standard_normal((N_EMBD, RANK))).astype(np.float32)  # ne = [rank, n_out]
        writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_a", a)
        writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
