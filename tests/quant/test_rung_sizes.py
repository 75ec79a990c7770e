"""Each rung of lesson 07's ladder: its file size is what its bits per weight say."""

from pathlib import Path

import pytest

from course_lib.quant import formats
from course_lib.quant.f16_gguf import f16_gguf
from course_lib.quant.ladder import llama_quantize

RUNGS = ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K"]


@pytest.mark.parametrize(
    ("type_name", "block_size", "bytes_per_block", "bits"),
    [("Q8_0", 32, 34, 8.5), ("Q4_0", 32, 18, 4.5), ("Q4_1", 32, 20, 5.0), ("Q4_K", 256, 144, 4.5),
     ("Q6_K", 256, 210, 6.5625), ("Q2_K", 256, 84, 2.625), ("F16", 1, 2, 16.0)],
)  # fmt: skip
def test_block_layouts_match_llama_cpp(type_name, block_size, bytes_per_block, bits):
    layout = formats.block_layout(type_name)
    assert (layout["block_size"], layout["bytes_per_block"], layout["bits_per_weight"]) == (
        block_size, bytes_per_block, bits)


@pytest.fixture(scope="module")
def rungs(tmp_path_factory) -> dict[str, Path]:
    """The ladder, made once from smollm2:135m-instruct-fp16's GGUF (~5 s a rung)."""
    folder = tmp_path_factory.mktemp("rungs")
    source = f16_gguf()
    return {"F16": source, **{t: llama_quantize(source, folder / f"{t}.gguf", t) for t in RUNGS}}


@pytest.mark.parametrize("rung", ["F16", *RUNGS])
def test_rung_size_matches_its_bits_per_weight(rungs, rung):
    """Size predicted from the tensor mix (weights × bits of each type) within 5%."""
    path = rungs[rung]
    mix = formats.tensor_mix(path)
    predicted = sum(m["weights"] * formats.block_layout(m["type"])["bits_per_weight"] / 8 for m in mix)
    assert abs(path.stat().st_size - predicted) / path.stat().st_size < 0.05
    assert sum(m["weights"] for m in mix) == 134_515_008


def test_f16_is_the_largest_and_q2_k_the_smallest(rungs):
    """Not a strict ladder in between: SmolLM2's 576-wide rows are no multiple of 256, so
    K-quants fall back to other types for many tensors (Q3_K_M ends up larger than Q4_0)."""
    sizes = {rung: path.stat().st_size for rung, path in rungs.items()}
    assert max(sizes, key=sizes.get) == "F16" and min(sizes, key=sizes.get) == "Q2_K", sizes
