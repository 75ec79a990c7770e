"""The W8A8 INT8 checkpoint lesson 07 runs in vLLM: rounding, size, format, atomic writing.

vLLM itself loads the checkpoint in lesson 07's nbval run; here are the properties a
wrong checkpoint would break before vLLM ever sees it.
"""

import json

import numpy as np
import pytest

from course_lib.model import prepared_model
from course_lib.quant import w8a8


def test_per_channel_rounding_stays_within_half_a_step_and_beats_one_scale():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(64, 576)).astype(np.float32) * rng.uniform(0.01, 1.0, size=(64, 1))
    q, scale = w8a8.quantize_per_channel(weight)
    assert q.dtype == np.int8 and scale.shape == (64, 1)
    assert np.abs(q).max() == 127 and np.abs(q).min() >= -127
    error = np.abs(q * scale - weight)
    assert np.all(error <= scale / 2 + 1e-7)
    one_scale = np.abs(weight).max() / 127  # per tensor: the largest row sets everyone's step
    per_tensor_error = np.abs(np.rint(weight / one_scale) * one_scale - weight).mean()
    assert error.mean() < 0.8 * per_tensor_error


def test_a_zero_row_survives():
    q, scale = w8a8.quantize_per_channel(np.zeros((2, 32), dtype=np.float32))
    assert np.all(q == 0) and np.all(np.isfinite(scale))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The prepared model, seen through a link so the checkpoint is written in a temp folder."""
    prepared = prepared_model()
    if prepared is None:
        pytest.fail("the converted model is missing: run `course model prepare`")
    link = tmp_path_factory.mktemp("w8a8") / "model"
    link.symlink_to(prepared.path, target_is_directory=True)
    return link


def test_checkpoint_has_the_predicted_size_and_the_format_vllm_reads(source):
    from compressed_tensors.quantization import QuantizationConfig
    from safetensors import safe_open

    folder = w8a8.make_checkpoint(source)
    assert folder == w8a8.checkpoint_dir(source) and (folder / w8a8.MARKER).is_file()
    size = (folder / "model.safetensors").stat().st_size
    predicted = w8a8.predicted_bytes(w8a8.tensor_shapes(source))
    assert w8a8.tensor_shapes(source) == w8a8.llama_shapes(576, 1536, 30, 9, 3, 64, 49152, tied=True)
    assert 0 <= size - predicted < 0.01 * predicted  # the rest is the JSON header
    assert 0.55 < size / (source / "model.safetensors").stat().st_size < 0.65

    config = json.loads((folder / "config.json").read_text())
    parsed = QuantizationConfig.model_validate(config["quantization_config"])
    scheme = parsed.config_groups["group_0"]
    assert (scheme.weights.num_bits, scheme.weights.strategy) == (8, "channel")
    assert scheme.input_activations.dynamic and scheme.input_activations.strategy == "token"
    shapes = w8a8.tensor_shapes(folder)
    quantized = [name for name in shapes if name.endswith(w8a8.QUANTIZED_SUFFIX)]
    assert len(quantized) == 30 * 7  # q, k, v, o, gate, up, down in each of 30 blocks
    assert all(shapes[name[: -len("weight")] + "weight_scale"] == (shapes[name][0], 1) for name in quantized)
    assert (folder / "tokenizer.json").is_file() and not (folder / "README.md").exists()

    name = "model.layers.0.self_attn.q_proj.weight"
    with safe_open(folder / "model.safetensors", framework="np") as handle:  # int8 reads without torch
        ints = handle.get_tensor(name)
    assert ints.dtype == np.int8 and ints.shape == shapes[name] and np.abs(ints).max() == 127


def test_a_failed_write_leaves_no_checkpoint_and_no_scratch(source, monkeypatch):
    import safetensors.torch

    target = w8a8.checkpoint_dir(source).with_name("other-w8a8-int8")
    other = source.with_name("other")
    other.symlink_to(source.resolve(), target_is_directory=True)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        w8a8.make_checkpoint(other)
    assert not target.exists()
    assert [p.name for p in other.parent.iterdir() if p.name.startswith(".partial-")] == []
