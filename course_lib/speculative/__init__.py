"""Speculative decoding, taken apart (lesson 08).

A cheap *drafter* guesses the next k tokens; the model (the *target*) scores all of
them in one forward pass, and greedy verification keeps the longest prefix the target
agrees with plus one token of its own. With greedy decoding the output equals plain
greedy decoding token for token; only the number of forward passes changes.

- ``verify``: greedy verification of one draft against the target's logits;
- ``drafting``: n-gram (prompt-lookup) drafting, as vLLM's ``ngram`` method and
  llama.cpp's prompt lookup do it;
- ``decode``: plain and speculative greedy loops over any "logits for these
  positions" function, counting forward passes;
- ``expected``: expected tokens per step from an acceptance rate and draft length.
"""

from .decode import DecodeStats, greedy_decode, speculative_decode
from .drafting import ngram_draft
from .expected import acceptance_from_tokens_per_step, expected_tokens_per_step
from .verify import greedy_verify

__all__ = [
    "DecodeStats",
    "acceptance_from_tokens_per_step",
    "expected_tokens_per_step",
    "greedy_decode",
    "greedy_verify",
    "ngram_draft",
    "speculative_decode",
]
