"""Helpers for vLLM's offline ``LLM`` inside a notebook or test process.

A notebook's own ``LLM(...)`` holds an EngineCore child process and its KV cache
until shut down; DESIGN.md's resource plan has every notebook release it before it
ends. ``del llm`` alone leaves that to interpreter exit, where vLLM's finalizers log
into closed streams.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from .server import engine_env

#: KV cache of a notebook's own LLM(...) on the CPU (DESIGN.md, resource plan).
OFFLINE_KVCACHE_GIB = "1"


def use_course_engine_env() -> dict[str, str]:
    """Set the course's vLLM environment in this process, before ``LLM(...)``.

    vLLM reads these variables when the engine starts, so a notebook calls this
    first; values the learner already set are kept. Returns what is in force.
    """
    env = engine_env(kv_cache_gib=OFFLINE_KVCACHE_GIB)
    os.environ.update(env)
    return env


def shutdown_llm(llm: Any) -> None:
    """Stop an ``vllm.LLM``'s engine process now and free its memory."""
    engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if engine_core is not None:
        engine_core.shutdown()
    gc.collect()
