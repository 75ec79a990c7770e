"""Expected tokens per target forward pass, from a per-token acceptance rate.

If each drafted token is accepted with probability α, independently, and the drafter
proposes k tokens, a verification pass yields on average
(1 − α^(k+1)) / (1 − α) tokens (Leviathan et al., "Fast Inference from Transformers via
Speculative Decoding", ICML 2023, §3.1, eq. 1): the accepted prefix plus the
correction or bonus token. Taught in notebook 08.
"""

from __future__ import annotations


def expected_tokens_per_step(alpha: float, k: int) -> float:
    """(1 − α^(k+1)) / (1 − α); k + 1 when α = 1, 1 when α = 0.

    >>> expected_tokens_per_step(0.0, 4), expected_tokens_per_step(1.0, 4)
    (1.0, 5.0)
    >>> round(expected_tokens_per_step(0.5, 4), 4)
    1.9375
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"an acceptance rate is a probability, got {alpha}")
    if k < 0:
        raise ValueError(f"a draft length is at least 0, got {k}")
    if alpha == 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def acceptance_from_tokens_per_step(tokens_per_step: float, k: int, tol: float = 1e-9) -> float:
    """The α at which ``expected_tokens_per_step(α, k)`` equals a measured mean (bisection).

    >>> round(acceptance_from_tokens_per_step(1.9375, 4), 6)
    0.5
    """
    if not 1.0 <= tokens_per_step <= k + 1:
        raise ValueError(f"tokens per step lie in [1, {k + 1}] for k={k}, got {tokens_per_step}")
    low, high = 0.0, 1.0
    while high - low > tol:
        mid = (low + high) / 2
        if expected_tokens_per_step(mid, k) < tokens_per_step:
            low = mid
        else:
            high = mid
    return (low + high) / 2
