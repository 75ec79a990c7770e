"""Right and plausible wrong answers for exercise 01_ollama_basics (see __init__)."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from .marks import caught_publicly


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


@caught_publicly
def name_no_default_tag(name):
    result = name_right(name)
    return result if ":" in name.split("/")[-1] else {**result, "tag": ""}


def name_lowercased(name):
    """Lowercases the name because Ollama matches names case-insensitively."""
    return name_right(name.lower())


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


@caught_publicly
def by_size_ascending(base_url):
    """Smallest first: the public stand-in store of three models shows the order."""
    return sorted(_tags(base_url), key=lambda e: e[1])


@caught_publicly
def by_size_names_sorted(base_url):
    return sorted(_tags(base_url))


# --- 01 q3: the largest num_ctx ---------------------------------------------------------

_KV_BYTES = {"f16": 2, "q8_0": 34 / 32, "q4_0": 18 / 32}


def _num_ctx(gpu_gib, weights_gib, layers, kv_heads, head_dim, num_parallel, kv_cache_type="f16",
             kv_bytes=_KV_BYTES, k_and_v=2, unit=2**30, per_slot=True, step=256):
    key = kv_cache_type.lower()
    if key not in kv_bytes:
        raise ValueError(kv_cache_type)
    if num_parallel < 1:
        raise ValueError(num_parallel)
    per_token = k_and_v * layers * kv_heads * head_dim * kv_bytes[key]
    tokens = (gpu_gib - weights_gib) * unit / (per_token * (num_parallel if per_slot else 1))
    return max(0, int(tokens // step) * step)


def num_ctx_right(*args, **kwargs):
    return _num_ctx(*args, **kwargs)


@caught_publicly
def num_ctx_ignores_parallel(*args, **kwargs):
    """Gives the whole cache to one slot: forgets that each slot reserves num_ctx."""
    return _num_ctx(*args, **kwargs, per_slot=False)


@caught_publicly
def num_ctx_no_k_and_v(*args, **kwargs):
    return _num_ctx(*args, **kwargs, k_and_v=1)


@caught_publicly
def num_ctx_gigabytes(*args, **kwargs):
    return _num_ctx(*args, **kwargs, unit=1e9)


@caught_publicly
def num_ctx_not_rounded(*args, **kwargs):
    return _num_ctx(*args, **kwargs, step=1)


def num_ctx_q8_is_one_byte(*args, **kwargs):
    """8 bits per element, forgetting the block's 16-bit scale."""
    return _num_ctx(*args, **kwargs, kv_bytes={"f16": 2, "q8_0": 1, "q4_0": 0.5})


def num_ctx_negative(gpu_gib, weights_gib, layers, kv_heads, head_dim, num_parallel, kv_cache_type="f16"):
    """Lets the result go negative when the weights do not fit."""
    per_token = 2 * layers * kv_heads * head_dim * _KV_BYTES[kv_cache_type.lower()]
    return int((gpu_gib - weights_gib) * 2**30 / (per_token * num_parallel) // 256) * 256


def num_ctx_case_sensitive(gpu_gib, weights_gib, layers, kv_heads, head_dim, num_parallel, kv_cache_type="f16"):
    if kv_cache_type not in _KV_BYTES:
        raise ValueError(kv_cache_type)
    return _num_ctx(gpu_gib, weights_gib, layers, kv_heads, head_dim, num_parallel, kv_cache_type)


# --- 01 q4: blobs ----------------------------------------------------------------------


def _manifest(models_dir, name):
    p = name_right(name)
    path = Path(models_dir, "manifests", p["host"], p["namespace"], p["model"], p["tag"])
    if not path.is_file():
        raise FileNotFoundError(path)
    return json.loads(path.read_text())["layers"]


def blob_right(models_dir, name):
    layer = next((l for l in _manifest(models_dir, name) if l["mediaType"].endswith(".model")), None)
    if layer is None:
        raise ValueError(f"{name}: no weights layer")
    return Path(models_dir, "blobs", layer["digest"].replace(":", "-"))


def blob_no_weights_stops(models_dir, name):
    """next() without a default: a manifest without weights raises StopIteration."""
    layer = next(l for l in _manifest(models_dir, name) if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"].replace(":", "-"))


@caught_publicly
def blob_first_layer(models_dir, name):
    return Path(models_dir, "blobs", _manifest(models_dir, name)[0]["digest"].replace(":", "-"))


@caught_publicly
def blob_colon_name(models_dir, name):
    layer = next(l for l in _manifest(models_dir, name) if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"])


def blob_no_defaults(models_dir, name):
    path = Path(models_dir, "manifests", *name.replace(":", "/").split("/"))
    layers = json.loads(path.read_text())["layers"]
    layer = next(l for l in layers if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"].replace(":", "-"))


# --- 01 q5: predict what a longer context costs ------------------------------------------


def _growth(model_info, old_ctx, new_ctx, num_parallel=1, arch=None, k_and_v=True, kv_heads_key="head_count_kv",
            key_length=True, per_slot=True, whole=False, unit=1):
    arch = arch or model_info["general.architecture"]
    heads = model_info[f"{arch}.attention.head_count"]
    width = model_info[f"{arch}.embedding_length"] // heads
    k = model_info.get(f"{arch}.attention.key_length", width) if key_length else width
    v = model_info.get(f"{arch}.attention.value_length", width) if key_length else width
    per_token = model_info[f"{arch}.block_count"] * model_info[f"{arch}.attention.{kv_heads_key}"] * (k + (v if k_and_v else 0)) * 2
    tokens = new_ctx if whole else new_ctx - old_ctx
    result = per_token * tokens * (num_parallel if per_slot else 1)
    return result if unit == 1 else result / unit


def growth_right(*args, **kwargs):
    return _growth(*args, **kwargs)


@caught_publicly
def growth_whole_cache(*args, **kwargs):
    """The cache at new_ctx, not what the reload adds."""
    return _growth(*args, **kwargs, whole=True)


@caught_publicly
def growth_k_only(*args, **kwargs):
    return _growth(*args, **kwargs, k_and_v=False)


@caught_publicly
def growth_all_heads(*args, **kwargs):
    """Every attention head caches K and V: forgets grouped-query attention."""
    return _growth(*args, **kwargs, kv_heads_key="head_count")


@caught_publicly
def growth_mib(*args, **kwargs):
    return _growth(*args, **kwargs, unit=2**20)


def growth_llama_keys(model_info, old_ctx, new_ctx, num_parallel=1):
    """Reads the `llama.` keys of the model it tried, whatever the architecture."""
    return _growth(model_info, old_ctx, new_ctx, num_parallel, arch="llama")


def growth_ignores_key_length(*args, **kwargs):
    return _growth(*args, **kwargs, key_length=False)


def growth_ignores_parallel(*args, **kwargs):
    return _growth(*args, **kwargs, per_slot=False)


def growth_never_negative(*args, **kwargs):
    return abs(_growth(*args, **kwargs))


CASES = {
    ("01_ollama_basics", "q1"): ("parse_model_name", name_right, [name_first_colon, name_no_default_tag, name_lowercased, name_never_raises]),
    ("01_ollama_basics", "q2"): ("models_by_size", by_size_right, [by_size_ascending, by_size_names_sorted]),
    ("01_ollama_basics", "q3"): ("largest_num_ctx", num_ctx_right,
                                 [num_ctx_ignores_parallel, num_ctx_no_k_and_v, num_ctx_gigabytes, num_ctx_not_rounded,
                                  num_ctx_q8_is_one_byte, num_ctx_negative, num_ctx_case_sensitive]),
    ("01_ollama_basics", "q4"): ("model_blob", blob_right, [blob_first_layer, blob_colon_name, blob_no_defaults, blob_no_weights_stops]),
    ("01_ollama_basics", "q5"): ("predict_size_growth", growth_right,
                                 [growth_whole_cache, growth_k_only, growth_all_heads, growth_mib, growth_llama_keys,
                                  growth_ignores_key_length, growth_ignores_parallel, growth_never_negative]),
}


def shared(question, request):
    """q5's hidden test also reads the learner's explanation."""
    if question == "q5":
        return {"WHY_THE_GAP": "Only the KV cache grew with num_ctx; the weights stayed, and a real Ollama adds compute buffers."}
    return {}
