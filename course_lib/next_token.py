"""The model's real next-token logits, in process, for lesson 06 and its exercise.

Sampling is taught on the actual distribution SmolLM2 produces, not on made-up numbers:
llama-cpp-python loads the bundled GGUF (the file lab Ollama serves) and returns the raw
logits of the position after a prompt. Only logits come from here; the filters and the
sampler are what the learner writes.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from . import model


#: What SmolLM2's chat template inserts when a chat has no system message (its
#: ``tokenizer_config.json``); vLLM applies that template as it is (lesson 04).
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


class NextToken:
    """``NextToken().logits("The capital of France is")`` → one float32 per vocabulary entry."""

    def __init__(self, n_ctx: int = 512) -> None:
        self.n_ctx = n_ctx

    @cached_property
    def _llm(self):
        from llama_cpp import Llama

        return Llama(model_path=str(model.bundled_gguf()), n_ctx=self.n_ctx, logits_all=True, verbose=False)

    def tokens(self, text: str, chat: bool = False, system: str | None = DEFAULT_SYSTEM) -> list[int]:
        """Token ids of ``text``; with ``chat=True`` wrapped in ChatML as one user turn after a
        system turn, by default the one SmolLM2's template adds (``system=None``: none)."""
        if chat:
            text = chatml(text, system)
        return self._llm.tokenize(text.encode(), add_bos=False, special=True)

    def logits(self, text: str, chat: bool = False, system: str | None = DEFAULT_SYSTEM) -> np.ndarray:
        """Raw logits for the token that follows ``text``."""
        ids = self.tokens(text, chat, system)
        if len(ids) >= self.n_ctx:
            raise ValueError(f"{len(ids)} tokens do not fit a context of {self.n_ctx}")
        self._llm.reset()
        self._llm.eval(ids)
        return np.array(self._llm.scores[self._llm.n_tokens - 1], dtype=np.float32)

    def piece(self, token_id: int) -> str:
        """The text of one token (special tokens included)."""
        return self._llm.detokenize([int(token_id)], special=True).decode("utf-8", errors="replace")


def chatml(user: str, system: str | None = DEFAULT_SYSTEM) -> str:
    """SmolLM2's chat template for one user turn, ready for the assistant's reply.

    >>> print(chatml("Hi", system="Be brief."), end="")
    <|im_start|>system
    Be brief.<|im_end|>
    <|im_start|>user
    Hi<|im_end|>
    <|im_start|>assistant
    """
    turns = ([("system", system)] if system is not None else []) + [("user", user)]
    return "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in turns) + "<|im_start|>assistant\n"
