"""The quant ladder of lesson 07: make every rung with llama.cpp's quantizer, put it in
Ollama, and time it through Ollama's API.

Ollama's ``create --quantize`` accepts only F32, F16, BF16, Q8_0, Q4_K_S and Q4_K_M
(``fs/ggml/type.go``). The other rungs are made the way a real Ollama user makes
them: llama.cpp's quantizer (``llama-quantize``; here the same code through
llama-cpp-python), then ``ollama create`` from a Modelfile ``FROM ./file.gguf``.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from ..lab_ollama.quantize import run_quantizer

PROMPT = "Once upon a time, in a small village by the sea,"


def llama_quantize(source: Path, target: Path, type_name: str) -> Path:
    """Quantize a GGUF with llama.cpp (``llama-quantize source target TYPE``)."""
    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{type_name.upper()}")
    for _ in run_quantizer(source, target, ftype):
        pass
    return target


def import_gguf(base_url: str, name: str, path: Path) -> None:
    """``ollama create NAME`` from a Modelfile ``FROM ./path``: upload the blob, create."""
    import ollama

    client = ollama.Client(host=base_url)
    digest = client.create_blob(path)
    client.create(model=name, files={path.name: digest})


def unload(base_url: str, model: str) -> None:
    """Free ``model``'s memory now (a request with ``keep_alive: 0``)."""
    requests.post(f"{base_url}/api/generate", json={"model": model, "keep_alive": 0}, timeout=60)


def load_seconds(base_url: str, model: str) -> float:
    """Unload ``model``, then load it with a one-token request: Ollama's load_duration."""
    unload(base_url, model)
    reply = _generate(base_url, model, 1)
    return reply["load_duration"] / 1e9


def tokens_per_second(base_url: str, model: str, num_predict: int, streams: int = 1) -> float:
    """Decode tokens/s: one stream from Ollama's eval timings; several streams as total
    tokens over the wall time of all of them (they share the engine's slots)."""
    if streams == 1:
        reply = _generate(base_url, model, num_predict)
        return reply["eval_count"] / (reply["eval_duration"] / 1e9)
    start = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        replies = list(pool.map(lambda _: _generate(base_url, model, num_predict), range(streams)))
    return sum(r["eval_count"] for r in replies) / (time.perf_counter() - start)


def _generate(base_url: str, model: str, num_predict: int) -> dict:
    body = {"model": model, "prompt": PROMPT, "raw": True, "stream": False,
            "options": {"num_predict": num_predict, "temperature": 0, "num_ctx": 512}}  # fmt: skip
    reply = requests.post(f"{base_url}/api/generate", data=json.dumps(body), timeout=900)
    reply.raise_for_status()
    return reply.json()


def model_file(base_url: str, model: str) -> Path:
    """The GGUF blob behind ``model``: the ``FROM`` path of ``ollama show --modelfile``
    (the same on a real Ollama on this machine)."""
    shown = requests.post(f"{base_url}/api/show", json={"model": model}, timeout=60)
    shown.raise_for_status()
    for line in shown.json()["modelfile"].splitlines():
        if line.startswith("FROM /"):
            return Path(line.removeprefix("FROM ").strip())
    raise FileNotFoundError(f"{model}: no local GGUF in its modelfile")
