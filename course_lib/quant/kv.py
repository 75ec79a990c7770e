"""KV-cache quantization through llama.cpp (lesson 07): what a cache of each type costs
per token, as llama.cpp itself reports it, and the same text scored with it.

Ollama's ``OLLAMA_KV_CACHE_TYPE`` (``f16``, ``q8_0``, ``q4_0``; it needs
``OLLAMA_FLASH_ATTENTION=1``) sets exactly llama.cpp's ``type_k``/``type_v``; here they
are set on llama-cpp-python directly.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

KV_TYPES = ("F16", "Q8_0", "Q4_0")
_SIZE = re.compile(r"llama_kv_cache: size =\s*([\d.]+) MiB \(\s*(\d+) cells")


def llama_kwargs(type_name: str) -> dict:
    """llama-cpp-python arguments for a KV cache of ``type_name`` (flash attention on:
    llama.cpp quantizes the V cache only with it, as Ollama requires it)."""
    import llama_cpp

    ggml_type = getattr(llama_cpp, f"GGML_TYPE_{type_name.upper()}")
    return {"type_k": ggml_type, "type_v": ggml_type, "flash_attn": True}


def reported_bytes_per_token(model_path: Path, type_name: str, n_ctx: int = 1024) -> float:
    """KV bytes per token from llama.cpp's own log line ``llama_kv_cache: size = …``."""
    from llama_cpp import Llama

    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        llm = Llama(str(model_path), n_ctx=n_ctx, verbose=True, **llama_kwargs(type_name))
        del llm
    match = _SIZE.search(log.getvalue())
    if match is None:
        raise RuntimeError("llama.cpp did not report its KV cache size")
    return float(match.group(1)) * 2**20 / int(match.group(2))
