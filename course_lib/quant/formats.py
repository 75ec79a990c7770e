"""GGUF block formats in bits: what a block of each type holds, and which types a file
uses (lesson 07).

A quantized GGUF tensor is a sequence of blocks; each block stores ``block_size``
weights in ``type_size`` bytes: small integers plus one or more scales (and minimums).
Bits per weight = ``8 × type_size / block_size``. The sizes come from the ``gguf``
package's ``GGML_QUANT_SIZES``, the Python mirror of llama.cpp's ``ggml-common.h``.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from .. import gguf_info

#: What a block holds, as llama.cpp's ggml-common.h declares it (fields, bytes).
LAYOUTS = {
    "F16": "one float16 per weight",
    "Q8_0": "d: f16 scale (2 B) + 32 × int8 (32 B)",
    "Q4_0": "d: f16 scale (2 B) + 32 × 4-bit (16 B); weight = d × (q − 8)",
    "Q4_1": "d, m: f16 scale and minimum (4 B) + 32 × 4-bit (16 B); weight = d × q + m",
    "Q5_0": "d: f16 (2 B) + 32 high bits (4 B) + 32 × low 4 bits (16 B)",
    "Q2_K": "256 weights: 16 × (4-bit scale, 4-bit min) (16 B) + 256 × 2-bit (64 B) + d, dmin f16 (4 B)",
    "Q3_K": "256 weights: high-bit mask (32 B) + 256 × 2-bit (64 B) + 16 × 6-bit scales (12 B) + d f16 (2 B)",
    "Q4_K": "256 weights: d, dmin f16 (4 B) + 8 × (6-bit scale, 6-bit min) (12 B) + 256 × 4-bit (128 B)",
    "Q5_K": "256 weights: d, dmin f16 (4 B) + scales/mins (12 B) + high bits (32 B) + 256 × 4-bit (128 B)",
    "Q6_K": "256 weights: 256 × low 4 bits (128 B) + high 2 bits (64 B) + 16 × int8 scales (16 B) + d f16 (2 B)",
}


def block_layout(type_name: str) -> dict:
    """Block size, bytes per block and bits per weight of a GGML type, from gguf's table."""
    import gguf

    qtype = gguf.GGMLQuantizationType[type_name]
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    return {"type": type_name, "block_size": block_size, "bytes_per_block": type_size,
            "bits_per_weight": 8 * type_size / block_size, "layout": LAYOUTS.get(type_name, "")}  # fmt: skip


def reader(path: Path):
    """A ``gguf.GGUFReader`` of ``path``, kept while the file is unchanged: parsing the
    tokenizer's 49,152 strings in Python takes seconds, so a lesson reads each file once."""
    stat = Path(path).stat()
    return _reader(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _reader(path: str, mtime_ns: int, size: int):
    from gguf import GGUFReader

    return GGUFReader(path)


def tensor_mix(path: Path) -> list[dict]:
    """Per GGML type in a GGUF file: tensors, weights, bytes and bits per weight."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for tensor in gguf_info.read(path).tensors:
        entry = totals[tensor.type_name]
        entry[0] += 1
        entry[1] += tensor.n_elements
        entry[2] += tensor.n_bytes
    return [{"type": name, "tensors": n, "weights": weights, "bytes": size, "bits_per_weight": 8 * size / weights}
            for name, (n, weights, size) in sorted(totals.items(), key=lambda kv: -kv[1][1])]  # fmt: skip


def file_bits_per_weight(path: Path) -> tuple[int, float]:
    """Parameters of a GGUF file and its weights' bits per weight (tensor bytes only)."""
    mix = tensor_mix(path)
    weights = sum(m["weights"] for m in mix)
    return weights, 8 * sum(m["bytes"] for m in mix) / weights
