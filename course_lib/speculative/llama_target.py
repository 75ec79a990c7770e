"""The real model as a speculative-decoding target, through llama-cpp-python.

``LlamaTarget`` loads the bundled GGUF (the file lab Ollama serves) and answers
``target(tokens, n_rows)`` with one ``eval`` of the tokens its KV cache does not hold
yet: a verification pass of k+1 tokens is one batched forward pass, as in vLLM. The
cache is rolled back to the longest common prefix first, so rejected draft tokens
leave nothing behind. Taught in notebook 08.
"""

from __future__ import annotations

import numpy as np

from .. import model


class LlamaTarget:
    """``LlamaTarget()(tokens, n_rows)`` → logits after each of the last ``n_rows`` tokens."""

    def __init__(self, n_ctx: int = 1024, n_threads: int | None = None) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(model.bundled_gguf()), n_ctx=n_ctx, logits_all=True,
                         n_threads=n_threads, verbose=False)  # fmt: skip
        self.passes = 0

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=True)

    def detokenize(self, tokens: list[int]) -> str:
        return self.llm.detokenize(tokens, special=True).decode("utf-8", errors="replace")

    def __call__(self, tokens: list[int], n_rows: int) -> np.ndarray:
        held = self.llm.n_tokens
        cached = self.llm.input_ids[:held].tolist()
        common = 0
        while common < min(held, len(tokens) - 1) and cached[common] == tokens[common]:
            common += 1
        self.llm.n_tokens = common  # eval() drops the KV cache from here on
        self.llm.eval(tokens[common:])
        self.passes += 1
        return np.array(self.llm.scores[len(tokens) - n_rows:len(tokens)], dtype=np.float32)
