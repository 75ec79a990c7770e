"""Quantization, measured (lesson 07): GGUF block layouts, an F16 source model, the
ladder of quants, and quality from token log-probabilities.

- ``formats``: block layouts of GGUF types, read from a file and from the ``gguf``
  package's reference tables (bits per weight, what a block holds).
- ``f16_gguf``: the course's model written as an F16 GGUF (``smollm2:135m-instruct-fp16``).
- ``ladder``: llama.cpp's quantizer for every type, and a rung's size and speed.
- ``quality``: perplexity, KL divergence and top-1 agreement on a shipped text.
"""
