"""Prompts of an exact token length, the same text for every engine.

Like vLLM's ``random`` dataset, every prompt is different random tokens, so no
engine gets a prefix-cache hit the others do not. Unlike it, the tokens are whole
lower-case words that carry their leading space (`` river``): such a word is one
pre-token and one vocabulary entry, so a prompt of N words is N tokens on any engine
that uses SmolLM2's tokenizer, and it stays N tokens after a round trip through text.
The tokenizer is the bundled GGUF's, read by llama.cpp without the weights (0.1 s).
"""

from __future__ import annotations

import atexit
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _tokenizer():
    from llama_cpp import Llama

    from ..model import bundled_gguf

    vocab = Llama(str(bundled_gguf()), vocab_only=True, verbose=False)
    atexit.register(vocab.close)  # before interpreter teardown, or its __del__ fails noisily
    return vocab


@lru_cache(maxsize=1)
def _word_tokens() -> tuple[int, ...]:
    """Vocabulary ids whose text is a space and a lower-case word of 3+ letters."""
    vocab = _tokenizer()
    words = []
    for token in range(vocab.n_vocab()):
        text = vocab.detokenize([token]).decode("utf-8", "ignore")
        if len(text) >= 4 and text[0] == " " and text[1:].isalpha() and text[1:].islower():
            words.append(token)
    return tuple(words)


def count_tokens(text: str) -> int:
    """Tokens in ``text`` for SmolLM2 (no BOS: its tokenizer adds none)."""
    return len(_tokenizer().tokenize(text.encode(), add_bos=False, special=False))


def fixed_length_prompts(n: int, input_len: int, seed: int = 0) -> list[str]:
    """``n`` different prompts of exactly ``input_len`` tokens each."""
    if input_len < 1:
        raise ValueError("input_len must be at least 1")
    rng = np.random.default_rng(seed)
    words = np.asarray(_word_tokens())
    vocab = _tokenizer()
    prompts = []
    while len(prompts) < n:
        ids = rng.choice(words, size=input_len).tolist()
        text = vocab.detokenize(ids).decode()
        if count_tokens(text) == input_len:  # always so far; checked, never assumed
            prompts.append(text)
    return prompts
