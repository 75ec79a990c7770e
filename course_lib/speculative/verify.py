"""Greedy verification of a draft: the longest agreeing prefix, plus one target token.

The target scores the context followed by the k drafted tokens in one forward pass;
row i of ``target_logits`` is its distribution for the token after draft[:i]. Draft
token i is accepted while it equals the target's argmax there. At the first mismatch
the target's own choice replaces it (a correction); when all k are accepted, row k
gives one more token for free (the bonus). Either way a pass yields 1 to k+1 tokens,
exactly those plain greedy decoding would have produced. Taught in notebook 08.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def greedy_verify(draft: Sequence[int], target_logits: np.ndarray) -> tuple[list[int], int]:
    """(tokens to append, how many draft tokens were accepted).

    ``target_logits`` has shape (len(draft) + 1, vocabulary).

    >>> logits = np.eye(5)[[3, 1, 4, 2]]  # the target wants 3, 1, 4, then 2
    >>> greedy_verify([3, 1, 0], logits)  # third draft token wrong: corrected to 4
    ([3, 1, 4], 2)
    >>> greedy_verify([3, 1, 4], logits)  # all accepted, plus the bonus 2
    ([3, 1, 4, 2], 3)
    >>> greedy_verify([], logits[:1])  # no draft: one ordinary greedy step
    ([3], 0)
    """
    if target_logits.shape[0] != len(draft) + 1:
        raise ValueError(f"need {len(draft) + 1} rows of logits for a draft of {len(draft)}, got {target_logits.shape[0]}")
    choices = np.argmax(target_logits, axis=-1)
    accepted = 0
    while accepted < len(draft) and int(draft[accepted]) == int(choices[accepted]):
        accepted += 1
    return [int(t) for t in draft[:accepted]] + [int(choices[accepted])], accepted
