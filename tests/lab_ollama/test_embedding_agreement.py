"""Both engines serve all-MiniLM-L6-v2 and agree: lab Ollama (llama.cpp, the F16
GGUF, mean pooling + normalisation) and vLLM (the Hugging Face folder as a pooling
model, its pooling config from sentence-transformers)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SENTENCES = [
    "The cat sat on the mat.",
    "A dog is playing in the park.",
    "Stock markets fell sharply today.",
    "How do I reset my password?",
    "Paris is the capital of France.",
    "Inference engines batch requests to use the GPU well.",
]


@pytest.fixture(scope="module")
def vllm_vectors(tmp_path_factory):
    pytest.importorskip("vllm", reason="vLLM is not installed here (make setup installs it)")
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    done = subprocess.run([sys.executable, "-m", "tests.lab_ollama.vllm_embed"], input=json.dumps(SENTENCES),
                          capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    line = next((l for l in done.stdout.splitlines() if l.startswith("VECTORS ")), None)
    assert line is not None, done.stderr[-3000:]
    return np.array(json.loads(line.removeprefix("VECTORS ")))


def test_lab_ollama_and_vllm_embeddings_agree(client, vllm_vectors):
    list(client.pull("all-minilm", stream=True))
    ours = np.array(client.embed(model="all-minilm", input=SENTENCES).embeddings)
    assert ours.shape == vllm_vectors.shape == (len(SENTENCES), 384)
    theirs = vllm_vectors / np.linalg.norm(vllm_vectors, axis=1, keepdims=True)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    # and the agreement is not trivial: different sentences stay apart on both engines
    assert (ours @ ours.T)[0, 2] < 0.5 and (theirs @ theirs.T)[0, 2] < 0.5
