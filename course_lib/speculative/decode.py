"""Plain and speculative greedy decoding over one "target" function, counting passes.

The target is any callable ``target(tokens, n_rows)`` returning, in **one forward
pass**, the logits after each of the last ``n_rows`` tokens of ``tokens`` (shape
(n_rows, vocabulary)); it may keep a KV cache of the tokens it saw. Plain greedy asks
for one row per pass; speculative decoding appends a draft of k tokens and asks for
k+1 rows, then keeps what ``greedy_verify`` accepts. The outputs must be identical:
lesson 08 asserts it. Taught in notebook 08.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .drafting import ngram_draft
from .verify import greedy_verify

Target = Callable[[list[int], int], np.ndarray]
Drafter = Callable[[list[int], int], list[int]]


@dataclass
class DecodeStats:
    """What a decoding loop produced and how many target passes it took."""

    tokens: list[int] = field(default_factory=list)
    forward_passes: int = 0
    drafted: int = 0  # draft tokens proposed
    accepted: int = 0  # draft tokens the target agreed with
    gained: list[int] = field(default_factory=list)  # tokens appended by each pass

    @property
    def tokens_per_pass(self) -> float:
        return len(self.tokens) / self.forward_passes if self.forward_passes else 0.0

    @property
    def acceptance_rate(self) -> float:
        """Accepted ÷ drafted tokens (vLLM's "draft acceptance rate")."""
        return self.accepted / self.drafted if self.drafted else 0.0


def _stop(token: int, stop_ids: Sequence[int]) -> bool:
    return token in stop_ids


def greedy_decode(target: Target, prompt: Sequence[int], max_new: int, stop_ids: Sequence[int] = ()) -> DecodeStats:
    """One token per forward pass: the reference."""
    stats, context = DecodeStats(), list(prompt)
    while len(stats.tokens) < max_new:
        token = int(np.argmax(target(context, 1)[-1]))
        stats.forward_passes += 1
        stats.gained.append(1)
        stats.tokens.append(token)
        context.append(token)
        if _stop(token, stop_ids):
            break
    return stats


def speculative_decode(
    target: Target,
    prompt: Sequence[int],
    max_new: int,
    k: int = 4,
    drafter: Drafter | None = None,
    stop_ids: Sequence[int] = (),
) -> DecodeStats:
    """Draft up to ``k`` tokens (n-gram lookup unless ``drafter`` is given), verify them
    in one pass, keep the accepted prefix and the target's next token."""
    draft_fn = drafter or (lambda tokens, n: ngram_draft(tokens, n))
    stats, context = DecodeStats(), list(prompt)
    while len(stats.tokens) < max_new:
        room = max_new - len(stats.tokens) - 1  # the pass always adds one token of its own
        draft = draft_fn(context, min(k, room))[: max(room, 0)]
        new, accepted = greedy_verify(draft, target(context + draft, len(draft) + 1))
        stats.forward_passes += 1
        stats.drafted += len(draft)
        stats.accepted += accepted
        for token in new:
            stats.tokens.append(token)
            context.append(token)
            if _stop(token, stop_ids):
                stats.gained.append(new.index(token) + 1)
                return stats
        stats.gained.append(len(new))
    return stats
