"""What llama.cpp allocated for a loaded model, read from llama.cpp's own log.

Real Ollama does not compute ``/api/ps`` ``size``: it reads the buffer lines llama-server
prints while it loads (``CPU_Mapped model buffer size = 93.06 MiB``, ``CPU KV buffer
size``, ``CPU compute buffer size``, …) and adds them up
(`llm/llama_server.go <https://github.com/ollama/ollama/blob/v0.33.0-rc2/llm/llama_server.go#L2702-L2850>`_,
``memoryParsingWriter``). Lab Ollama runs llama.cpp in-process, so it listens to the same
lines through llama.cpp's log callback while a runner loads. Everything is passed on to
llama-cpp-python's logger, which prints it under ``OLLAMA_DEBUG`` as before.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from llama_cpp import _logger as llama_logger
from llama_cpp import llama_cpp

#: Ollama's ``bufferSizeRegex``: component, backend, kind, MiB.
BUFFER_LINE = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*):\s+(\S+)\s+(model|KV|compute|output|RS)\s+buffer size\s*=\s*([\d.]+)\s*MiB"
)

_lock = threading.Lock()  # one load listened to at a time (Ollama, too, loads one by one)
_heard: list[str] | None = None


@llama_cpp.llama_log_callback
def _listen(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    if _heard is not None:
        _heard.append(text.decode("utf-8", errors="replace"))
    llama_logger.llama_log_callback(level, text, user_data)


llama_cpp.llama_log_set(_listen, ctypes.c_void_p(0))


def buffer_bytes(log_text: str) -> dict[tuple[str, str, str], int]:
    """Each (component, backend, kind) buffer's bytes; a later line for the same buffer
    replaces an earlier one, as in Ollama.

    >>> buffer_bytes("load_tensors:   CPU_Mapped model buffer size =    93.06 MiB\\n"
    ...              "llama_context:        CPU compute buffer size =   102.51 MiB\\n")
    {('load_tensors', 'CPU_Mapped', 'model'): 97580482, ('llama_context', 'CPU', 'compute'): 107489525}
    """
    return {(c, b, k): int(float(mib) * 2**20) for c, b, k, mib in BUFFER_LINE.findall(log_text)}


@contextmanager
def listening() -> Iterator[list[str]]:
    """llama.cpp's log text while the block runs (a model and its context loading)."""
    global _heard
    with _lock:
        _heard = []
        try:
            yield _heard
        finally:
            _heard = None
