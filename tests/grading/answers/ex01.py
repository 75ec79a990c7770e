"""Right and plausible wrong answers for exercise 01_ollama_basics (see __init__)."""

from __future__ import annotations

import json
from pathlib import Path

import requests


# --- 01 q1: names ------------------------------------------------------------------------


def name_right(name):
    parts = name.split("/")
    if not name or len(parts) > 3:
        raise ValueError(name)
    model, _, tag = parts[-1].partition(":") if ":" in parts[-1] else (parts[-1], "", "latest")
    host, namespace = (["registry.ollama.ai", "library"][: 3 - len(parts)] + parts[:-1])[-2:]
    result = {"host": host, "namespace": namespace, "model": model, "tag": tag}
    if not all(result.values()):
        raise ValueError(name)
    return result


def name_first_colon(name):
    """Splits the tag at the first ':', so a host's port becomes a tag."""
    rest, _, tag = name.partition(":")
    parts = rest.split("/")
    host, namespace = (["registry.ollama.ai", "library"][: 3 - len(parts)] + parts[:-1])[-2:]
    return {"host": host, "namespace": namespace, "model": parts[-1], "tag": tag or "latest"}


def name_no_default_tag(name):
    result = name_right(name)
    return result if ":" in name.split("/")[-1] else {**result, "tag": ""}


def name_never_raises(name):
    try:
        return name_right(name)
    except ValueError:
        return {"host": "", "namespace": "", "model": "", "tag": ""}


# --- 01 q2: tags -----------------------------------------------------------------------


def _tags(base_url):
    return [(m["name"], m["size"]) for m in requests.get(f"{base_url}/api/tags", timeout=30).json()["models"]]


def by_size_right(base_url):
    return sorted(_tags(base_url), key=lambda e: e[1], reverse=True)


def by_size_ascending(base_url):
    return sorted(_tags(base_url), key=lambda e: e[1])


def by_size_names_sorted(base_url):
    return sorted(_tags(base_url))


# --- 01 q3: memory -----------------------------------------------------------------------

_BITS = {"F32": 32, "F16": 16, "BF16": 16, "Q8_0": 8.5, "Q4_1": 5.0, "Q4_0": 4.5}


def _memory(params, quantization, context, layers, kv_heads, head_dim, bits=_BITS, kv_factor=2, unit=1e9, upper=True):
    key = quantization.upper() if upper else quantization
    if key not in bits:
        raise ValueError(quantization)
    weights = params * bits[key] / 8 / unit
    kv = kv_factor * layers * kv_heads * head_dim * 2 * context / unit
    return {"weights": weights, "kv_cache": kv, "total": weights + kv}


def memory_right(*args):
    return _memory(*args)


def memory_no_k_and_v(*args):
    return _memory(*args, kv_factor=1)


def memory_four_bits(*args):
    return _memory(*args, bits={**_BITS, "Q4_0": 4.0, "Q4_1": 4.0, "Q8_0": 8.0})


def memory_case_sensitive(*args):
    return _memory(*args, upper=False)


def memory_gibibytes(*args):
    return _memory(*args, unit=2**30)


# --- 01 q4: blobs ----------------------------------------------------------------------


def _manifest(models_dir, name):
    p = name_right(name)
    path = Path(models_dir, "manifests", p["host"], p["namespace"], p["model"], p["tag"])
    if not path.is_file():
        raise FileNotFoundError(path)
    return json.loads(path.read_text())["layers"]


def blob_right(models_dir, name):
    layer = next(l for l in _manifest(models_dir, name) if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"].replace(":", "-"))


def blob_first_layer(models_dir, name):
    return Path(models_dir, "blobs", _manifest(models_dir, name)[0]["digest"].replace(":", "-"))


def blob_colon_name(models_dir, name):
    layer = next(l for l in _manifest(models_dir, name) if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"])


def blob_no_defaults(models_dir, name):
    path = Path(models_dir, "manifests", *name.replace(":", "/").split("/"))
    layers = json.loads(path.read_text())["layers"]
    layer = next(l for l in layers if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"].replace(":", "-"))


CASES = {
    ("01_ollama_basics", "q1"): ("parse_model_name", name_right, [name_first_colon, name_no_default_tag, name_never_raises]),
    ("01_ollama_basics", "q2"): ("models_by_size", by_size_right, [by_size_ascending, by_size_names_sorted]),
    ("01_ollama_basics", "q3"): ("estimate_memory", memory_right,
                                 [memory_no_k_and_v, memory_four_bits, memory_case_sensitive, memory_gibibytes]),
    ("01_ollama_basics", "q4"): ("model_blob", blob_right, [blob_first_layer, blob_colon_name, blob_no_defaults]),
}
