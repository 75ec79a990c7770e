"""N-gram (prompt-lookup) drafting: guess what follows by finding the text's own tail
earlier in the text.

When a reply copies its input (an edit, a quotation, code being refactored), the last
few tokens usually occurred before, and what followed them then is a good guess for
what follows now. No second model is needed. vLLM's ``ngram`` method
(``vllm/v1/spec_decode/ngram_proposer.py``) and llama.cpp's prompt lookup
(``llama_cpp/llama_speculative.py``) both work this way; they differ in details (which
match wins, how many tokens). Here the longest n-gram wins, at its most recent earlier
occurrence. Taught in notebook 08.
"""

from __future__ import annotations

from collections.abc import Sequence


def ngram_draft(tokens: Sequence[int], k: int, max_ngram: int = 4, min_ngram: int = 1) -> list[int]:
    """Up to ``k`` tokens that followed the latest earlier occurrence of the longest
    suffix of ``tokens`` (``max_ngram`` down to ``min_ngram`` tokens); [] if none.

    >>> ngram_draft([5, 6, 7, 8, 9, 5, 6], k=3)  # "5 6" was followed by 7 8 9
    [7, 8, 9]
    >>> ngram_draft([1, 2, 3], k=3)  # nothing repeats
    []
    """
    tokens = list(tokens)
    n_tokens = len(tokens)
    for n in range(min(max_ngram, n_tokens - 1), min_ngram - 1, -1):
        suffix = tokens[n_tokens - n:]
        for start in range(n_tokens - n - 1, -1, -1):  # latest occurrence first, not the suffix itself
            if tokens[start:start + n] == suffix:
                follow = tokens[start + n:start + n + k]
                if follow:
                    return follow
    return []
