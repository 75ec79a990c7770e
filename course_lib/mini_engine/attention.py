"""Attention two ways: over contiguous K/V, and PagedAttention over a block table.

``attention`` is the textbook causal attention with grouped-query heads (several
query heads share one K/V head). ``paged_attention`` computes the same thing while
reading K/V block by block through a sequence's block table, as vLLM's kernel does:
the blocks may sit anywhere in the pool, and an online softmax (running max and sum)
means no block is ever copied next to another. Taught in notebook 05.
"""

from __future__ import annotations

import numpy as np


def _grouped(q: np.ndarray, num_kv_heads: int) -> np.ndarray:
    """[T, H, D] queries -> [KVH, H/KVH, T, D]: query head h reads K/V head h // group."""
    t, h, d = q.shape
    return q.reshape(t, num_kv_heads, h // num_kv_heads, d).transpose(1, 2, 0, 3)


def _ungrouped(out: np.ndarray) -> np.ndarray:
    """[KVH, G, T, D] -> [T, H*D], the layout the output projection reads."""
    kvh, g, t, d = out.shape
    return out.transpose(2, 0, 1, 3).reshape(t, kvh * g * d)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, q_positions: np.ndarray) -> np.ndarray:
    """Causal attention of queries [T, H, D] at ``q_positions`` over keys/values
    [N, KVH, D] at positions 0..N-1; returns [T, H*D]."""
    qg = _grouped(q, k.shape[1])
    scores = qg @ k.transpose(1, 2, 0)[:, None] / np.sqrt(q.shape[-1])
    future = np.arange(k.shape[0])[None, :] > q_positions[:, None]
    scores = np.where(future, -np.inf, scores)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return _ungrouped(weights @ v.transpose(1, 0, 2)[:, None])


def paged_attention(
    q: np.ndarray,
    k_pool: np.ndarray,
    v_pool: np.ndarray,
    block_table: list[int],
    q_positions: np.ndarray,
    context_len: int,
) -> np.ndarray:
    """The same result as ``attention``, with K/V read from pool blocks
    [num_blocks, block_size, KVH, D] in the order the block table lists them."""
    block_size = k_pool.shape[1]
    qg = _grouped(q, k_pool.shape[2]) / np.sqrt(q.shape[-1])
    running_max = np.full(qg.shape[:3] + (1,), -np.inf, dtype=q.dtype)
    running_sum = np.zeros_like(running_max)
    acc = np.zeros_like(qg)
    for i, block in enumerate(block_table[: -(-context_len // block_size)]):
        n = min(block_size, context_len - i * block_size)
        scores = qg @ k_pool[block, :n].transpose(1, 2, 0)[:, None]
        future = i * block_size + np.arange(n)[None, :] > q_positions[:, None]
        scores = np.where(future, -np.inf, scores)
        new_max = np.maximum(running_max, scores.max(axis=-1, keepdims=True))
        weights = np.exp(scores - new_max)
        rescale = np.exp(running_max - new_max)
        running_sum = running_sum * rescale + weights.sum(axis=-1, keepdims=True)
        acc = acc * rescale + weights @ v_pool[block, :n].transpose(1, 0, 2)[:, None]
        running_max = new_max
    return _ungrouped(acc / running_sum)
