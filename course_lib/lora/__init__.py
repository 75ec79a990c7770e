"""Two small LoRA adapters for SmolLM2-135M-Instruct, and where they live (lesson 08).

``pirate`` opens every answer with "Arr, matey!", ``robot`` with "BEEP BOOP.".
Both were trained on this course's own weights by ``python -m course_lib.lora.train``
(plain PyTorch, a few minutes on a CPU; see that module), saved in PEFT's format (the
folder vLLM's ``--lora-modules`` takes) and converted to llama.cpp's LoRA GGUF (the
file an Ollama Modelfile's ``ADAPTER`` takes) by ``course_lib.lora.to_gguf``.
"""

from .files import ADAPTER_NAMES, adapter_config, adapter_dir, gguf_path

__all__ = ["ADAPTER_NAMES", "adapter_config", "adapter_dir", "gguf_path"]
