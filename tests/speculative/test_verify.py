"""Greedy verification is lossless: speculative output == plain greedy output."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.speculative import (
    acceptance_from_tokens_per_step,
    expected_tokens_per_step,
    greedy_decode,
    greedy_verify,
    ngram_draft,
    speculative_decode,
)

VOCAB = 50


class RandomTarget:
    """A deterministic stand-in for a model: the logits after a position depend on the
    last ``order`` tokens through a seeded random table. Counts calls = passes."""

    def __init__(self, seed: int, order: int = 2):
        self.rng_seed, self.order, self.calls = seed, order, 0

    def _row(self, context: tuple) -> np.ndarray:
        key = hash((self.rng_seed, context[-self.order:])) % 2**32
        return np.random.default_rng(key).standard_normal(VOCAB)

    def __call__(self, tokens: list, n_rows: int) -> np.ndarray:
        self.calls += 1
        return np.stack([self._row(tuple(tokens[: len(tokens) - n_rows + 1 + i])) for i in range(n_rows)])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.integers(1, 3), k=st.integers(0, 6),
       prompt=st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=12))
def test_speculative_equals_greedy_on_random_models(seed, order, k, prompt):
    plain = greedy_decode(RandomTarget(seed, order), prompt, 40)
    fast = speculative_decode(RandomTarget(seed, order), prompt, 40, k=k)
    assert fast.tokens == plain.tokens
    assert fast.forward_passes <= plain.forward_passes == 40
    assert sum(fast.gained) == len(fast.tokens) and all(1 <= g <= k + 1 for g in fast.gained)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6))
def test_a_random_drafter_is_still_lossless(seed, k):
    guesses = np.random.default_rng(seed)
    drafter = lambda tokens, n: [int(t) for t in guesses.integers(0, VOCAB, n)]  # noqa: E731
    plain = greedy_decode(RandomTarget(seed), [1, 2, 3], 30)
    fast = speculative_decode(RandomTarget(seed), [1, 2, 3], 30, k=k, drafter=drafter)
    assert fast.tokens == plain.tokens
    assert fast.drafted >= fast.accepted


def test_an_oracle_drafter_gains_k_plus_one_per_pass():
    target = RandomTarget(7)
    plain = greedy_decode(RandomTarget(7), [4], 30)
    oracle = lambda tokens, n: plain.tokens[len(tokens) - 1:len(tokens) - 1 + n]  # noqa: E731
    fast = speculative_decode(target, [4], 30, k=4, drafter=oracle)
    assert fast.tokens == plain.tokens and fast.gained == [5] * 6 and fast.acceptance_rate == 1.0


def test_stop_token_ends_both_loops_at_the_same_place():
    plain = greedy_decode(RandomTarget(3, 1), [0], 60)
    stop = plain.tokens[10]
    a = greedy_decode(RandomTarget(3, 1), [0], 60, stop_ids=[stop])
    b = speculative_decode(RandomTarget(3, 1), [0], 60, k=5, stop_ids=[stop])
    assert a.tokens == b.tokens and a.tokens[-1] == stop and sum(b.gained) == len(b.tokens)


def test_verify_rejects_a_wrong_first_token_and_corrects_it():
    logits = np.eye(6)[[2, 3, 4]]
    assert greedy_verify([5, 3], logits) == ([2], 0)
    with pytest.raises(ValueError, match="rows of logits"):
        greedy_verify([5, 3], logits[:2])


def test_ngram_prefers_the_longest_then_latest_match():
    # the 2-gram "1 2" last occurred before "8 9", but the 3-gram "9 1 2" matches at the start
    assert ngram_draft([9, 1, 2, 7, 0, 1, 2, 8, 9, 1, 2], k=2) == [7, 0]
    assert ngram_draft([9, 1, 2, 7, 0, 1, 2, 8, 9, 1, 2], k=2, max_ngram=2) == [8, 9]
    assert ngram_draft([1, 2, 7, 1, 2, 8, 1, 2], k=1, max_ngram=2) == [8]
    assert ngram_draft([3, 3, 3], k=2) == [3]  # only one token follows the match
    assert ngram_draft([], k=3) == [] and ngram_draft([5], k=3) == []


@pytest.mark.parametrize("alpha,k,expected", [(0.0, 3, 1.0), (1.0, 3, 4.0), (0.8, 4, 3.3616), (0.5, 1, 1.5)])
def test_expected_tokens_per_step(alpha, k, expected):
    assert expected_tokens_per_step(alpha, k) == pytest.approx(expected)
    if 0 < alpha < 1:
        assert acceptance_from_tokens_per_step(expected, k) == pytest.approx(alpha, abs=1e-6)


def test_expected_tokens_reject_impossible_inputs():
    with pytest.raises(ValueError, match="probability"):
        expected_tokens_per_step(1.2, 4)
    with pytest.raises(ValueError, match="lie in"):
        acceptance_from_tokens_per_step(6.0, 4)
