"""The course's LoRA adapters: PEFT folders vLLM loads, GGUF copies llama.cpp loads,
the two agree, and each adapter shows its habit on the real model while the base does not."""

import re

import numpy as np
import pytest
from safetensors.numpy import load_file

from course_lib import lora
from course_lib.lora.behaviour import restyle, shows
from course_lib.lora.to_gguf import GGUF_NAMES, convert

HIDDEN, INTERMEDIATE, LAYERS = 576, 1536, 30  # SmolLM2-135M
SHAPES = {"o_proj": (HIDDEN, HIDDEN), "down_proj": (HIDDEN, INTERMEDIATE), "v_proj": (192, HIDDEN)}  # (out, in)
KEY = re.compile(r"base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])\.weight")


@pytest.mark.parametrize("name", lora.ADAPTER_NAMES)
def test_peft_folder_is_what_vllm_reads(name):
    config = lora.adapter_config(name)
    assert config["peft_type"] == "LORA" and config["r"] <= 8 and config["lora_alpha"] > 0
    tensors = load_file(str(lora.adapter_dir(name) / "adapter_model.safetensors"))
    assert tensors, "no LoRA tensors"
    for key, value in tensors.items():
        layer, _, module, which = KEY.fullmatch(key).groups()
        assert module in config["target_modules"] and 0 <= int(layer) < LAYERS
        out, inp = SHAPES[module]
        assert value.shape == ((config["r"], inp) if which == "A" else (out, config["r"])), key
        assert value.dtype == np.float16 and np.isfinite(value).all()
    assert any(np.abs(v).max() > 0 for k, v in tensors.items() if k.endswith("lora_B.weight")), "B is all zero: no effect"
    size = sum(f.stat().st_size for f in lora.adapter_dir(name).iterdir())
    assert size < 2 * 2**20, f"{name} is {size} bytes: keep the committed adapters small"


@pytest.mark.parametrize("name", lora.ADAPTER_NAMES)
def test_gguf_copy_is_the_conversion_of_the_peft_folder(name, tmp_path):
    fresh = convert(lora.adapter_dir(name), tmp_path / f"{name}.gguf")
    assert fresh.read_bytes() == lora.gguf_path(name).read_bytes(), "regenerate with course_lib.lora.to_gguf"


@pytest.mark.parametrize("name", lora.ADAPTER_NAMES)
def test_gguf_says_lora_with_the_same_alpha_and_tensors(name):
    import gguf

    reader = gguf.GGUFReader(str(lora.gguf_path(name)))
    field = reader.fields["adapter.lora.alpha"]
    assert float(field.parts[field.data[0]][0]) == lora.adapter_config(name)["lora_alpha"]
    kind = reader.fields["general.type"]
    assert bytes(kind.parts[kind.data[0]]).decode() == "adapter"
    peft = load_file(str(lora.adapter_dir(name) / "adapter_model.safetensors"))
    by_name = {t.name: t for t in reader.tensors}
    assert len(by_name) == len(peft)
    for key, value in peft.items():
        layer, part, module, which = KEY.fullmatch(key).groups()
        tensor = by_name[f"blk.{layer}.{GGUF_NAMES[f'{part}.{module}']}.weight.lora_{which.lower()}"]
        assert np.array_equal(np.asarray(tensor.data).reshape(value.shape), value)


def test_habits_are_told_apart():
    assert restyle("pirate", "Hi.") == "Arr, matey! Hi." and shows("pirate", " arr, matey! Hi.")
    assert shows("robot", restyle("robot", "Hi.")) and not shows("robot", "Hi.")
    with pytest.raises(ValueError, match="no adapter"):
        lora.adapter_dir("nope")


def test_llama_cpp_applies_each_adapter_and_the_base_shows_neither():
    from llama_cpp import Llama

    from course_lib.lora.train import HELD_OUT, chatml
    from course_lib.model import bundled_gguf

    def answer(**adapter) -> str:
        llm = Llama(model_path=str(bundled_gguf()), n_ctx=256, verbose=False, **adapter)
        return llm.create_completion(chatml(HELD_OUT[0]), max_tokens=6, temperature=0.0)["choices"][0]["text"]

    base = answer()
    assert not any(shows(name, base) for name in lora.ADAPTER_NAMES), base
    for name in lora.ADAPTER_NAMES:
        adapted = answer(lora_path=str(lora.gguf_path(name)))
        assert shows(name, adapted), f"{name}: {adapted!r}"
