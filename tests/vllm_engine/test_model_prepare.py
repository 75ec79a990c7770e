"""`course model prepare`: atomic under SIGKILL, idempotent, provenance recorded."""

import json
import os
import subprocess
import time

from course_lib import model

from ..helpers import COURSE, course, require_vllm


def test_killed_conversion_leaves_no_model_then_a_rerun_completes(tmp_path):
    require_vllm()
    env = {"COURSE_HOME": str(tmp_path)}
    models = tmp_path / "models"
    target = models / "SmolLM2-135M-Instruct-from-Q4_1-gguf"
    killed = subprocess.Popen(
        [COURSE, "model", "prepare"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not list(models.glob(".partial-*/tokenizer.json")) and killed.poll() is None:
        assert time.monotonic() < deadline, "the conversion never started writing"
        time.sleep(0.02)
    killed.kill()  # the tokenizer is written, the weights are not
    killed.wait()
    assert not target.exists(), "a killed conversion must not leave a model folder"
    assert list(models.glob(".partial-*/tokenizer.json")), "its half-written scratch folder is what is left"

    done = course("model", "prepare", env=env)
    assert done.returncode == 0, done.stderr
    assert not list(models.glob(".partial-*")), "leftovers are cleaned on the next run"
    record = json.loads((target / model.PROVENANCE_FILE).read_text())
    assert record["gguf_file_type"] == "Q4_1"
    assert record["dtype"] == "bfloat16"
    assert record["gguf_sha256"] == model.sha256_of(model.bundled_gguf())
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (target / name).stat().st_size > 0
    config = json.loads((target / "config.json").read_text())
    assert (config["num_attention_heads"], config["num_key_value_heads"]) == (9, 3)

    weights = target / "model.safetensors"
    before = weights.stat().st_mtime_ns
    again = course("model", "prepare", env=env)
    assert again.returncode == 0
    assert "already prepared" in again.stderr
    assert weights.stat().st_mtime_ns == before, "a second run converts nothing"
