"""course_lib: the helper library of the course on LLM inference engines.

Notebooks import it as ``import course_lib as cl`` and use the names below. ``MODEL``
is the ``model`` argument for ``vllm.LLM`` (the Hugging Face id when its original
weights are cached locally, else the folder converted from the bundled GGUF); it is
computed on first use, never at import. ``DTYPE`` is the ``dtype`` argument that makes
a notebook's own ``vllm.LLM`` compute as the course's vLLM server does: ``"float32"``
on the CPU (lesson 04 says why), ``"auto"`` (the checkpoint's bf16) on a GPU.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import class_server
from .config import HF_MODEL_ID, OLLAMA_MODEL, VLLM_SERVED_NAME

class_server.apply()  # in a class, before the notebook creates any client (COURSE_SERVER)

try:
    __version__ = version("course_lib")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "DTYPE",
    "HF_MODEL_ID",
    "MODEL",
    "OLLAMA_MODEL",
    "VLLM_SERVED_NAME",
    "__version__",
]


def __getattr__(name: str) -> str:
    if name == "MODEL":
        from .config import vllm_model

        return vllm_model()
    if name == "DTYPE":
        from .vllm_tools.server import compute_dtype

        return compute_dtype() or "auto"
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
