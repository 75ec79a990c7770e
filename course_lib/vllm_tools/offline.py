"""Helpers for vLLM's offline ``LLM`` inside a notebook or test process.

A notebook's own ``LLM(...)`` holds an EngineCore child process and its KV cache
until shut down; DESIGN.md's resource plan has every notebook release it before it
ends. ``del llm`` alone leaves that to interpreter exit, where vLLM's finalizers log
into closed streams.
"""

from __future__ import annotations

import gc
from typing import Any


def shutdown_llm(llm: Any) -> None:
    """Stop an ``vllm.LLM``'s engine process now and free its memory."""
    engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if engine_core is not None:
        engine_core.shutdown()
    gc.collect()
