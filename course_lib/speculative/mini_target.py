"""Lesson 05's NumPy mini engine as a speculative-decoding target.

One ``Model.forward`` call over the tokens its contiguous KV cache lacks is one
forward pass: a verification pass runs the last accepted token and the k drafted
ones together. Rolling back after a rejection is setting the cache's ``length``
back, as the mini engine's ``ContiguousKV`` allows. Float32 throughout, so a pass of
k + 1 tokens and k + 1 passes of one token agree except at exact near-ties.
Taught in notebook 08.
"""

from __future__ import annotations

import numpy as np


class MiniEngineTarget:
    """``MiniEngineTarget(model)(tokens, n_rows)`` → logits after each of the last ``n_rows`` tokens."""

    def __init__(self, model, max_len: int = 512) -> None:
        from ..mini_engine import ContiguousKV

        self.model = model
        self.kv = ContiguousKV(model.config, max_len=max_len)
        self.tokens: list[int] = []
        self.passes = 0

    def __call__(self, tokens: list[int], n_rows: int) -> np.ndarray:
        first_row = len(tokens) - n_rows
        common = 0
        while common < min(len(self.tokens), first_row) and self.tokens[common] == tokens[common]:
            common += 1
        self.kv.length = common  # roll back whatever the last pass drafted beyond this
        logits = self.model.forward(list(tokens[common:]), self.kv)
        self.tokens = list(tokens)
        self.passes += 1
        return np.asarray(logits[first_row - common:], dtype=np.float32)
